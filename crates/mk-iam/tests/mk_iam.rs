//! mk-iam against the emulator: each test in an AWS account of its own,
//! with a secrets directory of its own, reading the result back with the
//! IAM API as a user would.

use std::path::PathBuf;

use analytics_tests::{Account, ToolRun, mode, run, unique_client};
use aws_sdk_iam::Client;
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_mk-iam");

struct Env {
    account: Account,
    client: String,
    secrets: tempfile::TempDir,
    iam: Client,
    /// Every run's stdout and stderr, checked for secrets at the end.
    seen: Vec<String>,
}

impl Env {
    async fn new(prefix: &str) -> Env {
        let account = Account::fresh().await;
        let iam = Client::new(&account.sdk().await);
        Env { account, client: unique_client(prefix), secrets: tempfile::tempdir().unwrap(), iam, seen: Vec::new() }
    }

    fn secrets_dir(&self) -> PathBuf {
        self.secrets.path().join("secrets")
    }

    /// Runs mk-iam for `client` with this test's secrets directory.
    fn mk_for(&mut self, client: &str, extra: &[&str]) -> ToolRun {
        let mut cmd = self.account.command(BIN);
        cmd.args(["--client", client, "--secrets-dir"]).arg(self.secrets_dir()).args(extra);
        let r = run(&mut cmd);
        self.seen.push(r.stdout.clone());
        self.seen.push(r.stderr.clone());
        r
    }

    fn mk(&mut self, extra: &[&str]) -> ToolRun {
        let client = self.client.clone();
        self.mk_for(&client, extra)
    }

    fn name(&self, suffix: &str) -> String {
        format!("{}-{suffix}", self.client)
    }

    fn policy_arn(&self, suffix: &str) -> String {
        format!("arn:aws:iam::{}:policy/{}", self.account.id, self.name(suffix))
    }

    fn key_file(&self, user: &str) -> PathBuf {
        self.secrets_dir().join(format!("{user}.access-key.json"))
    }

    fn stored_key(&self, user: &str) -> Value {
        serde_json::from_str(&std::fs::read_to_string(self.key_file(user)).unwrap()).unwrap()
    }

    /// No secret of any key ever written appears in any run's output.
    fn assert_no_secret_shown(&self, secrets: &[String]) {
        for s in secrets {
            assert!(s.len() >= 20, "not a secret: {s:?}");
            assert!(!self.seen.iter().any(|out| out.contains(s.as_str())), "a secret access key was printed");
        }
    }

    async fn role_exists(&self, name: &str) -> bool {
        match self.iam.get_role().role_name(name).send().await {
            Ok(_) => true,
            Err(e)
                if e.as_service_error()
                    .is_some_and(aws_sdk_iam::operation::get_role::GetRoleError::is_no_such_entity_exception) =>
            {
                false
            }
            Err(e) => panic!("GetRole {name}: {e:?}"),
        }
    }

    async fn user_exists(&self, name: &str) -> bool {
        match self.iam.get_user().user_name(name).send().await {
            Ok(_) => true,
            Err(e)
                if e.as_service_error()
                    .is_some_and(aws_sdk_iam::operation::get_user::GetUserError::is_no_such_entity_exception) =>
            {
                false
            }
            Err(e) => panic!("GetUser {name}: {e:?}"),
        }
    }

    async fn policy_exists(&self, arn: &str) -> bool {
        match self.iam.get_policy().policy_arn(arn).send().await {
            Ok(_) => true,
            Err(e)
                if e.as_service_error()
                    .is_some_and(aws_sdk_iam::operation::get_policy::GetPolicyError::is_no_such_entity_exception) =>
            {
                false
            }
            Err(e) => panic!("GetPolicy {arn}: {e:?}"),
        }
    }

    async fn profile_roles(&self, name: &str) -> Option<Vec<String>> {
        match self.iam.get_instance_profile().instance_profile_name(name).send().await {
            Ok(p) => Some(p.instance_profile().unwrap().roles().iter().map(|r| r.role_name().to_owned()).collect()),
            Err(e)
                if e.as_service_error().is_some_and(
                    aws_sdk_iam::operation::get_instance_profile::GetInstanceProfileError::is_no_such_entity_exception,
                ) =>
            {
                None
            }
            Err(e) => panic!("GetInstanceProfile {name}: {e:?}"),
        }
    }

    async fn attached(&self, role: &str) -> Vec<String> {
        let out = self.iam.list_attached_role_policies().role_name(role).send().await.unwrap();
        out.attached_policies().iter().map(|p| p.policy_name().unwrap().to_owned()).collect()
    }

    /// (id, active) of each of the user's keys.
    async fn keys(&self, user: &str) -> Vec<(String, bool)> {
        let out = self.iam.list_access_keys().user_name(user).send().await.unwrap();
        out.access_key_metadata()
            .iter()
            .map(|k| {
                (k.access_key_id().unwrap().to_owned(), k.status() == Some(&aws_sdk_iam::types::StatusType::Active))
            })
            .collect()
    }

    async fn default_document(&self, arn: &str) -> Value {
        let p = self.iam.get_policy().policy_arn(arn).send().await.unwrap();
        let version = p.policy().unwrap().default_version_id().unwrap();
        let v = self.iam.get_policy_version().policy_arn(arn).version_id(version).send().await.unwrap();
        document(v.policy_version().unwrap().document().unwrap())
    }
}

