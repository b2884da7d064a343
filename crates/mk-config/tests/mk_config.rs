//! mk-config against the emulator (for --upload), with documents and
//! secrets laid out as the other tools leave them.

use std::path::{Path, PathBuf};

use analytics_tests::sim::AwsSim;
use analytics_tests::{Account, ToolRun, mode, moto_url, run, unique_client};
use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_mk-config");

struct Layout {
    _dir: tempfile::TempDir,
    state: PathBuf,
    secrets: PathBuf,
    client: String,
}

const ES_SECRET: &str = "es-secret-K3y/with+chars";
const DB_PASSWORD: &str = "db'pa\"ss:#word";

fn doc(tool: &str, client: &str, outputs: Value) -> Value {
    json!({"tool": tool, "client": client, "region": "us-east-1", "dry_run": false,
           "changes": [], "outputs": outputs, "findings": [], "api_calls": {"total": 1, "mutating": 0}})
}

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

fn layout(with_edxapp: bool) -> Layout {
    let dir = tempfile::tempdir().unwrap();
    let c = unique_client("c");
    let state = dir.path().join("state");
    let secrets = dir.path().join("secrets");
    std::fs::create_dir_all(&secrets).unwrap();
    let key_file = secrets.join(format!("{c}-analytics-elasticsearch.access-key.json"));
    write(&key_file, &json!({"user": "u", "access_key_id": "AKIAEXAMPLE", "secret_access_key": ES_SECRET}).to_string());
    let creds =
        |user: &str| json!({"host": "db.local", "port": "3306", "username": user, "password": DB_PASSWORD}).to_string();
    write(&secrets.join("edxanalytics_creds"), &creds("analytics"));
    if with_edxapp {
        write(&secrets.join("edxapp_creds"), &creds("edxapp_ro"));
    }
    let docs = [
        doc(
            "mk-iam",
            &c,
            json!({"users": {"elasticsearch": {"name": "u", "access_key_id": "AKIAEXAMPLE", "access_key_file": key_file}}}),
        ),
        doc(
            "mk-buckets",
            &c,
            json!({"buckets": {"tracking_logs": format!("{c}-tracking-logs"), "emr": format!("{c}-analytics-emr"),
                   "edxanalytics": format!("{c}-edxanalytics")}, "emr_log_uri": format!("s3://{c}-analytics-emr/logs")}),
        ),
        doc("mk-vpc", &c, json!({"vpc_id": "vpc-1", "subnet_ids": ["subnet-abc"]})),
        doc("mk-sg", &c, json!({"security_groups": {"emr_master": "sg-m", "emr_slave": "sg-s"}})),
        doc("mk-es", &c, json!({"endpoint": "https://search-x.us-east-1.es.amazonaws.com", "region": "us-east-1"})),
        doc("mk-ec2", &c, json!({"key_pairs": {"analytics": {"name": format!("{c}-analytics")}}})),
    ];
    for d in docs {
        write(&state.join(format!("{}.json", d["tool"].as_str().unwrap())), &serde_json::to_string_pretty(&d).unwrap());
    }
    Layout { _dir: dir, state, secrets, client: c }
}

fn mk_config(a: &Account, l: &Layout, extra: &[&str]) -> ToolRun {
    let mut cmd = a.command(BIN);
    cmd.arg("--client").arg(&l.client).arg("--secrets-dir").arg(&l.secrets).args(extra);
    for f in std::fs::read_dir(&l.state).unwrap() {
        cmd.arg(f.unwrap().path());
    }
    run(&mut cmd)
}

/// The config bucket as mk-buckets leaves it: tagged for the client.
async fn config_bucket(s3: &aws_sdk_s3::Client, bucket: &str, client: &str) {
    s3.create_bucket().bucket(bucket).send().await.unwrap();
    let tag = |k: &str, v: &str| aws_sdk_s3::types::Tag::builder().key(k).value(v).build().unwrap();
    let tagging = aws_sdk_s3::types::Tagging::builder()
        .tag_set(tag("analytics:client", client))
        .tag_set(tag("analytics:managed-by", "mk-buckets"))
        .build()
        .unwrap();
    s3.put_bucket_tagging().bucket(bucket).tagging(tagging).send().await.unwrap();
}

fn read(l: &Layout, name: &str) -> String {
    std::fs::read_to_string(l.secrets.join(name)).unwrap()
}

