//! mk-es against the real emulator: each test in its own account, with its
//! own client name. The emulator makes domains ready at once, so waiting is
//! exercised by the unit tests of `plan::readiness`; here a run that waits
//! must still finish and report the endpoint.

use analytics_tests::{Account, ToolRun, run, unique_client};
use aws_sdk_opensearch::Client;
use aws_sdk_opensearch::types::{DomainStatus, EbsOptions, Tag};
use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_mk-es");

async fn es(account: &Account) -> Client {
    Client::new(&account.sdk().await)
}

fn mk(account: &Account, args: &[&str]) -> ToolRun {
    run(account.command(BIN).args(args))
}

/// Makes the user mk-iam would make, and returns its ARN.
async fn es_user(account: &Account, client: &str) -> String {
    let iam = aws_sdk_iam::Client::new(&account.sdk().await);
    let out = iam.create_user().user_name(format!("{client}-analytics-elasticsearch")).send().await.unwrap();
    out.user().unwrap().arn().to_owned()
}

async fn describe(es: &Client, name: &str) -> Option<DomainStatus> {
    es.describe_domain().domain_name(name).send().await.ok().and_then(|o| o.domain_status().cloned())
}

async fn tags(es: &Client, arn: &str) -> Vec<(String, String)> {
    let out = es.list_tags().arn(arn).send().await.unwrap();
    out.tag_list().iter().map(|t| (t.key().to_owned(), t.value().to_owned())).collect()
}

fn policy(s: &DomainStatus) -> Value {
    serde_json::from_str(s.access_policies().unwrap()).unwrap()
}

fn grantees(s: &DomainStatus) -> Vec<String> {
    let p = policy(s);
    let mut v: Vec<String> = match &p["Statement"][0]["Principal"]["AWS"] {
        Value::String(one) => vec![one.clone()],
        Value::Array(many) => many.iter().map(|x| x.as_str().unwrap().to_owned()).collect(),
        other => panic!("unexpected principal {other}"),
    };
    v.sort();
    v
}

fn has_finding(r: &ToolRun, needle: &str) -> bool {
    r.json["findings"].as_array().unwrap().iter().any(|f| f["message"].as_str().unwrap().contains(needle))
}

#[tokio::test]
async fn dry_run_on_an_empty_account_creates_nothing() {
    let a = Account::fresh().await;
    let c = unique_client("e");
    es_user(&a, &c).await;
    let r = mk(&a, &["--client", &c, "--dry-run"]).ok();
    let name = format!("{c}-analytics-es");
    assert_eq!(r.action("opensearch-domain", &name), "would-create");
    assert_eq!(r.mutating(), 0);
    assert_eq!(r.json["dry_run"], true);
    assert_eq!(r.json["outputs"]["domain_arn"], format!("arn:aws:es:us-east-1:{}:domain/{name}", a.id));
    assert!(r.json["outputs"].get("endpoint").is_none(), "no endpoint before the domain exists");
    assert!(describe(&es(&a).await, &name).await.is_none());
}

