//! emr-launch against the emulator (moto): each test in its own account.
//! moto reports every cluster WAITING at once and never finishes steps, so
//! waiting itself is tested in `waiting.rs` against a scripted endpoint.

use std::path::PathBuf;

use analytics_tests::{Account, ToolRun, run};
use aws_sdk_emr::Client;
use aws_sdk_emr::config::Region;
use aws_sdk_emr::types::ClusterState;
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_emr-launch");

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name)
}

fn fixture_json(name: &str) -> Value {
    serde_json::from_str(&std::fs::read_to_string(fixture(name)).unwrap()).unwrap()
}

/// The tool in this account, with the fixtures' environment: CORE_NUM=4,
/// client acme, quick polls.
fn emr_launch(account: &Account, args: &[&str]) -> ToolRun {
    run(account
        .command(BIN)
        .env("CORE_NUM", "4")
        .env("ANALYTICS_CLIENT", "acme")
        .env("ANALYTICS_POLL_INITIAL_MS", "20")
        .env_remove("CLUSTER_NAME")
        .env_remove("AWS_KEYPAIR_NAME")
        .args(args))
}

async fn emr(account: &Account, region: &str) -> Client {
    Client::from_conf(
        aws_sdk_emr::config::Builder::from(&account.sdk().await).region(Region::new(region.to_owned())).build(),
    )
}

async fn all_clusters(emr: &Client) -> Vec<(String, String)> {
    let out = emr.list_clusters().send().await.unwrap();
    out.clusters()
        .iter()
        .map(|c| (c.id().unwrap().to_owned(), c.status().unwrap().state().unwrap().as_str().to_owned()))
        .collect()
}