#[tokio::test]
async fn writes_every_file_0600_and_reruns_unchanged() {
    let a = Account::fresh().await;
    let l = layout(true);
    let r = mk_config(&a, &l, &[]).ok();
    for name in ["vars-analytics.yml", "emr-vars.yml", "analytics-override.cfg", "jenkins_env"] {
        assert_eq!(r.action("secure-config-file", name), "created");
        assert_eq!(mode(l.secrets.join(name)), 0o600, "{name}");
    }
    assert_eq!(mode(&l.secrets), 0o700);
    assert_eq!(r.action("secure-config-file", "edxapp_creds"), "unchanged");
    assert_eq!(r.total(), 0, "no AWS call without --upload");

    let vars: Value = serde_saphyr::from_str(&read(&l, "vars-analytics.yml")).unwrap();
    assert_eq!(vars["ANALYTICS_MYSQL_PASSWORD"], DB_PASSWORD);
    assert_eq!(vars["ANALYTICS_MYSQL_HOST"], "db.local");
    assert_eq!(vars["ANALYTICS_API_ELASTICSEARCH_AWS_SECRET_ACCESS_KEY"], ES_SECRET);
    assert_eq!(vars["ANALYTICS_API_ELASTICSEARCH_LEARNERS_HOST"], "https://search-x.us-east-1.es.amazonaws.com");
    assert_eq!(vars["INSIGHTS_NGINX_PORT"], 80);
    let emr: Value = serde_saphyr::from_str(&read(&l, "emr-vars.yml")).unwrap();
    assert_eq!(emr["vpc_subnet_id"], "subnet-abc");
    assert_eq!(emr["keypair_name"], format!("{}-analytics", l.client));
    assert_eq!(emr["emr_managed_slave_security_group"], "sg-s");
    assert_eq!((&emr["role"], &emr["service_role"]), (&json!("EMR_EC2_DefaultRole"), &json!("EMR_DefaultRole")));
    let cfg = read(&l, "analytics-override.cfg");
    assert!(cfg.contains(&format!("credentials=s3://{}-edxanalytics/edxanalytics_creds", l.client)), "{cfg}");
    assert!(read(&l, "jenkins_env").contains("EXTRA_VARS="));

    for text in [&r.stdout, &r.stderr] {
        assert!(!text.contains(ES_SECRET) && !text.contains(DB_PASSWORD), "a secret leaked:\n{text}");
    }
    mk_config(&a, &l, &[]).ok().all_unchanged();
}

#[tokio::test]
async fn upload_puts_encrypted_credentials_once() {
    let a = Account::fresh().await;
    let l = layout(true);
    let s3 = analytics_tests::s3_client(&a.sdk().await);
    let bucket = format!("{}-edxanalytics", l.client);
    config_bucket(&s3, &bucket, &l.client).await;

    let dry = mk_config(&a, &l, &["--upload", "--dry-run"]).ok();
    assert_eq!(dry.mutating(), 0);
    assert_eq!(dry.action("s3-object", &format!("s3://{bucket}/edxanalytics_creds")), "would-create");
    assert!(!l.secrets.join("vars-analytics.yml").exists(), "dry-run writes no file");

    let r = mk_config(&a, &l, &["--upload"]).ok();
    for key in ["edxanalytics_creds", "edxapp_creds"] {
        assert_eq!(r.action("s3-object", &format!("s3://{bucket}/{key}")), "created");
        let o = s3.get_object().bucket(&bucket).key(key).send().await.unwrap();
        assert_eq!(o.server_side_encryption().map(aws_sdk_s3::types::ServerSideEncryption::as_str), Some("AES256"));
        let body = o.body.collect().await.unwrap().into_bytes();
        let creds: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(creds["port"], "3306", "the port is a string");
    }
    let again = mk_config(&a, &l, &["--upload"]).ok().all_unchanged();
    assert!(again.total() > 0);
}

#[tokio::test]
async fn missing_inputs_are_named() {
    let a = Account::fresh().await;
    let l = layout(false);
    std::fs::remove_file(l.state.join("mk-es.json")).unwrap();
    std::fs::remove_file(l.secrets.join("edxanalytics_creds")).unwrap();
    let r = mk_config(&a, &l, &[]).bad_input("mk-es outputs.endpoint");
    assert!(r.stderr.contains("edxanalytics_creds"), "{}", r.stderr);

    let l = layout(false);
    let mut cmd = a.command(BIN);
    cmd.args(["--client", "someone-else", "--secrets-dir"]).arg(&l.secrets).arg(l.state.join("mk-vpc.json"));
    run(&mut cmd).bad_input("not \"someone-else\"");

    let mut cmd = a.command(BIN);
    cmd.args(["--client", &l.client]).arg(l.state.join("nope.json"));
    run(&mut cmd).bad_input("nope.json");

    let mut cmd = a.command(BIN);
    cmd.args(["--client", &l.client, "--emr-instance-type", "huge"]).arg(l.state.join("mk-vpc.json"));
    run(&mut cmd).bad_input("--emr-instance-type");
}