/// IAM returns documents URL-encoded (the emulator, in some calls, not).
fn document(text: &str) -> Value {
    serde_json::from_str(text)
        .unwrap_or_else(|_| serde_json::from_str(&urlencoding::decode(text).unwrap()).expect("a JSON policy document"))
}

fn list(v: &Value) -> Vec<&str> {
    match v {
        Value::Array(a) => a.iter().map(|x| x.as_str().unwrap()).collect(),
        other => vec![other.as_str().unwrap()],
    }
}

fn changes_with(r: &ToolRun, action: &str) -> Vec<String> {
    r.actions().into_iter().filter(|a| a.ends_with(&format!(" {action}"))).collect()
}

#[tokio::test]
async fn dry_run_on_an_empty_account_creates_nothing() {
    let mut env = Env::new("iamdry").await;
    let r = env.mk(&["--reports", "--dry-run"]).ok();
    assert_eq!(r.mutating(), 0);
    assert_eq!(r.json["dry_run"], true);
    assert_eq!(r.action("iam-role", &env.name("edxanalytics")), "would-create");
    assert_eq!(r.action("iam-access-key", &env.name("analytics-reports")), "would-create");
    assert_eq!(r.action("iam-role", "EMR_DefaultRole"), "would-create");
    assert!(r.actions().iter().all(|a| a.ends_with(" would-create")), "{:?}", r.actions());
    assert!(!env.role_exists(&env.name("edxanalytics")).await);
    assert!(!env.role_exists("EMR_DefaultRole").await);
    assert!(!env.user_exists(&env.name("analytics-elasticsearch")).await);
    assert!(!env.policy_exists(&env.policy_arn("provision-emr-clusters")).await);
    assert_eq!(env.profile_roles(&env.name("edxanalytics")).await, None);
    assert!(!env.secrets_dir().exists(), "dry-run writes no secrets");
}