#[tokio::test]
async fn launches_the_full_file_and_the_cluster_reads_back_as_requested() {
    let a = Account::fresh().await;
    let full = fixture("full.yml");
    let r = emr_launch(&a, &["--vars", full.to_str().unwrap()]).ok();
    let id = r.json["outputs"]["cluster_id"].as_str().unwrap().to_owned();
    assert_eq!(r.json["outputs"]["name"], "analytics-nightly");
    assert_eq!(r.json["outputs"]["state"], "WAITING");
    assert!(r.json["outputs"]["master_public_dns_name"].as_str().is_some_and(|d| !d.is_empty()), "{}", r.stdout);
    assert!(r.json["outputs"]["master_private_ip"].as_str().is_some_and(|ip| ip.contains('.')), "{}", r.stdout);
    assert_eq!(r.json["region"], "eu-west-1", "the file's region");
    assert_eq!(r.action("emr-cluster", "analytics-nightly"), "created");
    assert_eq!(r.mutating(), 1, "one RunJobFlow, tags included: {}", r.json["api_calls"]);
    assert!(r.stderr.contains("unknown key `jenkins_only_variable` ignored"), "{}", r.stderr);

    let emr = emr(&a, "eu-west-1").await;
    let c = emr.describe_cluster().cluster_id(&id).send().await.unwrap();
    let c = c.cluster().unwrap();
    assert_eq!(c.name(), Some("analytics-nightly"));
    assert_eq!(c.release_label(), Some("emr-5.36.2"));
    assert_eq!(c.log_uri(), Some("s3://acme-analytics-emr/logs/analytics-nightly/"));
    assert_eq!(c.service_role(), Some("EMR_DefaultRole"));
    assert_eq!(c.visible_to_all_users(), Some(true));
    assert_eq!(c.termination_protected(), Some(false));
    assert_eq!(c.auto_terminate(), Some(false), "kept alive with no steps");
    assert_eq!(c.ebs_root_volume_size(), Some(20));
    let ec2 = c.ec2_instance_attributes().unwrap();
    assert_eq!(ec2.ec2_key_name(), Some("acme-analytics"));
    assert_eq!(ec2.ec2_subnet_id(), Some("subnet-0abc1234"));
    assert_eq!(ec2.iam_instance_profile(), Some("EMR_EC2_DefaultRole"));
    assert_eq!(ec2.emr_managed_master_security_group(), Some("sg-0master"));
    assert_eq!(ec2.emr_managed_slave_security_group(), Some("sg-0slave"));
    assert_eq!(ec2.additional_master_security_groups(), ["sg-0addmaster1", "sg-0addmaster2"]);
    assert_eq!(ec2.additional_slave_security_groups(), ["sg-0addslave1"]);
    let apps: Vec<_> = c.applications().iter().map(|a| (a.name().unwrap(), a.args().to_vec())).collect();
    assert_eq!(apps, [("Hadoop", vec![]), ("Hive", vec![]), ("Spark", vec!["--verbose".to_owned()])]);
    let conf = c.configurations();
    assert_eq!(conf.len(), 2);
    assert_eq!(conf[0].classification(), Some("yarn-site"));
    let props = conf[0].properties().unwrap();
    assert_eq!(props.get("yarn.resourcemanager.max-completed-applications").map(String::as_str), Some("5"));
    assert_eq!(props.get("yarn.nodemanager.vmem-check-enabled").map(String::as_str), Some("false"));
    assert_eq!(conf[1].configurations()[0].classification(), Some("export"));
    assert_eq!(
        conf[1].configurations()[0].properties().unwrap().get("JAVA_HOME").map(String::as_str),
        Some("/usr/lib/jvm/java-1.8.0")
    );
    let tags: Vec<_> = c.tags().iter().map(|t| (t.key().unwrap(), t.value().unwrap())).collect();
    for want in [
        ("ansible:emr:name", "analytics-nightly"),
        ("analytics:managed-by", "emr-launch"),
        ("analytics:client", "acme"),
        ("environment", "analytics"),
        ("job", "analytics-nightly"),
    ] {
        assert!(tags.contains(&want), "{want:?} in {tags:?}");
    }

    let groups = emr.list_instance_groups().cluster_id(&id).send().await.unwrap();
    let mut groups: Vec<_> = groups
        .instance_groups()
        .iter()
        .map(|g| {
            (
                g.instance_group_type().unwrap().as_str().to_owned(),
                g.requested_instance_count().unwrap(),
                g.instance_type().unwrap().to_owned(),
                g.market().unwrap().as_str().to_owned(),
                g.bid_price().map(str::to_owned),
            )
        })
        .collect();
    groups.sort();
    assert_eq!(
        groups,
        [
            ("CORE".into(), 4, "m5.xlarge".into(), "ON_DEMAND".into(), None),
            ("MASTER".into(), 1, "m5.xlarge".into(), "ON_DEMAND".into(), None),
            ("TASK".into(), 3, "m5.2xlarge".into(), "SPOT".into(), Some("0.1".into())),
        ]
    );

    let bootstrap = emr.list_bootstrap_actions().cluster_id(&id).send().await.unwrap();
    let bootstrap: Vec<_> = bootstrap
        .bootstrap_actions()
        .iter()
        .map(|b| (b.name().unwrap().to_owned(), b.script_path().unwrap().to_owned(), b.args().to_vec()))
        .collect();
    assert_eq!(
        bootstrap,
        [
            ("hadoop-util".into(), "s3://acme-analytics-emr/install-hadoop-util.sh".into(), vec![]),
            (
                "sqoop".into(),
                "s3://acme-analytics-emr/install-sqoop".into(),
                vec!["s3://acme-analytics-emr".to_owned(), "1.4.7".to_owned()]
            ),
        ]
    );

    let steps = emr.list_steps().cluster_id(&id).send().await.unwrap();
    let mut steps: Vec<_> = steps
        .steps()
        .iter()
        .map(|s| {
            let cfg = s.config().unwrap();
            (
                s.name().unwrap().to_owned(),
                cfg.jar().unwrap().to_owned(),
                cfg.args().to_vec(),
                s.action_on_failure().map(|a| a.as_str().to_owned()),
            )
        })
        .collect();
    steps.sort();
    let want_steps = fixture_json("full.json")["Steps"].as_array().unwrap().clone();
    assert_eq!(steps.len(), want_steps.len());
    let script = steps.iter().find(|s| s.0 == "Install Sqoop").unwrap();
    assert_eq!(script.1, "s3://eu-west-1.elasticmapreduce/libs/script-runner/script-runner.jar");
    assert_eq!(script.2, ["s3://acme-analytics-emr/install-sqoop", "s3://acme-analytics-emr"]);
    assert_eq!(script.3.as_deref(), Some("TERMINATE_JOB_FLOW"));
    let streaming = steps.iter().find(|s| s.0 == "Word count").unwrap();
    assert_eq!((streaming.1.as_str(), streaming.2[0].as_str()), ("command-runner.jar", "hadoop-streaming"));
    assert_eq!(streaming.3.as_deref(), Some("CANCEL_AND_WAIT"));
    let jar = steps.iter().find(|s| s.0 == "Hadoop util").unwrap();
    assert_eq!(jar.2, ["--date", "2026-01-01"]);
    assert_eq!(jar.3.as_deref(), Some("CONTINUE"));
}