/// EMR roles renamed with mk-iam's --emr-ec2-role / --emr-role reach
/// emr-vars.yml through mk-iam's document: the nodes' instance profile by
/// name, the service role by the name in its ARN.
#[tokio::test]
async fn emr_roles_come_from_mk_iams_document() {
    let a = Account::fresh().await;
    let l = layout(false);
    let iam_file = l.state.join("mk-iam.json");
    let mut iam: Value = serde_json::from_str(&std::fs::read_to_string(&iam_file).unwrap()).unwrap();
    iam["outputs"]["instance_profiles"] = json!({"emr_ec2_default": "acme-emr-nodes"});
    iam["outputs"]["roles"] = json!({"emr_default": "arn:aws:iam::123456789012:role/acme-emr-service"});
    write(&iam_file, &iam.to_string());
    mk_config(&a, &l, &[]).ok();
    let emr: Value = serde_saphyr::from_str(&read(&l, "emr-vars.yml")).unwrap();
    assert_eq!(emr["role"], "acme-emr-nodes");
    assert_eq!(emr["service_role"], "acme-emr-service");
}

/// A state document edited to name a bucket that is not this deployment's
/// config bucket gets no credentials: the bucket's owner and tags
/// (analytics:client and analytics:managed-by=mk-buckets) are checked before
/// any upload.
#[tokio::test]
async fn upload_refuses_a_bucket_that_is_not_the_deployments() {
    let a = Account::fresh().await;
    let l = layout(true);
    let s3 = analytics_tests::s3_client(&a.sdk().await);
    let other = unique_client("c");
    let by_hand = format!("{other}-by-hand");
    s3.create_bucket().bucket(&by_hand).send().await.unwrap();
    let theirs = format!("{other}-edxanalytics");
    config_bucket(&s3, &theirs, &other).await;
    let doc_file = l.state.join("mk-buckets.json");
    let original: Value = serde_json::from_str(&std::fs::read_to_string(&doc_file).unwrap()).unwrap();
    let name_bucket = |bucket: &str| {
        let mut doc = original.clone();
        doc["outputs"]["buckets"]["edxanalytics"] = json!(bucket);
        write(&doc_file, &doc.to_string());
    };

    for (bucket, tag) in [(&by_hand, "no analytics: tag"), (&theirs, "analytics:client=")] {
        name_bucket(bucket);
        for extra in [&["--upload"][..], &["--upload", "--dry-run"]] {
            let r = mk_config(&a, &l, extra);
            r.refused(&[bucket.as_str(), "not this deployment's config bucket", tag]);
        }
        let listed = s3.list_objects_v2().bucket(bucket.as_str()).send().await.unwrap();
        assert!(listed.contents().is_empty(), "nothing uploaded to {bucket}");
    }
    assert!(!l.secrets.join("vars-analytics.yml").exists(), "refused before writing anything");

    // Another account's bucket, as S3 answers it (403 to ExpectedBucketOwner).
    let sim = AwsSim::start(&moto_url(), "bucket-other-account", 300);
    let foreign = format!("{other}-foreign");
    sim.foreign_bucket(&foreign, None, true);
    name_bucket(&foreign);
    let mut cmd = a.command(BIN);
    cmd.env("AWS_ENDPOINT_URL", sim.url()).arg("--client").arg(&l.client).arg("--secrets-dir").arg(&l.secrets);
    cmd.arg("--upload").args(std::fs::read_dir(&l.state).unwrap().map(|f| f.unwrap().path()));
    run(&mut cmd).refused(&[&foreign, "another AWS account", &a.id]);
    assert!(sim.fired().get("bucket-other-account").copied().unwrap_or(0) > 0, "{}", sim.log());

    // The deployment's own bucket, tagged as mk-buckets tags it: uploaded.
    name_bucket(&format!("{}-edxanalytics", l.client));
    config_bucket(&s3, &format!("{}-edxanalytics", l.client), &l.client).await;
    mk_config(&a, &l, &["--upload"]).ok();
}