#[tokio::test]
async fn first_run_creates_everything_and_a_rerun_changes_nothing() {
    let mut env = Env::new("iamfull").await;
    let r = env.mk(&["--reports", "--tag", "team=data"]).ok();
    assert!(r.actions().iter().all(|a| a.ends_with(" created")), "{:?}", r.actions());
    assert!(r.json["findings"].as_array().unwrap().is_empty(), "{}", r.json["findings"]);

    // Policies: the runbook's actions, the current version.
    let provision = env.default_document(&env.policy_arn("provision-emr-clusters")).await;
    assert_eq!(provision["Version"], "2012-10-17");
    assert_eq!(
        list(&provision["Statement"][0]["Action"]),
        [
            "elasticmapreduce:*",
            "iam:PassRole",
            "route53:Get*",
            "route53:List*",
            "ec2:DescribeInstances",
            "rds:DescribeDBInstances"
        ]
    );
    assert_eq!(provision["Statement"][0]["Resource"], "*");
    let es = env.default_document(&env.policy_arn("elasticsearch-all")).await;
    assert_eq!(list(&es["Statement"][0]["Action"]), ["es:*"]);

    // Roles: trust, attachments; profiles hold their roles.
    let role = env.iam.get_role().role_name(env.name("edxanalytics")).send().await.unwrap();
    let role = role.role().unwrap();
    let trust = document(role.assume_role_policy_document().unwrap());
    assert_eq!(trust["Statement"][0]["Principal"]["Service"], "ec2.amazonaws.com");
    let tags: Vec<(&str, &str)> = role.tags().iter().map(|t| (t.key(), t.value())).collect();
    assert!(tags.contains(&("analytics:client", env.client.as_str())), "{tags:?}");
    assert!(tags.contains(&("analytics:managed-by", "mk-iam")) && tags.contains(&("team", "data")), "{tags:?}");
    let emr = env.iam.get_role().role_name("EMR_DefaultRole").send().await.unwrap();
    let emr_trust = document(emr.role().unwrap().assume_role_policy_document().unwrap());
    assert_eq!(emr_trust["Statement"][0]["Principal"]["Service"], "elasticmapreduce.amazonaws.com");
    assert!(emr.role().unwrap().tags().is_empty(), "shared roles carry no client tag");
    assert_eq!(env.attached(&env.name("edxanalytics")).await, [env.name("provision-emr-clusters")]);
    assert_eq!(env.attached("EMR_DefaultRole").await, ["AmazonElasticMapReduceRole"]);
    let mut ec2 = env.attached("EMR_EC2_DefaultRole").await;
    ec2.sort();
    assert_eq!(ec2, ["AmazonElasticMapReduceforEC2Role".to_owned(), env.name("elasticsearch-all")]);
    assert_eq!(env.profile_roles(&env.name("edxanalytics")).await, Some(vec![env.name("edxanalytics")]));
    assert_eq!(env.profile_roles("EMR_EC2_DefaultRole").await, Some(vec!["EMR_EC2_DefaultRole".to_owned()]));

    // Users: tags, the reports policy, one active key each, stored.
    let reports_user = env.name("analytics-reports");
    let user = env.iam.get_user().user_name(&reports_user).send().await.unwrap();
    assert!(user.user().unwrap().tags().iter().any(|t| t.key() == "analytics:client" && t.value() == env.client));
    let inline = env
        .iam
        .get_user_policy()
        .user_name(&reports_user)
        .policy_name("s3-read-analytics-reports")
        .send()
        .await
        .unwrap();
    let inline = document(inline.policy_document());
    let bucket = env.name("analytics-api-reports");
    assert_eq!(list(&inline["Statement"][0]["Action"]), ["s3:Get*", "s3:List*"]);
    assert_eq!(
        list(&inline["Statement"][0]["Resource"]),
        [format!("arn:aws:s3:::{bucket}"), format!("arn:aws:s3:::{bucket}/*")]
    );
    let mut secrets = Vec::new();
    for (key, user) in [("elasticsearch", env.name("analytics-elasticsearch")), ("reports", reports_user.clone())] {
        let file = env.key_file(&user);
        assert_eq!(mode(&file), 0o600);
        let stored = env.stored_key(&user);
        assert_eq!(stored["user"], user.as_str());
        let id = stored["access_key_id"].as_str().unwrap().to_owned();
        assert_eq!(env.keys(&user).await, [(id.clone(), true)]);
        let out = &r.json["outputs"]["users"][key];
        assert_eq!(out["name"], user.as_str());
        assert_eq!(out["access_key_id"], id.as_str());
        assert_eq!(out["access_key_file"], file.display().to_string());
        assert_eq!(out["arn"], format!("arn:aws:iam::{}:user/{user}", env.account.id));
        secrets.push(stored["secret_access_key"].as_str().unwrap().to_owned());
    }
    assert_eq!(mode(env.secrets_dir()), 0o700);

    // Outputs later steps read.
    let out = &r.json["outputs"];
    assert_eq!(out["account_id"], env.account.id.as_str());
    assert_eq!(out["policies"]["provision_emr_clusters"], env.policy_arn("provision-emr-clusters"));
    assert_eq!(out["policies"]["elasticsearch_all"], env.policy_arn("elasticsearch-all"));
    assert_eq!(
        out["roles"]["edxanalytics"],
        format!("arn:aws:iam::{}:role/{}", env.account.id, env.name("edxanalytics"))
    );
    assert_eq!(out["roles"]["emr_default"], format!("arn:aws:iam::{}:role/EMR_DefaultRole", env.account.id));
    assert_eq!(out["roles"]["emr_ec2_default"], format!("arn:aws:iam::{}:role/EMR_EC2_DefaultRole", env.account.id));
    assert_eq!(out["instance_profiles"]["edxanalytics"], env.name("edxanalytics"));
    assert_eq!(out["instance_profiles"]["emr_ec2_default"], "EMR_EC2_DefaultRole");
    assert_eq!(out["reports_bucket"], bucket.as_str());

    // Converged: nothing to do, with or without --reports, and no new key.
    let again = env.mk(&["--reports", "--tag", "team=data"]).ok().all_unchanged();
    assert!(again.json["findings"].as_array().unwrap().is_empty(), "{}", again.json["findings"]);
    assert_eq!(again.json["outputs"]["users"], r.json["outputs"]["users"]);
    let without = env.mk(&["--tag", "team=data"]).ok().all_unchanged();
    assert!(without.json["outputs"]["users"].get("reports").is_none());
    assert!(without.json["outputs"].get("reports_bucket").is_none());
    env.mk(&["--reports", "--tag", "team=data", "--dry-run"]).ok().all_unchanged();
    for user in [env.name("analytics-elasticsearch"), reports_user] {
        assert_eq!(env.keys(&user).await.len(), 1, "still one key for {user}");
    }
    env.assert_no_secret_shown(&secrets);
}

