//! mk-rds against the real emulator: each test in its own account (with its
//! own default VPC), with its own client name. The security groups mk-sg
//! would make are made here with the SDK. The emulator makes instances
//! `available` at once, so waiting is exercised by the unit tests of
//! `plan::readiness`; here a run that waits must still finish.

use std::path::Path;

use analytics_tests::{Account, ToolRun, mode, run, unique_client};
use aws_sdk_ec2::types::Filter;
use aws_sdk_rds::types::DbInstance;

const BIN: &str = env!("CARGO_BIN_EXE_mk-rds");

struct Env {
    account: Account,
    client: String,
    rds: aws_sdk_rds::Client,
    ec2: aws_sdk_ec2::Client,
    vpc: String,
    secrets: tempfile::TempDir,
}

impl Env {
    async fn new() -> Env {
        let account = Account::fresh().await;
        let sdk = account.sdk().await;
        let ec2 = aws_sdk_ec2::Client::new(&sdk);
        let vpcs = ec2
            .describe_vpcs()
            .filters(Filter::builder().name("is-default").values("true").build())
            .send()
            .await
            .unwrap();
        let vpc = vpcs.vpcs()[0].vpc_id().unwrap().to_owned();
        Env {
            client: unique_client("r"),
            rds: aws_sdk_rds::Client::new(&sdk),
            ec2,
            vpc,
            secrets: tempfile::tempdir().unwrap(),
            account,
        }
    }

    /// The run with this env's secrets directory.
    fn mk(&self, args: &[&str]) -> ToolRun {
        let dir = self.secrets.path().join("secrets");
        run(self.account.command(BIN).arg("--secrets-dir").arg(dir).args(args))
    }

    fn id(&self) -> String {
        format!("{}-analytics", self.client)
    }

    fn password_file(&self) -> std::path::PathBuf {
        self.secrets.path().join(format!("secrets/rds-{}.master-password", self.id()))
    }

    /// A security group in the default VPC, as mk-sg would make it.
    async fn group(&self, name: &str) -> String {
        let out =
            self.ec2.create_security_group().group_name(name).description(name).vpc_id(&self.vpc).send().await.unwrap();
        out.group_id().unwrap().to_owned()
    }

    async fn emr_rds(&self) -> String {
        self.group(&format!("{}-emr-rds", self.client)).await
    }

    async fn default_group(&self) -> String {
        let out = self
            .ec2
            .describe_security_groups()
            .filters(Filter::builder().name("vpc-id").values(&self.vpc).build())
            .filters(Filter::builder().name("group-name").values("default").build())
            .send()
            .await
            .unwrap();
        out.security_groups()[0].group_id().unwrap().to_owned()
    }

    async fn vpc_subnets(&self) -> Vec<String> {
        let out = self
            .ec2
            .describe_subnets()
            .filters(Filter::builder().name("vpc-id").values(&self.vpc).build())
            .send()
            .await
            .unwrap();
        let mut v: Vec<String> = out.subnets().iter().map(|s| s.subnet_id().unwrap().to_owned()).collect();
        v.sort();
        v
    }

    async fn instance(&self, id: &str) -> Option<DbInstance> {
        let out = self.rds.describe_db_instances().db_instance_identifier(id).send().await.ok()?;
        out.db_instances().first().cloned()
    }

    async fn subnet_group_exists(&self, name: &str) -> bool {
        self.rds.describe_db_subnet_groups().db_subnet_group_name(name).send().await.is_ok()
    }

    /// An instance made by hand (the edxapp database, or a stranger's).
    async fn foreign_instance(&self, id: &str, groups: &[String], tags: &[(&str, &str)]) {
        let subnets = format!("{id}-subnets");
        self.rds
            .create_db_subnet_group()
            .db_subnet_group_name(&subnets)
            .db_subnet_group_description("by hand")
            .set_subnet_ids(Some(self.vpc_subnets().await))
            .send()
            .await
            .unwrap();
        let mut req = self
            .rds
            .create_db_instance()
            .db_instance_identifier(id)
            .engine("mysql")
            .engine_version("8.0")
            .db_instance_class("db.t3.micro")
            .allocated_storage(20)
            .master_username("root")
            .master_user_password("by-hand-password")
            .db_subnet_group_name(&subnets)
            .set_vpc_security_group_ids((!groups.is_empty()).then(|| groups.to_vec()));
        for (k, v) in tags {
            req = req.tags(aws_sdk_rds::types::Tag::builder().key(*k).value(*v).build());
        }
        req.send().await.unwrap();
    }
}