#[tokio::test]
async fn a_live_cluster_of_the_same_name_is_reused() {
    let a = Account::fresh().await;
    let full = fixture("full.yml");
    let first = emr_launch(&a, &["--vars", full.to_str().unwrap()]).ok();
    let again = emr_launch(&a, &["--vars", full.to_str().unwrap()]).ok();
    assert_eq!(again.mutating(), 0, "{}", again.json["api_calls"]);
    assert_eq!(again.json["outputs"]["cluster_id"], first.json["outputs"]["cluster_id"]);
    assert_eq!(again.action("emr-cluster", "analytics-nightly"), "unchanged");
    assert_eq!(again.json["outputs"]["master_private_ip"], first.json["outputs"]["master_private_ip"]);
    assert_eq!(all_clusters(&emr(&a, "eu-west-1").await).await.len(), 1);

    // Another name is another cluster.
    let other = emr_launch(&a, &["--vars", full.to_str().unwrap(), "--name", "analytics-other"]).ok();
    assert_ne!(other.json["outputs"]["cluster_id"], first.json["outputs"]["cluster_id"]);
    assert_eq!(other.mutating(), 1);
}

#[tokio::test]
async fn terminate_ends_the_cluster_and_then_has_nothing_to_do() {
    let a = Account::fresh().await;
    let full = fixture("full.yml");
    let launched = emr_launch(&a, &["--vars", full.to_str().unwrap()]).ok();
    let id = launched.json["outputs"]["cluster_id"].as_str().unwrap().to_owned();

    let dry = emr_launch(&a, &["--vars", full.to_str().unwrap(), "--terminate", "--dry-run"]).ok();
    assert_eq!(dry.mutating(), 0);
    assert_eq!(dry.action("emr-cluster", "analytics-nightly"), "would-delete");

    // The teardown job renders only name and region: CORE_NUM may be unset.
    let t = run(a.command(BIN).env_remove("CORE_NUM").env("ANALYTICS_POLL_INITIAL_MS", "20").args([
        "--vars",
        full.to_str().unwrap(),
        "--terminate",
    ]))
    .ok();
    assert_eq!(t.action("emr-cluster", "analytics-nightly"), "deleted");
    assert_eq!(t.json["outputs"]["cluster_ids"], serde_json::json!([id]));
    assert_eq!(t.json["outputs"]["state"], "TERMINATED");
    assert_eq!(t.mutating(), 1);
    let emr = emr(&a, "eu-west-1").await;
    let c = emr.describe_cluster().cluster_id(&id).send().await.unwrap();
    assert_eq!(c.cluster().unwrap().status().unwrap().state(), Some(&ClusterState::Terminated));

    let again = emr_launch(&a, &["--terminate", "--name", "analytics-nightly", "--region", "eu-west-1"]).ok();
    assert_eq!(again.mutating(), 0);
    assert!(again.json["changes"].as_array().unwrap().is_empty());
    assert_eq!(again.json["outputs"]["cluster_ids"], serde_json::json!([]));

    // A terminated cluster is not reused: the next launch starts a new one.
    let next = emr_launch(&a, &["--vars", full.to_str().unwrap()]).ok();
    assert_ne!(next.json["outputs"]["cluster_id"], launched.json["outputs"]["cluster_id"]);
}