#[tokio::test]
async fn drift_is_detected_and_corrected() {
    let mut env = Env::new("iamdrift").await;
    env.mk(&[]).ok();
    let es_arn = env.policy_arn("elasticsearch-all");
    let role = env.name("edxanalytics");
    // By hand: another default document, a detached policy, an empty profile,
    // another trust policy.
    env.iam
        .create_policy_version()
        .policy_arn(&es_arn)
        .policy_document(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}"#)
        .set_as_default(true)
        .send()
        .await
        .unwrap();
    env.iam
        .detach_role_policy()
        .role_name(&role)
        .policy_arn(env.policy_arn("provision-emr-clusters"))
        .send()
        .await
        .unwrap();
    env.iam.remove_role_from_instance_profile().instance_profile_name(&role).role_name(&role).send().await.unwrap();
    env.iam
        .update_assume_role_policy()
        .role_name(&role)
        .policy_document(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#)
        .send()
        .await
        .unwrap();

    let dry = env.mk(&["--dry-run"]).ok();
    assert_eq!(dry.mutating(), 0);
    assert_eq!(dry.action("iam-policy", &env.name("elasticsearch-all")), "would-update");
    assert_eq!(
        dry.action("iam-role-policy-attachment", &format!("{role}/{}", env.name("provision-emr-clusters"))),
        "would-create"
    );
    assert_eq!(dry.action("iam-instance-profile", &role), "would-update");
    assert_eq!(dry.action("iam-role", &role), "would-update");
    assert_eq!(
        changes_with(&dry, "would-update").len() + changes_with(&dry, "would-create").len(),
        4,
        "{:?}",
        dry.actions()
    );

    let fix = env.mk(&[]).ok();
    assert_eq!(fix.action("iam-policy", &env.name("elasticsearch-all")), "updated");
    let es = env.default_document(&es_arn).await;
    assert_eq!(list(&es["Statement"][0]["Action"]), ["es:*"]);
    assert_eq!(env.attached(&role).await, [env.name("provision-emr-clusters")]);
    assert_eq!(env.profile_roles(&role).await, Some(vec![role.clone()]));
    let trust = env.iam.get_role().role_name(&role).send().await.unwrap();
    let trust = document(trust.role().unwrap().assume_role_policy_document().unwrap());
    assert_eq!(trust["Statement"][0]["Principal"]["Service"], "ec2.amazonaws.com");
    env.mk(&[]).ok().all_unchanged();

    // Scoping the search policy to a domain is an update too; at five
    // versions the oldest other one makes room.
    for _ in 0..2 {
        env.iam
            .create_policy_version()
            .policy_arn(&es_arn)
            .policy_document(
                r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"es:ESHttpGet","Resource":"*"}]}"#,
            )
            .send()
            .await
            .unwrap();
    }
    let domain = format!("arn:aws:es:us-east-1:{}:domain/{}-es", env.account.id, env.client);
    let scoped = env.mk(&["--es-domain-arn", &domain]).ok();
    assert_eq!(scoped.action("iam-policy", &env.name("elasticsearch-all")), "updated");
    let es = env.default_document(&es_arn).await;
    assert_eq!(list(&es["Statement"][0]["Resource"]), [domain.clone(), format!("{domain}/*")]);
    let versions = env.iam.list_policy_versions().policy_arn(&es_arn).send().await.unwrap();
    assert_eq!(versions.versions().len(), 5);
    env.mk(&["--es-domain-arn", &domain]).ok().all_unchanged();
}

#[tokio::test]
async fn rotate_keys_replaces_the_key_and_its_file() {
    let mut env = Env::new("iamrot").await;
    env.mk(&[]).ok();
    let user = env.name("analytics-elasticsearch");
    let old = env.stored_key(&user);
    let r = env.mk(&["--rotate-keys"]).ok();
    assert_eq!(r.action("iam-access-key", &user), "updated");
    let new = env.stored_key(&user);
    let new_id = new["access_key_id"].as_str().unwrap();
    assert_ne!(new_id, old["access_key_id"].as_str().unwrap());
    assert_ne!(new["secret_access_key"], old["secret_access_key"]);
    assert_eq!(env.keys(&user).await, [(new_id.to_owned(), true)], "the old key is gone");
    assert_eq!(r.json["outputs"]["users"]["elasticsearch"]["access_key_id"], new_id);
    assert_eq!(mode(env.key_file(&user)), 0o600);
    env.mk(&[]).ok().all_unchanged();
    env.assert_no_secret_shown(&[
        old["secret_access_key"].as_str().unwrap().to_owned(),
        new["secret_access_key"].as_str().unwrap().to_owned(),
    ]);
}

#[tokio::test]
async fn a_lost_secret_is_reported_not_replaced() {
    let mut env = Env::new("iamlost").await;
    env.mk(&["--reports"]).ok();
    let user = env.name("analytics-reports");
    let old_id = env.stored_key(&user)["access_key_id"].as_str().unwrap().to_owned();
    std::fs::remove_file(env.key_file(&user)).unwrap();

    let r = env.mk(&["--reports"]).ok().all_unchanged();
    let findings = r.json["findings"].as_array().unwrap();
    assert_eq!(findings.len(), 1, "{findings:?}");
    assert_eq!(findings[0]["severity"], "warning");
    let msg = findings[0]["message"].as_str().unwrap();
    assert!(msg.contains(&user) && msg.contains("--rotate-keys"), "{msg}");
    assert!(r.stderr.contains("--rotate-keys"), "the warning is on stderr too");
    assert_eq!(env.keys(&user).await, [(old_id.clone(), true)], "no second key");
    assert!(!env.key_file(&user).exists());
    assert_eq!(r.json["outputs"]["users"]["reports"]["access_key_file"], Value::Null);

    let r = env.mk(&["--reports", "--rotate-keys"]).ok();
    assert_eq!(r.action("iam-access-key", &user), "updated");
    let new_id = env.stored_key(&user)["access_key_id"].as_str().unwrap().to_owned();
    assert_eq!(env.keys(&user).await, [(new_id, true)]);
    env.mk(&["--reports"]).ok().all_unchanged();
    let secret = env.stored_key(&user)["secret_access_key"].as_str().unwrap().to_owned();
    env.assert_no_secret_shown(&[secret]);
}