fn groups(i: &DbInstance) -> Vec<String> {
    let mut v: Vec<String> =
        i.vpc_security_groups().iter().map(|g| g.vpc_security_group_id().unwrap().to_owned()).collect();
    v.sort();
    v
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

fn tags(i: &DbInstance) -> Vec<(String, String)> {
    i.tag_list().iter().map(|t| (t.key().unwrap().to_owned(), t.value().unwrap().to_owned())).collect()
}

fn has_finding(r: &ToolRun, needle: &str) -> bool {
    r.json["findings"].as_array().unwrap().iter().any(|f| f["message"].as_str().unwrap().contains(needle))
}

#[tokio::test]
async fn dry_run_on_an_empty_account_creates_nothing() {
    let e = Env::new().await;
    e.emr_rds().await;
    let r = e.mk(&["--client", &e.client, "--dry-run"]).ok();
    assert_eq!(r.action("rds-subnet-group", &e.id()), "would-create");
    assert_eq!(r.action("rds-instance", &e.id()), "would-create");
    assert_eq!(r.mutating(), 0);
    assert!(e.instance(&e.id()).await.is_none());
    assert!(!e.subnet_group_exists(&e.id()).await);
    assert!(!e.password_file().exists(), "no password is written under --dry-run");
}

#[tokio::test]
async fn creates_the_instance_with_every_setting_and_reruns_unchanged() {
    let e = Env::new().await;
    let emr_rds = e.emr_rds().await;
    let args = ["--client", &e.client, "--tag", "team=data"];
    let r = e.mk(&[&args[..], &["-vv"]].concat()).ok();
    let id = e.id();
    assert_eq!(r.action("rds-subnet-group", &id), "created");
    assert_eq!(r.action("rds-instance", &id), "created");
    assert_eq!(r.mutating(), 2, "CreateDBSubnetGroup and CreateDBInstance: {}", r.json["api_calls"]);

    let i = e.instance(&id).await.unwrap();
    assert_eq!(i.engine(), Some("mysql"));
    // MySQL 8.4 by default since 8.0 left RDS standard support (2026-07-31).
    assert!(i.engine_version().unwrap().starts_with("8.4"), "{:?}", i.engine_version());
    assert_eq!(i.db_instance_class(), Some("db.t3.medium"));
    assert_eq!(i.allocated_storage(), Some(20));
    assert_eq!(i.storage_type(), Some("gp3"));
    assert_eq!(i.storage_encrypted(), Some(true));
    assert_eq!(i.publicly_accessible(), Some(false));
    assert_eq!(i.backup_retention_period(), Some(7));
    assert_eq!(i.master_username(), Some("admin"));
    assert_eq!(groups(&i), sorted(vec![emr_rds, e.default_group().await]));
    let sg = i.db_subnet_group().unwrap();
    assert_eq!(sg.db_subnet_group_name(), Some(id.as_str()));
    assert_eq!(sg.vpc_id(), Some(e.vpc.as_str()));
    let subnets = sorted(sg.subnets().iter().map(|s| s.subnet_identifier().unwrap().to_owned()).collect());
    assert_eq!(subnets, e.vpc_subnets().await);
    let t = tags(&i);
    for tag in [("analytics:client", e.client.as_str()), ("analytics:managed-by", "mk-rds"), ("team", "data")] {
        assert!(t.contains(&(tag.0.to_owned(), tag.1.to_owned())), "{tag:?} in {t:?}");
    }
    let sg_arn = sg.db_subnet_group_arn().unwrap();
    let sg_tags = e.rds.list_tags_for_resource().resource_name(sg_arn).send().await.unwrap();
    assert!(sg_tags.tag_list().iter().any(|t| t.key() == Some("analytics:client") && t.value() == Some(&e.client)));

    let out = &r.json["outputs"];
    assert_eq!(out["endpoint"]["address"], i.endpoint().unwrap().address().unwrap());
    assert_eq!(out["endpoint"]["port"], 3306);
    assert_eq!(out["master_username"], "admin");
    assert_eq!(out["db_instance_id"], id);
    assert_eq!(out["subnet_group"], id);
    assert_eq!(Path::new(out["master_password_file"].as_str().unwrap()), e.password_file());

    // The password: in its file only, 0600 in a 0700 directory.
    let password = std::fs::read_to_string(e.password_file()).unwrap();
    assert!((24..=32).contains(&password.len()), "{}", password.len());
    assert!(!password.contains(['/', '@', '"', ' ']));
    assert_eq!(mode(e.password_file()), 0o600);
    assert_eq!(mode(e.password_file().parent().unwrap()), 0o700);
    assert!(!r.stdout.contains(&password) && !r.stderr.contains(&password), "the password is never printed");

    let again = e.mk(&[&args[..], &["-vv"]].concat()).ok().all_unchanged();
    assert_eq!(again.json["outputs"], r.json["outputs"]);
    assert!(!again.stdout.contains(&password) && !again.stderr.contains(&password));
    assert_eq!(std::fs::read_to_string(e.password_file()).unwrap(), password, "a re-run never changes it");
    e.mk(&[&args[..], &["--dry-run"]].concat()).ok().all_unchanged();
}

#[tokio::test]
async fn drift_is_corrected_with_one_modification() {
    let e = Env::new().await;
    let emr_rds = e.emr_rds().await;
    let bastion = e.group("bastion").await;
    e.mk(&["--client", &e.client]).ok();
    let id = e.id();
    // By hand: a bigger class, public, fewer backups, and the EMR-RDS group swapped for another.
    e.rds
        .modify_db_instance()
        .db_instance_identifier(&id)
        .db_instance_class("db.t3.large")
        .publicly_accessible(true)
        .backup_retention_period(1)
        .vpc_security_group_ids(&bastion)
        .apply_immediately(true)
        .send()
        .await
        .unwrap();

    let dry = e.mk(&["--client", &e.client, "--dry-run"]).ok();
    assert_eq!(dry.action("rds-instance", &id), "would-update");
    assert_eq!(dry.mutating(), 0);
    assert_eq!(e.instance(&id).await.unwrap().db_instance_class(), Some("db.t3.large"));

    let r = e.mk(&["--client", &e.client]).ok();
    assert_eq!(r.action("rds-instance", &id), "updated");
    assert_eq!(r.action("rds-subnet-group", &id), "unchanged");
    assert_eq!(r.mutating(), 1, "one ModifyDBInstance: {}", r.json["api_calls"]);
    let i = e.instance(&id).await.unwrap();
    assert_eq!(i.db_instance_class(), Some("db.t3.medium"));
    assert_eq!(i.publicly_accessible(), Some(false));
    assert_eq!(i.backup_retention_period(), Some(7));
    assert_eq!(groups(&i), sorted(vec![bastion, emr_rds, e.default_group().await]), "a group added by hand stays");
    e.mk(&["--client", &e.client]).ok().all_unchanged();

    // A new --tag is added to both resources, nothing else is touched.
    let r = e.mk(&["--client", &e.client, "--tag", "owner=ops"]).ok();
    assert_eq!(r.action("rds-instance", &id), "updated");
    assert_eq!(r.action("rds-subnet-group", &id), "updated");
    assert_eq!(r.json["api_calls"]["by_operation"]["RDS.AddTagsToResource"], 2);
    assert!(tags(&e.instance(&id).await.unwrap()).contains(&("owner".into(), "ops".into())));
    e.mk(&["--client", &e.client, "--tag", "owner=ops"]).ok().all_unchanged();
}

#[tokio::test]
async fn join_sg_adds_the_group_keeping_the_others_and_destroy_takes_it_back() {
    let e = Env::new().await;
    let emr_rds = e.emr_rds().await;
    let edxapp_sg = e.group("edxapp-db").await;
    let edxapp = format!("{}-edxapp", e.client);
    e.foreign_instance(&edxapp, std::slice::from_ref(&edxapp_sg), &[]).await;

    let r = e.mk(&["--client", &e.client, "--join-sg", &edxapp]).ok();
    let membership = format!("{edxapp}/{}-emr-rds", e.client);
    assert_eq!(r.action("rds-security-group-membership", &membership), "created");
    assert_eq!(groups(&e.instance(&edxapp).await.unwrap()), sorted(vec![edxapp_sg.clone(), emr_rds]));
    e.mk(&["--client", &e.client, "--join-sg", &edxapp]).ok().all_unchanged();

    let d = e.mk(&["--client", &e.client, "--destroy", "--skip-final-snapshot", "--join-sg", &edxapp]).ok();
    assert_eq!(d.action("rds-security-group-membership", &membership), "deleted");
    let i = e.instance(&edxapp).await.expect("the edxapp database is never deleted");
    assert_eq!(groups(&i), vec![edxapp_sg]);
}

#[tokio::test]
async fn destroy_takes_a_final_snapshot_and_spares_what_is_not_ours() {
    let e = Env::new().await;
    e.emr_rds().await;
    let other = unique_client("r");
    e.group(&format!("{other}-emr-rds")).await;
    e.mk(&["--client", &e.client]).ok();
    e.mk(&["--client", &other]).ok();
    let id = e.id();

    let dry = e.mk(&["--client", &e.client, "--destroy", "--dry-run"]).ok();
    assert_eq!(dry.action("rds-instance", &id), "would-delete");
    assert_eq!(dry.action("rds-subnet-group", &id), "would-delete");
    assert_eq!(dry.mutating(), 0);
    assert!(e.instance(&id).await.is_some());

    let d = e.mk(&["--client", &e.client, "--destroy"]).ok();
    assert_eq!(d.action("rds-instance", &id), "deleted");
    assert_eq!(d.action("rds-subnet-group", &id), "deleted");
    assert!(e.instance(&id).await.is_none());
    assert!(!e.subnet_group_exists(&id).await);
    let snaps = e.rds.describe_db_snapshots().db_instance_identifier(&id).send().await.unwrap();
    let names: Vec<&str> = snaps.db_snapshots().iter().filter_map(|s| s.db_snapshot_identifier()).collect();
    assert!(
        names.iter().any(|n| n.starts_with(&format!("{id}-final-")) && n.len() == id.len() + 7 + 14),
        "final snapshot <id>-final-<YYYYMMDDHHMMSS> in {names:?}"
    );
    assert!(e.password_file().exists(), "the password stays for restoring the snapshot");
    assert!(e.instance(&format!("{other}-analytics")).await.is_some(), "another client's instance stays");
    assert!(e.subnet_group_exists(&format!("{other}-analytics")).await);

    // An instance of the same name made by hand is adopted as it is, and left alone on destroy.
    let stranger = unique_client("r");
    e.foreign_instance(&format!("{stranger}-analytics"), &[], &[("team", "dba")]).await;
    e.group(&format!("{stranger}-emr-rds")).await;
    let adopted = e.mk(&["--client", &stranger]).ok();
    assert_eq!(adopted.action("rds-instance", &format!("{stranger}-analytics")), "unchanged");
    assert!(has_finding(&adopted, "adopted"), "{}", adopted.json["findings"]);
    assert!(has_finding(&adopted, "master-password does not exist"), "{}", adopted.json["findings"]);
    assert_eq!(adopted.json["outputs"]["master_username"], "root");
    let left = e.mk(&["--client", &stranger, "--destroy"]).ok();
    assert_eq!(left.json["changes"].as_array().unwrap().len(), 0, "{:?}", left.actions());
    assert_eq!(left.mutating(), 0);
    assert!(has_finding(&left, "left alone"));
    assert!(e.instance(&format!("{stranger}-analytics")).await.is_some());

    let again = e.mk(&["--client", &e.client, "--destroy"]).ok();
    assert_eq!(again.json["changes"].as_array().unwrap().len(), 0);
    assert_eq!(again.mutating(), 0);
}

#[tokio::test]
async fn no_wait_runs_finish_later() {
    let e = Env::new().await;
    e.emr_rds().await;
    let id = e.id();
    let r = e.mk(&["--client", &e.client, "--no-wait"]).ok();
    assert_eq!(r.action("rds-instance", &id), "created");
    e.mk(&["--client", &e.client]).ok().all_unchanged();

    let d = e.mk(&["--client", &e.client, "--destroy", "--skip-final-snapshot", "--no-wait"]).ok();
    assert_eq!(d.action("rds-instance", &id), "deleted");
    assert!(has_finding(&d, "re-run --destroy"), "{}", d.json["findings"]);
    assert!(e.subnet_group_exists(&id).await, "the subnet group waits for a later run");
    let snaps = e.rds.describe_db_snapshots().db_instance_identifier(&id).send().await.unwrap();
    assert!(snaps.db_snapshots().iter().all(|s| s.snapshot_type() != Some("manual")), "--skip-final-snapshot");
    let later = e.mk(&["--client", &e.client, "--destroy"]).ok();
    assert_eq!(later.action("rds-subnet-group", &id), "deleted");
    assert!(!e.subnet_group_exists(&id).await);
}

#[tokio::test]
async fn a_missing_emr_rds_group_fails_clearly() {
    let e = Env::new().await;
    let r = e.mk(&["--client", &e.client]);
    assert_eq!(r.status, 1, "{}", r.stderr);
    let line = r.stderr.lines().find(|l| l.starts_with("error:")).unwrap();
    assert!(line.contains(&format!("{}-emr-rds", e.client)) && line.contains("mk-sg"), "{line}");
    assert_eq!(r.mutating(), 0);
    assert!(!e.password_file().exists());
    assert!(!e.subnet_group_exists(&e.id()).await);
}

#[tokio::test]
async fn bad_input_exits_2_before_any_call() {
    let e = Env::new().await;
    let c = e.client.clone();
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["--client", &c, "--engine-version", "5.7"], "--engine-version"),
        (vec!["--client", &c, "--engine-version", "8.1"], "--engine-version"),
        (vec!["--client", &c, "--backup-days", "3"], "--backup-days"),
        (vec!["--client", &c, "--instance-class", "medium"], "--instance-class"),
        (vec!["--client", &c, "--storage-gb", "5"], "--storage-gb"),
        (vec!["--client", &c, "--db-instance-id", "1bad"], "--db-instance-id"),
        (vec!["--client", &c, "--master-username", "rdsadmin"], "--master-username"),
        (vec!["--client", &c, "--join-sg", "bad--id"], "--join-sg"),
        (vec!["--client", &c, "--skip-final-snapshot"], "--destroy"),
        (vec!["--client", &c, "--vpc-id", "subnet-1"], "--vpc-id"),
        (vec!["--client", "Bad"], "invalid client name"),
    ];
    for (args, needle) in cases {
        let r = e.mk(&args).bad_input(needle);
        if !r.stdout.is_empty() {
            assert_eq!(r.total(), 0, "{args:?}: no call at all for input checks");
        }
    }
    // Found by asking AWS, still before any mutating call:
    e.emr_rds().await;
    let r = e.mk(&["--client", &c, "--join-sg", "no-such-db"]).bad_input("no-such-db");
    assert_eq!(r.mutating(), 0);
    let r = e.mk(&["--client", &c, "--vpc-id", "vpc-0123456789abcdef0"]).bad_input("--vpc-id");
    assert_eq!(r.mutating(), 0);
    assert!(e.instance(&e.id()).await.is_none());
}
