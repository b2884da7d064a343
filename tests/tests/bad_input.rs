//! Bad input across the tools, as one table: each row is a tool, its
//! arguments and environment, the exit status it must end with (2 for bad
//! input; 1 where AWS or MySQL had to be asked and said no), a needle the
//! one `error:` line must contain (it names the problem), and no mutating
//! call (from the JSON document, when one is printed). All rows run in one
//! fresh account, one after the other; afterwards the account holds nothing
//! of the client.

use std::path::Path;

use analytics_tests::{Account, ToolRun, bin, mode, run, unique_client};
use serde_json::Value;

/// One bad input.
struct Case {
    tool: &'static str,
    args: Vec<String>,
    /// Set (`Some`) or removed (`None`) on top of the account's environment.
    env: Vec<(&'static str, Option<String>)>,
    exit: i32,
    needle: String,
}

/// A row of the table: `tool`, its arguments, the exit status, the needle.
fn case(tool: &'static str, args: &[&str], exit: i32, needle: &str) -> Case {
    Case {
        tool,
        args: args.iter().map(std::string::ToString::to_string).collect(),
        env: vec![],
        exit,
        needle: needle.to_owned(),
    }
}

impl Case {
    fn env(mut self, key: &'static str, value: &str) -> Case {
        self.env.push((key, Some(value.to_owned())));
        self
    }

    fn env_removed(mut self, key: &'static str) -> Case {
        self.env.push((key, None));
        self
    }