#[tokio::test]
async fn destroy_removes_only_this_clients_resources() {
    let mut env = Env::new("iamdel").await;
    let other = unique_client("iamkeep");
    env.mk(&["--reports"]).ok();
    env.mk_for(&other, &[]).ok();
    let es_user = env.name("analytics-elasticsearch");
    assert!(env.key_file(&es_user).exists());

    let dry = env.mk(&["--destroy", "--dry-run"]).ok();
    assert_eq!(dry.mutating(), 0);
    assert!(dry.actions().iter().all(|a| a.ends_with(" would-delete")), "{:?}", dry.actions());
    for (kind, name) in [
        ("iam-user", es_user.clone()),
        ("iam-user", env.name("analytics-reports")),
        ("iam-access-key", es_user.clone()),
        ("iam-instance-profile", env.name("edxanalytics")),
        ("iam-role", env.name("edxanalytics")),
        ("iam-policy", env.name("provision-emr-clusters")),
        ("iam-policy", env.name("elasticsearch-all")),
        ("iam-role-policy-attachment", format!("EMR_EC2_DefaultRole/{}", env.name("elasticsearch-all"))),
    ] {
        assert_eq!(dry.action(kind, &name), "would-delete");
    }
    assert!(env.user_exists(&es_user).await && env.key_file(&es_user).exists());

    let r = env.mk(&["--destroy"]).ok();
    assert!(r.actions().iter().all(|a| a.ends_with(" deleted")), "{:?}", r.actions());
    assert!(!env.user_exists(&es_user).await);
    assert!(!env.user_exists(&env.name("analytics-reports")).await);
    assert!(!env.role_exists(&env.name("edxanalytics")).await);
    assert_eq!(env.profile_roles(&env.name("edxanalytics")).await, None);
    assert!(!env.policy_exists(&env.policy_arn("provision-emr-clusters")).await);
    assert!(!env.policy_exists(&env.policy_arn("elasticsearch-all")).await);
    assert!(!env.key_file(&es_user).exists() && !env.key_file(&env.name("analytics-reports")).exists());

    // The shared roles stay, with the other deployment's policy.
    assert!(env.role_exists("EMR_DefaultRole").await && env.role_exists("EMR_EC2_DefaultRole").await);
    let mut ec2 = env.attached("EMR_EC2_DefaultRole").await;
    ec2.sort();
    assert_eq!(ec2, ["AmazonElasticMapReduceforEC2Role".to_owned(), format!("{other}-elasticsearch-all")]);
    assert_eq!(env.profile_roles("EMR_EC2_DefaultRole").await, Some(vec!["EMR_EC2_DefaultRole".to_owned()]));
    env.mk_for(&other, &[]).ok().all_unchanged();
    assert!(env.user_exists(&format!("{other}-analytics-elasticsearch")).await);

    // Nothing left to delete.
    let again = env.mk(&["--destroy"]).ok();
    assert!(again.actions().is_empty(), "{:?}", again.actions());
    assert_eq!(again.mutating(), 0);
}