#[tokio::test]
async fn dry_run_prints_the_request_and_launches_nothing() {
    let a = Account::fresh().await;
    let full = fixture("full.yml");
    let r = emr_launch(&a, &["--vars", full.to_str().unwrap(), "--dry-run"]).ok();
    assert_eq!(r.total(), 1, "one ListClusters: {}", r.json["api_calls"]);
    assert_eq!(r.mutating(), 0);
    assert_eq!(r.json["dry_run"], true);
    assert_eq!(r.action("emr-cluster", "analytics-nightly"), "would-create");
    assert_eq!(r.json["outputs"]["request"], fixture_json("full.json"), "the request is the fixture's");
    assert_eq!(r.json["outputs"]["cluster_id"], Value::Null);
    assert!(all_clusters(&emr(&a, "eu-west-1").await).await.is_empty());

    // --extra-vars and --name override the file, as Ansible's -e did.
    let r = emr_launch(
        &a,
        &[
            "--vars",
            full.to_str().unwrap(),
            "--dry-run",
            "-e",
            "region=us-west-2 core_instance_num=9",
            "-e",
            "name=from-e",
        ],
    )
    .ok();
    assert_eq!(r.json["outputs"]["name"], "from-e");
    assert_eq!(r.json["region"], "us-west-2");
    assert_eq!(
        r.json["outputs"]["request"]["LogUri"], "s3://acme-analytics-emr/logs/from-e/",
        "references see the override"
    );
    let r =
        emr_launch(&a, &["--vars", full.to_str().unwrap(), "--dry-run", "-e", "name=from-e", "--name", "from-flag"])
            .ok();
    assert_eq!(r.json["outputs"]["name"], "from-flag");
    let r = emr_launch(&a, &["--vars", full.to_str().unwrap(), "--dry-run", "--region", "ap-southeast-2"]).ok();
    assert_eq!(r.json["region"], "ap-southeast-2", "--region wins over the file");
    assert_eq!(
        r.json["outputs"]["request"]["Steps"][0]["HadoopJarStep"]["Jar"],
        "s3://ap-southeast-2.elasticmapreduce/libs/script-runner/script-runner.jar"
    );
}

#[tokio::test]
async fn bad_input_exits_2_before_any_call() {
    let a = Account::fresh().await;
    let err = |name: &str| fixture(&format!("errors/{name}")).to_str().unwrap().to_owned();
    let cases: Vec<(Vec<String>, &str)> = vec![
        (vec!["--vars".into(), err("yaml-syntax.yml")], "yaml-syntax.yml:5:7: invalid YAML"),
        (vec!["--vars".into(), err("wrong-type.yml")], "instance_groups.core.num_instances: expected an integer"),
        (vec!["--vars".into(), err("subnet-and-zone.yml")], "cannot be used together"),
        (vec!["--vars".into(), err("bad-market.yml")], "SPOTTY"),
        (vec!["--vars".into(), err("bad-step-type.yml")], "steps[0].type"),
        (vec!["--vars".into(), err("unset-env.yml")], "environment variable CLUSTER_NAME_FOR_TEST is not set"),
        (vec!["--vars".into(), err("unsupported-filter.yml")], "upper"),
        (vec!["--vars".into(), "/nonexistent/emr-vars.yml".into()], "cannot read"),
        (
            vec!["--vars".into(), fixture("full.yml").to_str().unwrap().into(), "--client".into(), "Bad_Client".into()],
            "invalid client name",
        ),
        (
            vec!["--vars".into(), fixture("full.yml").to_str().unwrap().into(), "-e".into(), "novalue".into()],
            "KEY=VALUE",
        ),
        (
            vec!["--vars".into(), fixture("full.yml").to_str().unwrap().into(), "--region".into(), "moon-1".into()],
            "region",
        ),
        (vec!["--terminate".into()], "--vars"),
    ];
    for (args, needle) in cases {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let r = emr_launch(&a, &args).bad_input(needle);
        if !r.stdout.trim().is_empty() {
            assert_eq!(r.total(), 0, "{args:?}: no call at all: {}", r.json["api_calls"]);
        }
    }
    assert!(all_clusters(&emr(&a, "eu-west-1").await).await.is_empty());
}