    fn describe(&self) -> String {
        let env: Vec<String> = self
            .env
            .iter()
            .map(|(k, v)| match v {
                Some(v) => format!("{k}={v}"),
                None => format!("-u {k}"),
            })
            .collect();
        format!("{} {} {}", env.join(" "), self.tool, self.args.join(" ")).trim().to_owned()
    }
}

/// Runs one row and checks everything the row promises; says what is wrong.
fn check(account: &Account, case: &Case) -> Result<ToolRun, String> {
    let mut cmd = account.command(bin(case.tool));
    cmd.args(&case.args);
    for (k, v) in &case.env {
        match v {
            Some(v) => cmd.env(k, v),
            None => cmd.env_remove(k),
        };
    }
    let r = run(&mut cmd);
    let mut wrong = Vec::new();
    if r.status != case.exit {
        wrong.push(format!("exit {} instead of {}", r.status, case.exit));
    }
    if r.stderr.contains("panicked") {
        wrong.push("a panic is not an error message".to_owned());
    }
    let errors: Vec<&str> = r.stderr.lines().filter(|l| l.starts_with("error:")).collect();
    match errors[..] {
        [line] if !line.contains(&case.needle) => wrong.push(format!("the error line should name {:?}", case.needle)),
        [_] => {}
        _ => wrong.push(format!("{} error lines instead of one", errors.len())),
    }
    if r.json != Value::Null && r.mutating() != 0 {
        wrong.push(format!("mutating calls on bad input: {}", r.json["api_calls"]["by_operation"]));
    }
    if wrong.is_empty() {
        Ok(r)
    } else {
        Err(format!("{}: {}; stderr:\n{}", case.describe(), wrong.join("; "), r.stderr.trim_end()))
    }
}

/// A valid emr-vars.yml (checked by a dry run first); each YAML row breaks
/// one thing of it.
const EMR_VARS: &str = r#"name: "{{ lookup('env', 'CLUSTER_NAME') | default('bad-input-nightly', true) }}"
keypair_name: acme-analytics
log_uri: s3://acme-analytics-emr/logs
release_label: emr-5.36.2
instance_groups:
  master: {num_instances: 1, type: m5.xlarge, market: ON_DEMAND}
  core: {num_instances: 2, type: m5.xlarge, market: ON_DEMAND}
  task: {num_instances: 1, type: m5.xlarge, market: SPOT, bidprice: "0.10"}
steps:
  - type: script
    name: Install Sqoop
    step_args: ["s3://acme-analytics-emr/install-sqoop"]
    action_on_failure: TERMINATE_JOB_FLOW
"#;

/// Writes a variant of [`EMR_VARS`] with `from` replaced by `to`.
fn emr_vars(dir: &Path, name: &str, from: &str, to: &str) -> String {
    assert!(EMR_VARS.contains(from), "{from:?} is not in the base file");
    let p = dir.join(name);
    std::fs::write(&p, EMR_VARS.replacen(from, to, 1)).unwrap();
    p.to_str().unwrap().to_owned()
}

#[tokio::test]
async fn bad_input_table() {
    let account = Account::fresh().await;
    let c = unique_client("bi");
    let other = unique_client("bi");
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let path = |name: &str| dir.join(name).to_str().unwrap().to_owned();

    // Files the rows point at.
    let good_vars = path("emr-vars.yml");
    std::fs::write(&good_vars, EMR_VARS).unwrap();
    let yaml_syntax = emr_vars(dir, "syntax.yml", "release_label: emr-5.36.2\n", "release_label: [emr-5.36.2\n");
    let core_two = emr_vars(dir, "core-two.yml", "core: {num_instances: 2,", "core: {num_instances: two,");
    let core_env = emr_vars(
        dir,
        "core-env.yml",
        "core: {num_instances: 2,",
        "core: {num_instances: \"{{ lookup('env', 'BAD_INPUT_CORE_COUNT') }}\",",
    );
    let step_type = emr_vars(dir, "step-type.yml", "type: script", "type: hadoop");
    let market = emr_vars(dir, "market.yml", "market: SPOT", "market: CHEAP");
    let bid = emr_vars(dir, "bid.yml", "bidprice: \"0.10\"", "bidprice: cheap");
    let unset_env = emr_vars(dir, "unset-env.yml", "'CLUSTER_NAME'", "'BAD_INPUT_UNSET_VAR'");
    let unset_env = {
        // No default: the unset variable is an error, not an empty name.
        let text = std::fs::read_to_string(&unset_env).unwrap().replace(" | default('bad-input-nightly', true)", "");
        std::fs::write(&unset_env, text).unwrap();
        unset_env
    };
    let filter =
        emr_vars(dir, "filter.yml", "s3://acme-analytics-emr/logs", "s3://acme-analytics-emr/{{ name | title }}");
    let region = emr_vars(dir, "region.yml", "release_label:", "region: mars-north-1\nrelease_label:");
    let log_uri = emr_vars(dir, "log-uri.yml", "s3://acme-analytics-emr/logs", "/var/log/emr");
    let on_failure = emr_vars(dir, "on-failure.yml", "TERMINATE_JOB_FLOW", "STOP_EVERYTHING");
    // Unreadable password files: a directory (the tests run as root, so
    // file modes do not make a file unreadable), and a missing file.
    let pw_dir = path("password-dir");
    std::fs::create_dir(&pw_dir).unwrap();
    let missing_pw = path("no-such.password");
    let pw = path("admin.password");
    std::fs::write(&pw, "not-the-password\n").unwrap();
    let secrets = path("secrets");
    // mk-vpc documents (from read-only dry runs, made to look like real
    // runs, as mk-config skips dry runs' documents): one of another client,
    // one of this client without what mk-config needs from the others.
    let doc = |client: &str, name: &str| {
        let mut r = run(account.command(bin("mk-vpc")).args(["--client", client, "--dry-run", "-q"])).ok();
        assert_eq!(r.mutating(), 0);
        r.json["dry_run"] = Value::Bool(false);
        let p = path(name);
        std::fs::write(&p, r.json.to_string()).unwrap();
        p
    };
    let other_doc = doc(&other, "other-mk-vpc.json");
    let own_doc = doc(&c, "mk-vpc.json");
    let unknown_vpc = "vpc-0123456789abcdef0";
    let unknown_subnet = "subnet-0123456789abcdef0";
    let edxapp_arn = format!("arn:aws:iam::{}:user/edxapp-s3", account.id);
    let no_bucket = format!("{c}-no-such-bucket");

    // The base emr-vars.yml is valid: each YAML row below fails for its one change.
    let base =
        run(account.command(bin("emr-launch")).args(["--vars", &good_vars, "--dry-run"]).env_remove("CLUSTER_NAME"))
            .ok();
    assert_eq!(base.json["outputs"]["request"]["Name"], "bad-input-nightly");

    let rows: Vec<Case> = vec![
        // emr-vars.yml, malformed and mistyped.
        case("emr-launch", &["--vars", &yaml_syntax], 2, "invalid YAML"),
        case("emr-launch", &["--vars", &core_two], 2, "instance_groups.core.num_instances: expected an integer"),
        case("emr-launch", &["--vars", &core_env], 2, "expected an integer, got \"several\"")
            .env("BAD_INPUT_CORE_COUNT", "several"),
        case("emr-launch", &["--vars", &step_type], 2, "steps[0].type: invalid value \"hadoop\""),
        case("emr-launch", &["--vars", &market], 2, "instance_groups.task.market: invalid value \"CHEAP\""),
        case("emr-launch", &["--vars", &bid], 2, "instance_groups.task.bidprice"),
        case("emr-launch", &["--vars", &unset_env], 2, "environment variable BAD_INPUT_UNSET_VAR is not set")
            .env_removed("BAD_INPUT_UNSET_VAR"),
        case("emr-launch", &["--vars", &filter], 2, "filter title"),
        case("emr-launch", &["--vars", &region], 2, "mars-north-1"),
        case("emr-launch", &["--vars", &log_uri], 2, "log_uri"),
        case("emr-launch", &["--vars", &on_failure], 2, "STOP_EVERYTHING"),
        case("emr-launch", &["--vars", &path("missing.yml")], 2, "missing.yml"),
        case("emr-launch", &["--vars", &good_vars, "-e", "core_instance_num"], 2, "KEY=VALUE"),
        case("emr-launch", &["--vars", &good_vars, "--client", "Acme"], 2, "invalid client name"),
        case("emr-launch", &["--terminate"], 2, "--vars"),
        // Client names, by flag and by environment.
        case("mk-vpc", &[], 2, "--client"),
        case("mk-vpc", &["--client", "acme_prod"], 2, "invalid client name \"acme_prod\""),
        case("mk-iam", &["--client", "ab"], 2, "invalid client name \"ab\""),
        case("mk-buckets", &[], 2, "invalid client name \"acme corp\"").env("ANALYTICS_CLIENT", "acme corp"),
        case("mk-sg", &["--client=-acme"], 2, "invalid client name \"-acme\""),
        // Regions, tags, endpoints.
        case("mk-vpc", &["--client", &c, "--region", "us-east-1x"], 2, "unknown AWS region \"us-east-1x\""),
        case("mk-iam", &["--client", &c], 2, "moon-1").env("AWS_REGION", "moon-1"),
        case("mk-buckets", &["--client", &c, "--tag", "owner"], 2, "--tag"),
        case("mk-sg", &["--client", &c, "--tag", "analytics:client=someone"], 2, "reserved"),
        case("mk-es", &["--client", &c, "--endpoint-url", "localhost:4566"], 2, "--endpoint-url"),
        // VPC and subnet ids: malformed, and unknown (AWS is asked).
        case("mk-vpc", &["--client", &c, "--vpc-id", "vpc-zz"], 2, "--vpc-id"),
        case("mk-vpc", &["--client", &c, "--subnet-id", "subnet_1"], 2, "--subnet-id"),
        case("mk-vpc", &["--client", &c, "--vpc-id", unknown_vpc], 2, unknown_vpc),
        case("mk-vpc", &["--client", &c, "--subnet-id", unknown_subnet], 2, unknown_subnet),
        case("mk-sg", &["--client", &c, "--vpc-id", unknown_vpc], 2, unknown_vpc),
        case("mk-rds", &["--client", &c, "--vpc-id", unknown_vpc], 2, unknown_vpc),
        case("mk-ec2", &["--client", &c, "--subnet-id", unknown_subnet], 2, unknown_subnet),
        case("mk-ec2", &["--client", &c, "--ami-id", "ami-0123456789abcdef0"], 2, "ami-0123456789abcdef0"),
        // Bucket names and bucket settings.
        case("mk-iam", &["--client", &c, "--reports", "--reports-bucket", "Reports_Bucket"], 2, "invalid bucket name"),
        case("mk-buckets", &["--client", &c, "--emr-bucket", "10.0.0.1"], 2, "IP address"),
        case("mk-buckets", &["--client", &c, "--tracking-logs-bucket", "tl"], 2, "3 to 63 characters"),
        case("mk-buckets", &["--client", &c, "--grades-bucket", "edxapp-grades"], 2, "--edxapp-user-arn"),
        case(
            "mk-buckets",
            &["--client", &c, "--grades-bucket", &no_bucket, "--edxapp-user-arn", &edxapp_arn],
            2,
            &no_bucket,
        ),
        // ARNs.
        case("mk-iam", &["--client", &c, "--es-domain-arn", "arn:aws:es:us-east-1:123"], 2, "--es-domain-arn"),
        case("mk-es", &["--client", &c, "--grant-arn", "arn:aws:iam::*:user/*"], 2, "--grant-arn"),
        // IAM names: IAM's length limits and characters, one purpose each.
        case("mk-iam", &["--client", &c, "--provision-policy", &"p".repeat(129)], 2, "invalid --provision-policy"),
        case("mk-iam", &["--client", &c, "--instance-role", &"r".repeat(65)], 2, "invalid --instance-role"),
        case("mk-iam", &["--client", &c, "--emr-role", "EMR Default Role"], 2, "invalid --emr-role"),
        case("mk-iam", &["--client", &c, "--emr-ec2-role", ""], 2, "invalid --emr-ec2-role"),
        case("mk-iam", &["--client", &c, "--es-policy", "es:*"], 2, "invalid --es-policy"),
        case("mk-iam", &["--client", &c, "--es-user", &"u".repeat(65)], 2, "invalid --es-user"),
        case("mk-iam", &["--client", &c, "--reports", "--reports-user", "reports/api"], 2, "invalid --reports-user"),
        case("mk-iam", &["--client", &c, "--reports", "--reports-policy", "a#b"], 2, "invalid --reports-policy"),
        case("mk-iam", &["--client", &c, "--instance-role", "emr_ec2_defaultrole"], 2, "--emr-ec2-role"),
        // CIDRs.
        case("mk-sg", &["--client", &c, "--admin-cidr", "198.51.100.0/40"], 2, "--admin-cidr"),
        case("mk-sg", &["--client", &c, "--admin-cidr", "198.51.100.7/24"], 2, "did you mean 198.51.100.0/24"),
        case("mk-sg", &["--client", &c, "--admin-cidr", "2001:db8::/129"], 2, "--admin-cidr"),
        case("mk-sg", &["--client", &c, "--admin-cidr", "office"], 2, "not a CIDR block"),
        // Engine versions, instance types and sizes.
        case("mk-es", &["--client", &c, "--engine-version", "Elasticsearch-7.10"], 2, "--engine-version"),
        case("mk-es", &["--client", &c, "--instance-type", "small"], 2, "--instance-type"),
        case("mk-es", &["--client", &c, "--instance-type", "t2.micro"], 2, "runs only Elasticsearch 1.5"),
        case("mk-es", &["--client", &c, "--volume-gb", "ten"], 2, "--volume-gb"),
        case("mk-rds", &["--client", &c, "--engine-version", "5.7"], 2, "--engine-version"),
        case("mk-rds", &["--client", &c, "--engine-version", "mariadb-10.11"], 2, "--engine-version"),
        case("mk-rds", &["--client", &c, "--instance-class", "db.t3"], 2, "--instance-class"),
        case("mk-rds", &["--client", &c, "--backup-days", "40"], 2, "--backup-days"),
        case("mk-ec2", &["--client", &c, "--analytics-type", "T2.MEDIUM"], 2, "--analytics-type"),
        case("mk-ec2", &["--client", &c, "--ubuntu-release", "13.10"], 2, "--ubuntu-release"),
        case("mk-ec2", &["--client", &c, "--analytics-count", "many"], 2, "--analytics-count"),
        case("mk-config", &["--client", &c, "--emr-instance-type", "xlarge", &own_doc], 2, "--emr-instance-type"),
        case("mk-config", &["--client", &c, "--emr-core-count", "0", &own_doc], 2, "--emr-core-count"),
        // Files.
        case("mk-ec2", &["--client", &c, "--public-key", &path("ops.pub")], 2, "ops.pub"),
        case("mk-config", &["--client", &c, &path("mk-iam.json")], 2, "mk-iam.json"),
        case("mk-config", &["--client", &c, &other_doc], 2, &format!("not \"{c}\"")),
        case("mk-config", &["--client", &c, "--secrets-dir", &secrets, &own_doc], 2, "missing inputs"),
        // MySQL: missing flags, ports, names, password files.
        case("mk-rds-users", &["--host", "127.0.0.1", "--admin-user", "root"], 2, "--analytics"),
        case("mk-rds-users", &["--analytics", "--host", "127.0.0.1", "--port", "65536"], 2, "--port"),
        case(
            "mk-rds-users",
            &["--analytics", "--host", "127.0.0.1", "--admin-user", "root", "--reports-db", "reports;drop"],
            2,
            "invalid database name",
        ),
        case("mk-rds-users", &["--analytics", "--migration-user", "edxapp001"], 2, "--migration-password-file"),
        case(
            "mk-rds-users",
            &["--analytics", "--host", "127.0.0.1", "--admin-password", "hunter2"],
            2,
            "--admin-password",
        ),
        case(
            "mk-rds-users",
            &["--analytics", "--host", "127.0.0.1", "--admin-user", "root", "--secrets-dir", &secrets],
            2,
            "no admin password",
        )
        .env_removed("MYSQL_PWD"),
        case(
            "mk-rds-users",
            &["--analytics", "--host", "127.0.0.1", "--admin-user", "root", "--admin-password-file", &pw_dir],
            2,
            &pw_dir,
        )
        .env("ANALYTICS_SECRETS_DIR", &secrets),
        case(
            "mk-rds-users",
            &["--edxapp-readonly", "--host", "127.0.0.1", "--admin-user", "root", "--admin-password-file", &missing_pw],
            2,
            &missing_pw,
        )
        .env("ANALYTICS_SECRETS_DIR", &secrets),
        case(
            "mk-rds-users",
            &[
                "--analytics",
                "--host",
                "127.0.0.1",
                "--admin-user",
                "root",
                "--migration-user",
                "edxapp001",
                "--migration-password-file",
                &pw_dir,
            ],
            2,
            &pw_dir,
        )
        .env("MYSQL_PWD", "not-the-password")
        .env("ANALYTICS_SECRETS_DIR", &secrets),
        case(
            "mk-rds-users",
            &["--analytics", "--admin-from-rds", "--rds-state", &path("mk-rds.json")],
            2,
            "mk-rds.json",
        )
        .env("ANALYTICS_SECRETS_DIR", &secrets),
        // Where the service must be asked: missing prerequisites, an unreachable server.
        case("mk-es", &["--client", &c], 1, &format!("IAM user {c}-analytics-elasticsearch does not exist")),
        case("mk-rds", &["--client", &c], 1, &format!("security group {c}-emr-rds not found")),
        case("mk-ec2", &["--client", &c, "--ubuntu-release", "16.04"], 1, "run mk-sg first"),
        case(
            "mk-rds-users",
            &[
                "--analytics",
                "--host",
                "127.0.0.1",
                "--port",
                "1",
                "--admin-user",
                "root",
                "--admin-password-file",
                &pw,
            ],
            1,
            "connecting to 127.0.0.1:1",
        )
        .env("ANALYTICS_SECRETS_DIR", &secrets),
    ];
    assert!(rows.len() >= 30, "{} rows", rows.len());
    let started = std::time::Instant::now();
    let failures: Vec<String> = rows.iter().filter_map(|row| check(&account, row).err()).collect();
    assert!(failures.is_empty(), "{} of {} rows failed:\n\n{}", failures.len(), rows.len(), failures.join("\n\n"));
    eprintln!("{} bad inputs checked in {:.1}s", rows.len(), started.elapsed().as_secs_f64());

    // Nothing was made: no secret written, nothing of the client in the account.
    assert!(!Path::new(&secrets).exists(), "no secrets directory was made");
    let sdk = account.sdk().await;
    let iam = aws_sdk_iam::Client::new(&sdk);
    let users = iam.list_users().send().await.unwrap();
    assert!(users.users().is_empty(), "no IAM user: {:?}", users.users());
    let ec2 = aws_sdk_ec2::Client::new(&sdk);
    let groups = ec2.describe_security_groups().send().await.unwrap();
    assert!(groups.security_groups().iter().all(|g| g.group_name() == Some("default")), "only default groups");
    assert!(ec2.describe_key_pairs().send().await.unwrap().key_pairs().is_empty(), "no key pair");
    assert!(ec2.describe_addresses().send().await.unwrap().addresses().is_empty(), "no Elastic IP");
    let instances = ec2.describe_instances().send().await.unwrap();
    assert!(instances.reservations().is_empty(), "no instance");
    let igws = ec2.describe_internet_gateways().send().await.unwrap();
    assert!(igws.internet_gateways().is_empty(), "no internet gateway");
    let rds = aws_sdk_rds::Client::new(&sdk);
    assert!(rds.describe_db_instances().send().await.unwrap().db_instances().is_empty(), "no DB instance");
    let es = aws_sdk_opensearch::Client::new(&sdk);
    assert!(es.list_domain_names().send().await.unwrap().domain_names().is_empty(), "no search domain");
    let s3 = analytics_tests::s3_client(&sdk);
    let buckets = s3.list_buckets().send().await.unwrap();
    assert!(buckets.buckets().iter().all(|b| !b.name().unwrap_or_default().starts_with(&c)), "no bucket of {c}");
}

/// Mistakes in the AWS and secrets settings: an unknown `--profile` (the
/// AWS CLI refuses it; a tool must not fall back to other credentials and
/// deploy into another account), and a `--secrets-dir` that is a file. Both
/// are bad input found before any change, in every tool that reads them;
/// the rows that need the earlier steps' resources run after mk-iam and
/// mk-sg made them.
#[tokio::test]
async fn profile_and_secrets_dir_mistakes_are_bad_input() {
    let account = Account::fresh().await;
    let c = unique_client("bp");
    let tmp = tempfile::tempdir().unwrap();
    let secrets = tmp.path().join("secrets");
    let secrets = secrets.to_str().unwrap();
    let not_a_dir = tmp.path().join("secrets-file");
    std::fs::write(&not_a_dir, "").unwrap();
    let not_a_dir = not_a_dir.to_str().unwrap();
    run(account.command(bin("mk-iam")).args(["--client", &c, "--secrets-dir", secrets, "-q"])).ok();
    run(account.command(bin("mk-sg")).args(["--client", &c, "-q"])).ok();
    let vpc = run(account.command(bin("mk-vpc")).args(["--client", &c, "--dry-run", "-q"])).ok();
    let mut vpc_doc = vpc.json.clone();
    vpc_doc["dry_run"] = Value::Bool(false);
    let vpc_doc_path = tmp.path().join("mk-vpc.json");
    std::fs::write(&vpc_doc_path, vpc_doc.to_string()).unwrap();
    let vpc_doc_path = vpc_doc_path.to_str().unwrap();

    let rows = [
        case("mk-vpc", &["--client", &c, "--profile", "no-such-profile", "--dry-run"], 2, "no-such-profile"),
        case("mk-buckets", &["--client", &c, "--profile", "no-such-profile", "--dry-run"], 2, "no-such-profile"),
        case("mk-iam", &["--client", &c, "--secrets-dir", not_a_dir], 2, not_a_dir),
        case("mk-rds", &["--client", &c, "--secrets-dir", not_a_dir, "--no-wait"], 2, not_a_dir),
        case(
            "mk-ec2",
            &["--client", &c, "--secrets-dir", not_a_dir, "--ubuntu-release", "16.04", "--no-wait"],
            2,
            not_a_dir,
        ),
        case("mk-config", &["--client", &c, "--secrets-dir", not_a_dir, vpc_doc_path], 2, not_a_dir),
    ];
    let mut failures: Vec<String> = rows.iter().filter_map(|row| check(&account, row).err()).collect();
    let sdk = account.sdk().await;
    let pairs = aws_sdk_ec2::Client::new(&sdk).describe_key_pairs().send().await.unwrap();
    if !pairs.key_pairs().is_empty() {
        failures.push(format!("key pairs were made, their private keys not kept: {:?}", pairs.key_pairs()));
    }
    let groups = aws_sdk_rds::Client::new(&sdk).describe_db_subnet_groups().send().await.unwrap();
    if !groups.db_subnet_groups().is_empty() {
        failures.push("a DB subnet group was made".to_owned());
    }
    if mode(not_a_dir) != 0o644 {
        failures.push(format!("the file given as --secrets-dir got mode {:o}", mode(not_a_dir)));
    }
    assert!(failures.is_empty(), "{} problems:\n\n{}", failures.len(), failures.join("\n\n"));
}