/// Every name flag set: the resources exist under those names, with the
/// same trust and attachments as under the defaults, nothing exists under
/// a default name, the document names them, and destroy finds them.
#[tokio::test]
async fn every_name_can_be_overridden() {
    let mut env = Env::new("iamnames").await;
    let provision = env.name("ops-emr");
    let role = env.name("insights.host");
    let emr_role = env.name("emr-service");
    let emr_ec2 = env.name("emr-nodes");
    let es_policy = env.name("search+all");
    let es_user = env.name("search@api");
    let reports_user = env.name("reports=api");
    let reports_policy = "read,reports".to_owned();
    #[rustfmt::skip]
    let flags = [
        "--reports",
        "--provision-policy", &provision,
        "--instance-role", &role,
        "--emr-role", &emr_role,
        "--emr-ec2-role", &emr_ec2,
        "--es-policy", &es_policy,
        "--es-user", &es_user,
        "--reports-user", &reports_user,
        "--reports-policy", &reports_policy,
    ];
    let with = |extra: &[&'static str]| -> Vec<&str> { flags.iter().copied().chain(extra.iter().copied()).collect() };
    let account = env.account.id.clone();
    let arn = |kind: &str, name: &str| format!("arn:aws:iam::{account}:{kind}/{name}");
    let (provision_arn, es_policy_arn) = (arn("policy", &provision), arn("policy", &es_policy));

    let r = env.mk(&flags).ok();
    assert!(r.actions().iter().all(|a| a.ends_with(" created")), "{:?}", r.actions());
    assert!(r.json["findings"].as_array().unwrap().is_empty(), "{}", r.json["findings"]);

    // Under the new names: trust, tags, attachments, profiles.
    let trusted = |role: &str| {
        let iam = env.iam.clone();
        let role = role.to_owned();
        async move {
            let got = iam.get_role().role_name(&role).send().await.unwrap();
            let got = got.role().unwrap();
            let trust = document(got.assume_role_policy_document().unwrap());
            let tags: Vec<(String, String)> =
                got.tags().iter().map(|t| (t.key().to_owned(), t.value().to_owned())).collect();
            (trust["Statement"][0]["Principal"]["Service"].as_str().unwrap().to_owned(), tags)
        }
    };
    let (service, tags) = trusted(&role).await;
    assert_eq!(service, "ec2.amazonaws.com");
    assert!(tags.contains(&("analytics:client".into(), env.client.clone())), "{tags:?}");
    let (service, tags) = trusted(&emr_role).await;
    assert_eq!(service, "elasticmapreduce.amazonaws.com");
    assert!(tags.is_empty(), "a shared role, under any name, carries no client tag: {tags:?}");
    let (service, tags) = trusted(&emr_ec2).await;
    assert_eq!(service, "ec2.amazonaws.com");
    assert!(tags.is_empty(), "{tags:?}");
    assert_eq!(env.attached(&role).await, [provision.as_str()]);
    assert_eq!(env.attached(&emr_role).await, ["AmazonElasticMapReduceRole"]);
    let mut nodes = env.attached(&emr_ec2).await;
    nodes.sort();
    assert_eq!(nodes, ["AmazonElasticMapReduceforEC2Role".to_owned(), es_policy.clone()]);
    assert_eq!(env.profile_roles(&role).await, Some(vec![role.clone()]));
    assert_eq!(env.profile_roles(&emr_ec2).await, Some(vec![emr_ec2.clone()]));
    assert_eq!(list(&env.default_document(&provision_arn).await["Statement"][0]["Action"])[0], "elasticmapreduce:*");
    assert_eq!(list(&env.default_document(&es_policy_arn).await["Statement"][0]["Action"]), ["es:*"]);

    // The users, the reports user's inline policy, a key file per user.
    let inline = env.iam.list_user_policies().user_name(&reports_user).send().await.unwrap();
    assert_eq!(inline.policy_names(), [reports_policy.as_str()]);
    let doc = env.iam.get_user_policy().user_name(&reports_user).policy_name(&reports_policy).send().await.unwrap();
    let bucket = env.name("analytics-api-reports");
    assert_eq!(list(&document(doc.policy_document())["Statement"][0]["Resource"])[0], format!("arn:aws:s3:::{bucket}"));
    let mut secrets = Vec::new();
    for (key, user) in [("elasticsearch", &es_user), ("reports", &reports_user)] {
        assert!(env.user_exists(user).await, "{user}");
        let file = env.key_file(user);
        assert_eq!(mode(&file), 0o600);
        let stored = env.stored_key(user);
        assert_eq!(stored["user"], user.as_str());
        let id = stored["access_key_id"].as_str().unwrap();
        assert_eq!(env.keys(user).await, [(id.to_owned(), true)]);
        let out = &r.json["outputs"]["users"][key];
        assert_eq!(out["name"], user.as_str());
        assert_eq!(out["arn"], arn("user", user));
        assert_eq!(out["access_key_id"], id);
        assert_eq!(out["access_key_file"], file.display().to_string());
        secrets.push(stored["secret_access_key"].as_str().unwrap().to_owned());
    }

    // Nothing under a default name.
    for default in [env.name("edxanalytics"), "EMR_DefaultRole".into(), "EMR_EC2_DefaultRole".into()] {
        assert!(!env.role_exists(&default).await, "{default}");
        assert_eq!(env.profile_roles(&default).await, None, "{default}");
    }
    for default in ["provision-emr-clusters", "elasticsearch-all"] {
        assert!(!env.policy_exists(&env.policy_arn(default)).await, "{default}");
    }
    for default in [env.name("analytics-elasticsearch"), env.name("analytics-reports")] {
        assert!(!env.user_exists(&default).await, "{default}");
        assert!(!env.key_file(&default).exists(), "{default}");
    }

    // The document names what later steps read by the effective names.
    let out = &r.json["outputs"];
    assert_eq!(out["policies"]["provision_emr_clusters"], provision_arn);
    assert_eq!(out["policies"]["elasticsearch_all"], es_policy_arn);
    assert_eq!(out["roles"]["edxanalytics"], arn("role", &role));
    assert_eq!(out["roles"]["emr_default"], arn("role", &emr_role));
    assert_eq!(out["roles"]["emr_ec2_default"], arn("role", &emr_ec2));
    assert_eq!(out["instance_profiles"]["edxanalytics"], role.as_str());
    assert_eq!(out["instance_profiles"]["emr_ec2_default"], emr_ec2.as_str());

    // Converged under the same flags; dry-run agrees.
    let again = env.mk(&flags).ok().all_unchanged();
    assert!(again.json["findings"].as_array().unwrap().is_empty(), "{}", again.json["findings"]);
    assert_eq!(again.json["outputs"], r.json["outputs"]);
    env.mk(&with(&["--dry-run"])).ok().all_unchanged();

    // Destroy finds them by the same flags; the shared roles stay, without
    // our policy.
    let dry = env.mk(&with(&["--destroy", "--dry-run"])).ok();
    assert_eq!(dry.mutating(), 0);
    for (kind, name) in [
        ("iam-user", es_user.clone()),
        ("iam-user", reports_user.clone()),
        ("iam-access-key", es_user.clone()),
        ("iam-access-key", reports_user.clone()),
        ("iam-user-policy", format!("{reports_user}/{reports_policy}")),
        ("iam-instance-profile", role.clone()),
        ("iam-role", role.clone()),
        ("iam-policy", provision.clone()),
        ("iam-policy", es_policy.clone()),
        ("iam-role-policy-attachment", format!("{role}/{provision}")),
        ("iam-role-policy-attachment", format!("{emr_ec2}/{es_policy}")),
    ] {
        assert_eq!(dry.action(kind, &name), "would-delete", "{kind} {name}");
    }
    assert_eq!(dry.actions().len(), 11, "{:?}", dry.actions());
    let d = env.mk(&with(&["--destroy"])).ok();
    assert!(d.actions().iter().all(|a| a.ends_with(" deleted")), "{:?}", d.actions());
    assert_eq!(d.actions().len(), 11, "{:?}", d.actions());
    assert!(!env.role_exists(&role).await);
    assert_eq!(env.profile_roles(&role).await, None);
    assert!(!env.policy_exists(&provision_arn).await && !env.policy_exists(&es_policy_arn).await);
    for user in [&es_user, &reports_user] {
        assert!(!env.user_exists(user).await, "{user}");
        assert!(!env.key_file(user).exists(), "{user}");
    }
    assert!(env.role_exists(&emr_role).await && env.role_exists(&emr_ec2).await, "shared roles are kept");
    assert_eq!(env.attached(&emr_ec2).await, ["AmazonElasticMapReduceforEC2Role"]);
    assert_eq!(env.profile_roles(&emr_ec2).await, Some(vec![emr_ec2.clone()]));
    let findings = d.json["findings"].to_string();
    assert!(findings.contains(&format!("{emr_role} and {emr_ec2}")), "{findings}");
    let again = env.mk(&with(&["--destroy"])).ok();
    assert!(again.actions().is_empty(), "{:?}", again.actions());
    assert_eq!(again.mutating(), 0);
    env.assert_no_secret_shown(&secrets);
}

#[tokio::test]
async fn two_deployments_created_at_once_share_the_emr_roles() {
    let mut env = Env::new("iamrace").await;
    let other = unique_client("iamrace");
    let dir = env.secrets_dir();
    let start = |client: &str| {
        let mut cmd = env.account.command(BIN);
        cmd.args(["--client", client, "-q", "--secrets-dir"]).arg(&dir);
        cmd.stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped()).spawn().unwrap()
    };
    let (a, b) = (start(&env.client), start(&other));
    for child in [a, b] {
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "stderr: {}", String::from_utf8_lossy(&out.stderr));
    }
    env.mk(&[]).ok().all_unchanged();
    env.mk_for(&other, &[]).ok().all_unchanged();
    let mut ec2 = env.attached("EMR_EC2_DefaultRole").await;
    ec2.sort();
    let mut want = vec![
        "AmazonElasticMapReduceforEC2Role".to_owned(),
        env.name("elasticsearch-all"),
        format!("{other}-elasticsearch-all"),
    ];
    want.sort();
    assert_eq!(ec2, want);
}