#[tokio::test]
async fn creates_the_domain_with_every_setting_and_reruns_unchanged() {
    let a = Account::fresh().await;
    let c = unique_client("e");
    let user = es_user(&a, &c).await;
    let name = format!("{c}-analytics-es");
    let args = ["--client", &c, "--instance-type", "t3.small", "--tag", "team=data"];
    let r = mk(&a, &args).ok();
    assert_eq!(r.action("opensearch-domain", &name), "created");
    assert_eq!(r.mutating(), 1, "one CreateDomain: {}", r.json["api_calls"]);

    let es = es(&a).await;
    let s = describe(&es, &name).await.unwrap();
    let arn = format!("arn:aws:es:us-east-1:{}:domain/{name}", a.id);
    assert_eq!(s.arn(), arn);
    assert_eq!(s.engine_version(), Some("Elasticsearch_7.10"));
    let cluster = s.cluster_config().unwrap();
    assert_eq!(cluster.instance_type().unwrap().as_str(), "t3.small.search");
    assert_eq!(cluster.instance_count(), Some(1));
    assert_eq!(cluster.dedicated_master_enabled(), Some(false));
    assert_eq!(cluster.zone_awareness_enabled(), Some(false));
    let ebs = s.ebs_options().unwrap();
    assert_eq!(ebs.ebs_enabled(), Some(true));
    assert_eq!(ebs.volume_type().unwrap().as_str(), "gp3");
    assert_eq!(ebs.volume_size(), Some(10));
    assert_eq!(s.snapshot_options().unwrap().automated_snapshot_start_hour(), Some(0));
    assert_eq!(s.advanced_options().unwrap()["rest.action.multi.allow_explicit_index"], "true");
    assert_eq!(s.encryption_at_rest_options().unwrap().enabled(), Some(true));
    assert_eq!(s.node_to_node_encryption_options().unwrap().enabled(), Some(true));
    let ep = s.domain_endpoint_options().unwrap();
    assert_eq!(ep.enforce_https(), Some(true));
    assert_eq!(ep.tls_security_policy().unwrap().as_str(), "Policy-Min-TLS-1-2-2019-07");
    assert_eq!(
        policy(&s),
        json!({"Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Principal": {"AWS": [user]}, "Action": "es:*", "Resource": format!("{arn}/*")}]})
    );
    let t = tags(&es, &arn).await;
    for tag in [("analytics:client", c.as_str()), ("analytics:managed-by", "mk-es"), ("team", "data")] {
        assert!(t.contains(&(tag.0.to_owned(), tag.1.to_owned())), "{tag:?} in {t:?}");
    }

    let out = &r.json["outputs"];
    assert_eq!(out["endpoint"], format!("https://{}", s.endpoint().unwrap()));
    assert_eq!(out["domain_arn"], arn);
    assert_eq!(out["domain_name"], name);
    assert_eq!(out["region"], "us-east-1");
    assert_eq!(out["engine_version"], "Elasticsearch_7.10");

    let again = mk(&a, &args).ok().all_unchanged();
    assert_eq!(again.json["outputs"], r.json["outputs"]);
    mk(&a, &[&args[..], &["--dry-run"]].concat()).ok().all_unchanged();
    // --no-wait on a ready domain is just as quiet.
    mk(&a, &[&args[..], &["--no-wait"]].concat()).ok().all_unchanged();
}

/// The default type is t3.small.search (AWS takes no T2 type for a new
/// domain any more): every protection on, no finding. The runbook's T2 is
/// refused before any call, naming it.
#[tokio::test]
async fn the_default_type_is_t3_small_with_every_protection_and_t2_is_refused() {
    let a = Account::fresh().await;
    let c = unique_client("e");
    es_user(&a, &c).await;
    let r = mk(&a, &["--client", &c]).ok();
    assert_eq!(r.json["findings"], json!([]));
    let s = describe(&es(&a).await, &format!("{c}-analytics-es")).await.unwrap();
    assert_eq!(s.cluster_config().unwrap().instance_type().unwrap().as_str(), "t3.small.search");
    assert_eq!(s.ebs_options().unwrap().volume_type().unwrap().as_str(), "gp3");
    assert_eq!(s.encryption_at_rest_options().unwrap().enabled(), Some(true));
    assert_eq!(s.node_to_node_encryption_options().unwrap().enabled(), Some(true));
    assert_eq!(s.domain_endpoint_options().unwrap().enforce_https(), Some(true));
    mk(&a, &["--client", &c]).ok().all_unchanged();
    let refused = mk(&a, &["--client", &c, "--instance-type", "t2.small"]).bad_input("t2.small.search");
    assert!(refused.stderr.contains("choose t3.small.search"), "{}", refused.stderr);
}

#[tokio::test]
async fn elasticsearch_1_5_is_accepted_with_a_warning() {
    let a = Account::fresh().await;
    let c = unique_client("e");
    es_user(&a, &c).await;
    let r = mk(&a, &["--client", &c, "--engine-version", "Elasticsearch_1.5"]).ok();
    let warning = r.json["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["message"].as_str().unwrap().contains("end of AWS support"))
        .unwrap_or_else(|| panic!("no end-of-support warning in {}", r.json["findings"]));
    assert_eq!(warning["severity"], "warning");
    assert_eq!(r.json["outputs"]["engine_version"], "Elasticsearch_1.5");
    let s = describe(&es(&a).await, &format!("{c}-analytics-es")).await.unwrap();
    assert_eq!(s.engine_version(), Some("Elasticsearch_1.5"));
    assert_eq!(s.encryption_at_rest_options().unwrap().enabled(), Some(false));
    assert_eq!(s.node_to_node_encryption_options().unwrap().enabled(), Some(false));
    mk(&a, &["--client", &c, "--engine-version", "Elasticsearch_1.5"]).ok().all_unchanged();
}

#[tokio::test]
async fn explicit_grantees_need_no_user_and_never_star() {
    let a = Account::fresh().await;
    let c = unique_client("e");
    let role = format!("arn:aws:iam::{}:role/EMR_EC2_DefaultRole", a.id);
    let user = format!("arn:aws:iam::{}:user/reader", a.id);
    let r = mk(&a, &["--client", &c, "--grant-arn", &role, "--grant-arn", &user]).ok();
    let s = describe(&es(&a).await, &format!("{c}-analytics-es")).await.unwrap();
    let mut want = vec![role.clone(), user.clone()];
    want.sort();
    assert_eq!(grantees(&s), want);
    assert!(!s.access_policies().unwrap().contains("\"*\""));
    assert_eq!(r.json["api_calls"]["by_operation"].get("IAM.GetUser"), None, "no user lookup with --grant-arn");
}

#[tokio::test]
async fn a_missing_elasticsearch_user_fails_clearly() {
    let a = Account::fresh().await;
    let c = unique_client("e");
    let r = mk(&a, &["--client", &c]);
    assert_eq!(r.status, 1, "{}", r.stderr);
    let line = r.stderr.lines().find(|l| l.starts_with("error:")).unwrap();
    assert!(line.contains(&format!("{c}-analytics-elasticsearch")) && line.contains("mk-iam"), "{line}");
    assert_eq!(r.mutating(), 0);
    assert!(describe(&es(&a).await, &format!("{c}-analytics-es")).await.is_none());
}

#[tokio::test]
async fn drift_is_corrected_section_by_section() {
    let a = Account::fresh().await;
    let c = unique_client("e");
    es_user(&a, &c).await;
    let name = format!("{c}-analytics-es");
    mk(&a, &["--client", &c]).ok();
    let es = es(&a).await;
    let before = describe(&es, &name).await.unwrap();

    // By hand: a bigger volume, and a policy granting someone else.
    let stranger = format!("arn:aws:iam::{}:user/stranger", a.id);
    let mut foreign = policy(&before);
    foreign["Statement"][0]["Principal"]["AWS"] = json!([stranger]);
    es.update_domain_config()
        .domain_name(&name)
        .ebs_options(EbsOptions::builder().ebs_enabled(true).volume_type("gp2".into()).volume_size(20).build())
        .access_policies(foreign.to_string())
        .send()
        .await
        .unwrap();

    let dry = mk(&a, &["--client", &c, "--dry-run"]).ok();
    assert_eq!(dry.action("opensearch-domain", &name), "would-update");
    assert_eq!(dry.mutating(), 0);
    assert_eq!(describe(&es, &name).await.unwrap().ebs_options().unwrap().volume_size(), Some(20));

    let r = mk(&a, &["--client", &c]).ok();
    assert_eq!(r.action("opensearch-domain", &name), "updated");
    let details: Vec<&str> =
        r.json["changes"][0]["details"].as_array().unwrap().iter().map(|d| d.as_str().unwrap()).collect();
    assert_eq!(details, ["EBS volume", "access policy"]);
    assert_eq!(r.mutating(), 1, "one UpdateDomainConfig: {}", r.json["api_calls"]);
    let after = describe(&es, &name).await.unwrap();
    assert_eq!(after.ebs_options().unwrap().volume_size(), Some(10));
    assert_eq!(policy(&after), policy(&before));
    // Sections not sent are as they were.
    assert_eq!(after.cluster_config(), before.cluster_config());
    assert_eq!(after.domain_endpoint_options(), before.domain_endpoint_options());
    assert_eq!(after.advanced_options(), before.advanced_options());
    mk(&a, &["--client", &c]).ok().all_unchanged();
}

#[tokio::test]
async fn missing_tags_are_added_and_a_stranger_s_domain_is_adopted_untouched() {
    let a = Account::fresh().await;
    let c = unique_client("e");
    es_user(&a, &c).await;
    let es = es(&a).await;
    mk(&a, &["--client", &c]).ok();
    let r = mk(&a, &["--client", &c, "--tag", "owner=ops"]).ok();
    assert_eq!(r.action("opensearch-domain", &format!("{c}-analytics-es")), "updated");
    let arn = r.json["outputs"]["domain_arn"].as_str().unwrap();
    assert!(tags(&es, arn).await.contains(&("owner".into(), "ops".into())));

    // A same-name domain made by hand, without our tags.
    let c2 = unique_client("e");
    es_user(&a, &c2).await;
    let manual = format!("{c2}-analytics-es");
    es.create_domain().domain_name(&manual).engine_version("Elasticsearch_7.10").send().await.unwrap();
    let r = mk(&a, &["--client", &c2]).ok();
    assert_eq!(r.action("opensearch-domain", &manual), "unchanged");
    assert_eq!(r.mutating(), 0);
    assert!(has_finding(&r, "adopted"), "{}", r.json["findings"]);
    let s = describe(&es, &manual).await.unwrap();
    assert!(s.access_policies().unwrap_or_default().is_empty(), "an adopted domain is not changed");
}

#[tokio::test]
async fn destroy_deletes_only_this_client_s_tagged_domain() {
    let a = Account::fresh().await;
    let (c, other, stranger) = (unique_client("e"), unique_client("e"), unique_client("e"));
    for client in [&c, &other] {
        es_user(&a, client).await;
        mk(&a, &["--client", client]).ok();
    }
    let es = es(&a).await;
    let untagged = format!("{stranger}-analytics-es");
    es.create_domain()
        .domain_name(&untagged)
        .engine_version("Elasticsearch_7.10")
        .tag_list(Tag::builder().key("team").value("search").build().unwrap())
        .send()
        .await
        .unwrap();
    let name = format!("{c}-analytics-es");

    let dry = mk(&a, &["--client", &c, "--destroy", "--dry-run"]).ok();
    assert_eq!(dry.action("opensearch-domain", &name), "would-delete");
    assert_eq!(dry.mutating(), 0);
    assert!(describe(&es, &name).await.is_some());

    let d = mk(&a, &["--client", &c, "--destroy"]).ok();
    assert_eq!(d.action("opensearch-domain", &name), "deleted");
    assert!(describe(&es, &name).await.is_none());
    assert!(describe(&es, &format!("{other}-analytics-es")).await.is_some(), "another client's domain stays");

    let left = mk(&a, &["--client", &stranger, "--destroy"]).ok();
    assert_eq!(left.json["changes"].as_array().unwrap().len(), 0);
    assert_eq!(left.mutating(), 0);
    assert!(has_finding(&left, "left alone"));
    assert!(describe(&es, &untagged).await.is_some(), "an untagged domain is never deleted");

    let again = mk(&a, &["--client", &c, "--destroy"]).ok();
    assert_eq!(again.json["changes"].as_array().unwrap().len(), 0);
    assert_eq!(again.mutating(), 0);
}

#[tokio::test]
async fn bad_input_exits_2_before_any_call() {
    let a = Account::fresh().await;
    let c = unique_client("e");
    let long = "a-client-name-too-long";
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["--client", &c, "--engine-version", "7.10"], "--engine-version"),
        (vec!["--client", &c, "--engine-version", "Elasticsearch_seven"], "--engine-version"),
        (vec!["--client", long], "--domain-name"),
        (vec!["--client", &c, "--domain-name", "Bad_Name"], "--domain-name"),
        (vec!["--client", &c, "--grant-arn", "*"], "never grants"),
        (vec!["--client", &c, "--grant-arn", "arn:aws:s3:::bucket"], "--grant-arn"),
        (vec!["--client", &c, "--instance-type", "large"], "--instance-type"),
        (vec!["--client", &c, "--instance-type", "t2.micro"], "t2.micro"),
        (vec!["--client", &c, "--volume-gb", "5"], "--volume-gb"),
        (vec!["--client", &c, "--timeout", "0"], "--timeout"),
        (vec!["--client", "Bad"], "invalid client name"),
    ];
    for (args, needle) in cases {
        let r = mk(&a, &args).bad_input(needle);
        if !r.stdout.is_empty() {
            assert_eq!(r.total(), 0, "{args:?}: no call at all for input checks");
        }
    }
    // Another deployment's domain under an overriding name is refused.
    let other = unique_client("e");
    es_user(&a, &other).await;
    mk(&a, &["--client", &other]).ok();
    es_user(&a, &c).await;
    let r = mk(&a, &["--client", &c, "--domain-name", &format!("{other}-analytics-es")]).bad_input(&other);
    assert_eq!(r.mutating(), 0);
}