#[tokio::test]
async fn an_untagged_same_name_role_is_left_alone() {
    let mut env = Env::new("iamforeign").await;
    let role = env.name("edxanalytics");
    env.iam
        .create_role()
        .role_name(&role)
        .assume_role_policy_document(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#)
        .send()
        .await
        .unwrap();
    let r = env.mk(&[]).ok();
    assert_eq!(r.action("iam-role", &role), "unchanged");
    let findings = r.json["findings"].to_string();
    assert!(findings.contains(&role) && findings.contains("not tagged"), "{findings}");
    assert!(env.attached(&role).await.is_empty(), "a role it did not create gets no policy");

    let d = env.mk(&["--destroy"]).ok();
    assert!(d.actions().iter().all(|a| !a.starts_with(&format!("iam-role {role} "))), "{:?}", d.actions());
    assert!(d.json["findings"].to_string().contains("not tagged"));
    assert!(env.role_exists(&role).await, "destroy leaves a role it did not create");
}

#[tokio::test]
async fn bad_input_exits_2_before_any_call() {
    let mut env = Env::new("iambad").await;
    env.mk(&["--reports", "--reports-bucket", "Not_A_Bucket"]).bad_input("--reports-bucket");
    env.mk(&["--es-domain-arn", "arn:aws:s3:::bucket"]).bad_input("--es-domain-arn");
    env.mk_for("Bad Client", &[]).bad_input("invalid client name");
    env.mk(&["--destroy", "--rotate-keys"]).bad_input("--rotate-keys");
    let long_role = "r".repeat(65);
    env.mk(&["--instance-role", &long_role]).bad_input("--instance-role");
    env.mk(&["--reports", "--reports-policy", "read/reports"]).bad_input("--reports-policy");
    env.mk(&["--es-user", "acme-analytics-reports", "--reports-user", "ACME-analytics-reports"]).bad_input("--es-user");
    // A broken key file is the operator's to fix, not the tool's to guess.
    std::fs::create_dir_all(env.secrets_dir()).unwrap();
    std::fs::write(env.key_file(&env.name("analytics-elasticsearch")), "not json").unwrap();
    let r = env.mk(&[]).bad_input("access-key.json");
    assert_eq!(r.total(), 0, "no call at all");
    assert!(!env.user_exists(&env.name("analytics-elasticsearch")).await);
}

/// A run killed between CreateAccessKey and storing the secret leaves the
/// key on AWS and its pending marker in the secrets directory. The next run
/// deletes that key (nobody holds its secret) instead of waiting for
/// --rotate-keys; dry-run says so without doing it; a key the marker lists
/// is kept; a broken marker is bad input.
#[tokio::test]
async fn a_key_left_unstored_by_an_interrupted_run_is_replaced() {
    let mut env = Env::new("iampend").await;
    env.mk(&["--reports"]).ok();
    let es = env.name("analytics-elasticsearch");
    let reports = env.name("analytics-reports");
    let dir = env.secrets_dir();
    let marker = |user: &str| dir.join(format!("{user}.access-key.pending.json"));
    assert!(!marker(&es).exists() && !marker(&reports).exists(), "no marker after a run that finished");

    // What a run killed during --rotate-keys leaves: the old key (stored),
    // a marker listing it, and a new key whose secret went with the run.
    let kept = env.stored_key(&es)["access_key_id"].as_str().unwrap().to_owned();
    std::fs::write(marker(&es), format!(r#"{{"user": "{es}", "keys_before": ["{kept}"]}}"#)).unwrap();
    let made = env.iam.create_access_key().user_name(&es).send().await.unwrap();
    let unstored = made.access_key().unwrap().access_key_id().to_owned();
    // And for the other user a first key, made before any was stored.
    let gone = env.stored_key(&reports)["access_key_id"].as_str().unwrap().to_owned();
    env.iam.delete_access_key().user_name(&reports).access_key_id(&gone).send().await.unwrap();
    std::fs::remove_file(env.key_file(&reports)).unwrap();
    std::fs::write(marker(&reports), format!(r#"{{"user": "{reports}", "keys_before": []}}"#)).unwrap();
    let first = env.iam.create_access_key().user_name(&reports).send().await.unwrap();
    let first = first.access_key().unwrap().access_key_id().to_owned();

    // Dry-run: reports both, changes nothing.
    let r = env.mk(&["--reports", "--dry-run"]).ok();
    assert_eq!(r.mutating(), 0);
    assert_eq!(r.action("iam-access-key", &es), "would-update");
    assert_eq!(r.action("iam-access-key", &reports), "would-create");
    let details = |r: &ToolRun, user: &str| {
        let changes = r.json["changes"].as_array().unwrap();
        let c = changes.iter().find(|c| c["kind"] == "iam-access-key" && c["name"] == user).unwrap();
        c["details"].clone()
    };
    assert_eq!(details(&r, &es), serde_json::json!([format!("unstored key {unstored}")]));
    assert_eq!(details(&r, &reports), serde_json::json!([format!("unstored key {first}")]));
    let findings = r.json["findings"].to_string();
    assert!(findings.contains(&unstored) && findings.contains(&first), "{findings}");
    assert!(!findings.contains("--rotate-keys"), "not taken for lost secrets: {findings}");
    assert!(r.stderr.contains(&unstored), "the warning is on stderr too");
    assert_eq!(env.keys(&es).await.len(), 2);
    assert_eq!(env.keys(&reports).await, [(first.clone(), true)]);
    assert!(marker(&es).exists() && marker(&reports).exists(), "dry-run leaves the markers");

    // The real run: the unstored keys go, the reports user gets a new one.
    let r = env.mk(&["--reports"]).ok();
    assert_eq!(r.action("iam-access-key", &es), "updated");
    assert_eq!(r.action("iam-access-key", &reports), "created");
    assert_eq!(env.keys(&es).await, [(kept.clone(), true)], "the stored key stays, the unstored one went");
    assert_eq!(env.stored_key(&es)["access_key_id"], kept.as_str());
    let new = env.stored_key(&reports)["access_key_id"].as_str().unwrap().to_owned();
    assert_ne!(new, first);
    assert_eq!(env.keys(&reports).await, [(new.clone(), true)]);
    assert_eq!(r.json["outputs"]["users"]["reports"]["access_key_id"], new.as_str());
    assert!(!marker(&es).exists() && !marker(&reports).exists(), "the markers are cleared");
    env.mk(&["--reports"]).ok().all_unchanged();
    let secrets = [&es, &reports].map(|u| env.stored_key(u)["secret_access_key"].as_str().unwrap().to_owned());

    // A key the marker lists whose secret is not stored is a lost secret:
    // reported, kept, and the marker is cleared.
    std::fs::remove_file(env.key_file(&es)).unwrap();
    std::fs::write(marker(&es), format!(r#"{{"user": "{es}", "keys_before": ["{kept}"]}}"#)).unwrap();
    let r = env.mk(&["--reports"]).ok().all_unchanged();
    assert!(r.json["findings"].to_string().contains("--rotate-keys"), "{}", r.stdout);
    assert_eq!(env.keys(&es).await, [(kept.clone(), true)]);
    assert!(!marker(&es).exists());

    // A broken marker is the operator's to fix: exit 2, no call at all.
    std::fs::write(marker(&es), "{").unwrap();
    let r = env.mk(&["--reports"]).bad_input(".access-key.pending.json");
    assert_eq!(r.total(), 0, "no call at all");
    std::fs::write(marker(&es), format!(r#"{{"user": "{reports}", "keys_before": []}}"#)).unwrap();
    env.mk(&["--reports"]).bad_input("fix or remove it");
    std::fs::remove_file(marker(&es)).unwrap();

    // Destroy takes a marker away with the keys.
    std::fs::write(marker(&reports), format!(r#"{{"user": "{reports}", "keys_before": []}}"#)).unwrap();
    env.mk(&["--reports", "--destroy"]).ok();
    assert!(!marker(&reports).exists());
    assert!(!env.user_exists(&reports).await);
    env.assert_no_secret_shown(&secrets);
}
