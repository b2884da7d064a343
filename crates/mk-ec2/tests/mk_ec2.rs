//! mk-ec2 against the real emulator: each test in its own account, with
//! its own client name and secrets directory. What mk-sg and mk-iam would
//! have made (the two security groups, the instance profile) is made here
//! with the SDK.

use std::path::{Path, PathBuf};
use std::process::Command;

use analytics_tests::{Account, REGION, ToolRun, mode, moto_url, run, unique_client};
use aws_config::{BehaviorVersion, Region};
use aws_credential_types::Credentials;
use aws_sdk_ec2::Client;
use aws_sdk_ec2::types::{Filter, Instance, InstanceType, ResourceType, Tag, TagSpecification};
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_mk-ec2");

/// The Ubuntu 16.04 image every emulated account has (owner Canonical).
const XENIAL: &str = "ami-785db401";

const PUBLIC_KEY: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJen70KeFTRXMmmoaB7z1lgqR647SFrNRYQ9AFbv/90R ops@example";
const OTHER_PUBLIC_KEY: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIMbFcwT6EhdQsLyxzn9fH0RDcOVdGRV07GIVEUESREOq";

struct Setup {
    account: Account,
    client: String,
    ec2: Client,
    iam: aws_sdk_iam::Client,
    dir: tempfile::TempDir,
}

impl Setup {
    async fn new() -> Setup {
        let account = Account::fresh().await;
        let sdk = account.sdk().await;
        Setup {
            client: unique_client("e"),
            ec2: Client::new(&sdk),
            iam: aws_sdk_iam::Client::new(&sdk),
            account,
            dir: tempfile::tempdir().unwrap(),
        }
    }

    /// What mk-sg and mk-iam make for a client.
    async fn prerequisites_for(&self, client: &str) {
        let vpc = default_vpc(&self.ec2).await;
        for g in ["analytics", "director"] {
            self.ec2
                .create_security_group()
                .group_name(format!("{client}-{g}"))
                .description(g)
                .vpc_id(&vpc)
                .send()
                .await
                .unwrap();
        }
        let name = format!("{client}-edxanalytics");
        let trust = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;
        self.iam.create_role().role_name(&name).assume_role_policy_document(trust).send().await.unwrap();
        self.iam.create_instance_profile().instance_profile_name(&name).send().await.unwrap();
        self.iam.add_role_to_instance_profile().instance_profile_name(&name).role_name(&name).send().await.unwrap();
    }

    async fn prerequisites(&self) {
        self.prerequisites_for(&self.client).await;
    }

    fn secrets(&self) -> PathBuf {
        self.secrets_for(&self.client)
    }

    fn secrets_for(&self, client: &str) -> PathBuf {
        self.dir.path().join("secrets").join(client)
    }

    /// The tool for this setup's client, with the common flags.
    fn mk(&self, args: &[&str]) -> ToolRun {
        self.mk_for(&self.client, args)
    }

    fn mk_for(&self, client: &str, args: &[&str]) -> ToolRun {
        let secrets = self.secrets_for(client);
        run(self
            .account
            .command(BIN)
            .env("ANALYTICS_POLL_INITIAL_MS", "100")
            .args(["--client", client, "--secrets-dir"])
            .arg(&secrets)
            .args(args))
    }

    async fn live_instances(&self, client: &str) -> Vec<Instance> {
        instances(&self.ec2, client, &["pending", "running", "stopping", "stopped"]).await
    }
}

async fn default_vpc(ec2: &Client) -> String {
    let out =
        ec2.describe_vpcs().filters(Filter::builder().name("isDefault").values("true").build()).send().await.unwrap();
    out.vpcs()[0].vpc_id().unwrap().to_owned()
}

async fn instances(ec2: &Client, client: &str, states: &[&str]) -> Vec<Instance> {
    let out = ec2
        .describe_instances()
        .filters(Filter::builder().name("tag:analytics:client").values(client).build())
        .filters(
            Filter::builder()
                .name("instance-state-name")
                .set_values(Some(states.iter().map(std::string::ToString::to_string).collect()))
                .build(),
        )
        .send()
        .await
        .unwrap();
    out.reservations().iter().flat_map(aws_sdk_ec2::types::Reservation::instances).cloned().collect()
}

fn tag<'a>(i: &'a Instance, key: &str) -> Option<&'a str> {
    i.tags().iter().find(|t| t.key() == Some(key)).and_then(|t| t.value())
}

fn by_name<'a>(v: &'a [Instance], name: &str) -> &'a Instance {
    v.iter().find(|i| tag(i, "Name") == Some(name)).unwrap_or_else(|| panic!("no instance {name}"))
}

async fn group_id(ec2: &Client, vpc: &str, name: &str) -> String {
    let out = ec2
        .describe_security_groups()
        .filters(Filter::builder().name("vpc-id").values(vpc).build())
        .filters(Filter::builder().name("group-name").values(name).build())
        .send()
        .await
        .unwrap();
    out.security_groups()[0].group_id().unwrap().to_owned()
}

async fn key_pair_names(ec2: &Client, prefix: &str) -> Vec<String> {
    let out = ec2.describe_key_pairs().send().await.unwrap();
    out.key_pairs().iter().filter_map(|k| k.key_name()).filter(|n| n.starts_with(prefix)).map(str::to_owned).collect()
}

fn finding_with(r: &ToolRun, needle: &str) -> bool {
    r.json["findings"].as_array().unwrap().iter().any(|f| f["message"].as_str().unwrap().contains(needle))
}

fn write_file(dir: &Path, name: &str, body: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, body).unwrap();
    p
}

#[tokio::test]
async fn dry_run_on_a_fresh_account_launches_nothing() {
    let s = Setup::new().await;
    s.prerequisites().await;
    let r = s.mk(&["--ami-id", XENIAL, "--dry-run"]).ok();
    assert_eq!(r.mutating(), 0);
    assert_eq!(r.json["dry_run"], true);
    let c = &s.client;
    for (kind, name) in [
        ("ec2-key-pair", format!("{c}-analytics")),
        ("ec2-key-pair", format!("{c}-director")),
        ("ec2-instance", "analytics-1".to_owned()),
        ("ec2-instance", "director-1".to_owned()),
        ("iam-instance-profile-association", format!("analytics-1/{c}-edxanalytics")),
        ("elastic-ip", format!("{c}-analytics")),
    ] {
        assert_eq!(r.action(kind, &name), "would-create", "{kind} {name}");
    }
    assert_eq!(r.json["changes"].as_array().unwrap().len(), 6);
    assert!(s.live_instances(c).await.is_empty());
    assert!(key_pair_names(&s.ec2, c).await.is_empty());
    assert!(!s.secrets().exists(), "dry-run writes no file");
    assert_eq!(r.json["outputs"]["ami_id"], XENIAL);
}

#[tokio::test]
async fn launches_the_hosts_as_specified_and_reruns_unchanged() {
    let s = Setup::new().await;
    s.prerequisites().await;
    let c = s.client.clone();
    let r = s.mk(&["--ami-id", XENIAL, "--tag", "team=data"]).ok();
    eprintln!("first run api_calls: {}", r.json["api_calls"]);
    assert_eq!(r.action("ec2-instance", "analytics-1"), "created");
    assert_eq!(r.action("ec2-instance", "director-1"), "created");
    assert_eq!(r.action("elastic-ip", &format!("{c}-analytics")), "created");

    let live = s.live_instances(&c).await;
    assert_eq!(live.len(), 2);
    let vpc = default_vpc(&s.ec2).await;
    let default_sg = group_id(&s.ec2, &vpc, "default").await;

    // The analytics host.
    let a = by_name(&live, "analytics-1");
    assert_eq!(a.instance_type().unwrap().as_str(), "t3.medium");
    assert_eq!(a.image_id(), Some(XENIAL));
    assert!(
        a.iam_instance_profile().unwrap().arn().unwrap().ends_with(&format!("instance-profile/{c}-edxanalytics")),
        "{:?}",
        a.iam_instance_profile()
    );
    assert_eq!(a.metadata_options().unwrap().http_tokens().unwrap().as_str(), "required");
    assert_eq!(a.key_name(), Some(format!("{c}-analytics").as_str()));
    let mut groups: Vec<&str> = a.security_groups().iter().filter_map(|g| g.group_id()).collect();
    groups.sort();
    let mut want = vec![default_sg.clone(), group_id(&s.ec2, &vpc, &format!("{c}-analytics")).await];
    want.sort();
    assert_eq!(groups, want);
    for (k, v) in [
        ("analytics:client", c.as_str()),
        ("analytics:managed-by", "mk-ec2"),
        ("analytics:role", "analytics"),
        ("team", "data"),
    ] {
        assert_eq!(tag(a, k), Some(v), "{k}");
    }
    let root = &a.block_device_mappings()[0];
    assert_eq!(root.ebs().unwrap().delete_on_termination(), Some(true));
    let vol = s.ec2.describe_volumes().volume_ids(root.ebs().unwrap().volume_id().unwrap()).send().await.unwrap();
    let vol = &vol.volumes()[0];
    assert_eq!((vol.size(), vol.volume_type().unwrap().as_str()), (Some(50), "gp3"));
    assert!(vol.tags().iter().any(|t| t.key() == Some("analytics:client") && t.value() == Some(c.as_str())));

    // The director host.
    let d = by_name(&live, "director-1");
    assert_eq!(d.instance_type().unwrap().as_str(), "t3.micro");
    assert!(d.iam_instance_profile().is_none(), "no profile for the director");
    assert_eq!(d.key_name(), Some(format!("{c}-director").as_str()));
    assert_eq!(tag(d, "analytics:role"), Some("director"));
    let mut groups: Vec<&str> = d.security_groups().iter().filter_map(|g| g.group_id()).collect();
    groups.sort();
    let mut want = vec![default_sg, group_id(&s.ec2, &vpc, &format!("{c}-director")).await];
    want.sort();
    assert_eq!(groups, want);
    let vol = s
        .ec2
        .describe_volumes()
        .volume_ids(d.block_device_mappings()[0].ebs().unwrap().volume_id().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(vol.volumes()[0].size(), Some(8));

    // The Elastic IP, on the analytics host.
    let eip = &r.json["outputs"]["elastic_ip"];
    let addr = s.ec2.describe_addresses().allocation_ids(eip["allocation_id"].as_str().unwrap()).send().await.unwrap();
    let addr = &addr.addresses()[0];
    assert_eq!(addr.instance_id(), a.instance_id());
    assert_eq!(addr.public_ip(), eip["public_ip"].as_str());
    assert!(addr.tags().iter().any(|t| t.key() == Some("analytics:client") && t.value() == Some(c.as_str())));

    // Outputs.
    let out = &r.json["outputs"];
    assert_eq!(out["instances"]["analytics"][0]["id"], a.instance_id().unwrap());
    assert_eq!(out["instances"]["analytics"][0]["public_ip"], eip["public_ip"]);
    assert!(out["instances"]["analytics"][0]["private_ip"].is_string());
    assert_eq!(out["instances"]["director"]["id"], d.instance_id().unwrap());
    assert_eq!(out["vpc_id"], vpc);
    assert_eq!(out["ami_id"], XENIAL);
    // Through the director (the analytics group takes SSH from it only), each with its own key.
    let ssh = out["ssh"]["analytics"].as_str().unwrap();
    let private_ip = a.private_ip_address().unwrap();
    let director_ip = d.public_ip_address().unwrap();
    let director_key = s.secrets().join(format!("{c}-director.pem"));
    assert!(ssh.ends_with(&format!("ubuntu@{private_ip}")), "{ssh}");
    assert!(
        ssh.contains(&format!("ProxyCommand=ssh -i {} -W %h:%p ubuntu@{director_ip}", director_key.display())),
        "{ssh}"
    );
    assert!(out["ssh"]["jenkins_tunnel"].as_str().unwrap().contains("-L 8080:localhost:8080"));

    // Private keys: in the secrets directory, nowhere else.
    assert_eq!(mode(s.secrets()), 0o700);
    for role in ["analytics", "director"] {
        let file = s.secrets().join(format!("{c}-{role}.pem"));
        assert_eq!(out["key_pairs"][role]["private_key_file"], file.display().to_string());
        assert_eq!(out["key_pairs"][role]["name"], format!("{c}-{role}"));
        assert_eq!(mode(&file), 0o600);
        let pem = std::fs::read_to_string(&file).unwrap();
        assert!(pem.contains("PRIVATE KEY"), "{role}: not a private key");
        let body = pem.lines().nth(1).unwrap();
        for (stream, text) in [("stdout", &r.stdout), ("stderr", &r.stderr)] {
            assert!(!text.contains(body), "{stream} shows the private key");
            assert!(!text.contains("PRIVATE KEY"), "{stream} shows a private key");
        }
    }
    let key_tags = s.ec2.describe_key_pairs().key_names(format!("{c}-analytics")).send().await.unwrap();
    assert!(key_tags.key_pairs()[0].tags().iter().any(|t| t.key() == Some("analytics:client")));

    // A re-run finds everything again.
    let again = s.mk(&["--ami-id", XENIAL, "--tag", "team=data"]).ok().all_unchanged();
    eprintln!("re-run api_calls: {}", again.json["api_calls"]);
    assert_eq!(again.json["changes"].as_array().unwrap().len(), 6);
    assert_eq!(again.json["findings"], serde_json::json!([]));
    assert_eq!(s.live_instances(&c).await.len(), 2, "never a second host");
    assert_eq!(again.json["outputs"]["elastic_ip"], r.json["outputs"]["elastic_ip"]);
    s.mk(&["--ami-id", XENIAL, "--tag", "team=data", "--dry-run"]).ok().all_unchanged();
}

#[tokio::test]
async fn no_wait_then_a_wait_run_associates_the_address() {
    let s = Setup::new().await;
    s.prerequisites().await;
    let c = s.client.clone();
    let first = s.mk(&["--ami-id", XENIAL, "--no-director", "--analytics-count", "2", "--no-wait"]).ok();
    assert_eq!(first.action("ec2-instance", "analytics-1"), "created");
    assert_eq!(first.action("ec2-instance", "analytics-2"), "created");
    // Still pending: the address waits for a run that waits.
    assert_eq!(first.action("elastic-ip", &format!("{c}-analytics")), "created");
    assert!(finding_with(&first, "associated by a run once it is running"), "{}", first.json["findings"]);
    let second = s.mk(&["--ami-id", XENIAL, "--no-director", "--analytics-count", "2"]).ok();
    assert_ne!(second.action("ec2-instance", "analytics-1"), "created");
    assert_eq!(second.action("elastic-ip", &format!("{c}-analytics")), "updated");
    let live = s.live_instances(&c).await;
    assert_eq!(live.len(), 2);
    let eip = s
        .ec2
        .describe_addresses()
        .filters(Filter::builder().name("tag:analytics:client").values(&c).build())
        .send()
        .await
        .unwrap();
    assert_eq!(eip.addresses().len(), 1);
    assert_eq!(eip.addresses()[0].instance_id(), by_name(&live, "analytics-1").instance_id());
    s.mk(&["--ami-id", XENIAL, "--no-director", "--analytics-count", "2"]).ok().all_unchanged();
}

#[tokio::test]
async fn a_host_launched_without_its_profile_gets_it_associated() {
    let s = Setup::new().await;
    s.prerequisites().await;
    let c = s.client.clone();
    // Launched by hand, as the runbook once did, with the tags but no role.
    let tags: Vec<Tag> = [
        ("Name", "analytics-1"),
        ("analytics:client", c.as_str()),
        ("analytics:managed-by", "mk-ec2"),
        ("analytics:role", "analytics"),
    ]
    .iter()
    .map(|(k, v)| Tag::builder().key(*k).value(*v).build())
    .collect();
    let launched = s
        .ec2
        .run_instances()
        .image_id(XENIAL)
        .instance_type(InstanceType::T2Micro)
        .min_count(1)
        .max_count(1)
        .tag_specifications(
            TagSpecification::builder().resource_type(ResourceType::Instance).set_tags(Some(tags)).build(),
        )
        .send()
        .await
        .unwrap();
    let id = launched.instances()[0].instance_id().unwrap().to_owned();

    let r = s.mk(&["--ami-id", XENIAL, "--no-director", "--analytics-type", "t2.micro"]).ok();
    assert_eq!(r.action("iam-instance-profile-association", &format!("analytics-1/{c}-edxanalytics")), "created");
    assert_eq!(r.action("ec2-instance", "analytics-1"), "updated", "IMDSv2 is required afterwards");
    let live = s.live_instances(&c).await;
    assert_eq!(live.len(), 1, "the existing host is used, no second one");
    assert_eq!(live[0].instance_id(), Some(id.as_str()));
    assert!(
        live[0].iam_instance_profile().unwrap().arn().unwrap().ends_with(&format!("/{c}-edxanalytics")),
        "{:?}",
        live[0].iam_instance_profile()
    );
    assert_eq!(live[0].metadata_options().unwrap().http_tokens().unwrap().as_str(), "required");
    let assoc = s
        .ec2
        .describe_iam_instance_profile_associations()
        .filters(Filter::builder().name("instance-id").values(&id).build())
        .send()
        .await
        .unwrap();
    assert_eq!(assoc.iam_instance_profile_associations().len(), 1);
    s.mk(&["--ami-id", XENIAL, "--no-director", "--analytics-type", "t2.micro"]).ok().all_unchanged();

    // Type drift is a finding, never a change.
    let drift = s.mk(&["--ami-id", XENIAL, "--no-director"]).ok().all_unchanged();
    assert!(finding_with(&drift, "not a t3.medium"), "{}", drift.json["findings"]);
}

#[tokio::test]
async fn a_public_key_is_imported_instead_of_creating_keys() {
    let s = Setup::new().await;
    s.prerequisites().await;
    let c = s.client.clone();
    let pubfile = write_file(s.dir.path(), "ops.pub", &format!("{PUBLIC_KEY}\n"));
    let pubfile = pubfile.to_str().unwrap();
    let r = s.mk(&["--ami-id", XENIAL, "--no-director", "--public-key", pubfile]).ok();
    let name = format!("{c}-analytics");
    assert_eq!(r.action("ec2-key-pair", &name), "created");
    let k = s.ec2.describe_key_pairs().key_names(&name).include_public_key(true).send().await.unwrap();
    let stored = k.key_pairs()[0].public_key().unwrap();
    assert_eq!(stored.split_whitespace().nth(1), PUBLIC_KEY.split_whitespace().nth(1));
    assert!(key_pair_names(&s.ec2, &format!("{c}-director")).await.is_empty(), "--no-director makes no director key");
    assert!(!s.secrets().join(format!("{name}.pem")).exists(), "no private key for an imported key pair");
    assert_eq!(r.json["outputs"]["key_pairs"]["analytics"]["private_key_file"], Value::Null);
    assert!(!r.json["outputs"]["ssh"]["analytics"].as_str().unwrap().contains("-i "));
    let live = s.live_instances(&c).await;
    assert_eq!(live[0].key_name(), Some(name.as_str()));
    let tags = k.key_pairs()[0].tags();
    assert!(
        tags.iter().any(|t| t.key() == Some("analytics:private-key") && t.value() == Some("operator")),
        "tagged as the operator's key: {tags:?}"
    );

    let again = s.mk(&["--ami-id", XENIAL, "--no-director", "--public-key", pubfile]).ok().all_unchanged();
    assert_eq!(again.json["findings"], serde_json::json!([]));
    // Another key than the one imported: kept, and said.
    let other = write_file(s.dir.path(), "other.pub", OTHER_PUBLIC_KEY);
    let r = s.mk(&["--ami-id", XENIAL, "--no-director", "--public-key", other.to_str().unwrap()]).ok().all_unchanged();
    assert!(finding_with(&r, "holds another public key"), "{}", r.json["findings"]);
    // Without --public-key, the missing private key file is a warning, not a new key.
    let r = s.mk(&["--ami-id", XENIAL, "--no-director"]).ok().all_unchanged();
    assert!(finding_with(&r, "private key"), "{}", r.json["findings"]);
    assert!(finding_with(&r, "the operator holds its private key"), "{}", r.json["findings"]);
}

/// The public key EC2 holds for a key pair, without its comment.
async fn public_key_in_ec2(ec2: &Client, name: &str) -> String {
    let k = ec2.describe_key_pairs().key_names(name).include_public_key(true).send().await.unwrap();
    let line = k.key_pairs()[0].public_key().unwrap().to_owned();
    line.split_whitespace().take(2).collect::<Vec<_>>().join(" ")
}

/// The public key of a private key file, without its comment.
fn public_key_of_file(path: &Path) -> String {
    match mk_ec2::keys::private_key_file(&std::fs::read_to_string(path).unwrap()) {
        mk_ec2::keys::PrivateKeyFile::PublicKey(line) => line.split_whitespace().take(2).collect::<Vec<_>>().join(" "),
        other => panic!("{}: {other:?}", path.display()),
    }
}

#[tokio::test]
async fn key_pairs_are_made_here_and_a_private_key_file_is_imported_again() {
    let s = Setup::new().await;
    s.prerequisites().await;
    let c = s.client.clone();
    let name = format!("{c}-analytics");
    let file = s.secrets().join(format!("{name}.pem"));
    let r = s.mk(&["--ami-id", XENIAL, "--no-director"]).ok();
    assert_eq!(r.action("ec2-key-pair", &name), "created");
    assert_eq!(mode(&file), 0o600);
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(text.starts_with("-----BEGIN OPENSSH PRIVATE KEY-----"), "OpenSSH format");
    assert_eq!(public_key_in_ec2(&s.ec2, &name).await, public_key_of_file(&file), "EC2 holds the file's key");
    assert!(public_key_of_file(&file).starts_with("ssh-ed25519 "));
    let k = s.ec2.describe_key_pairs().key_names(&name).send().await.unwrap();
    let tags = k.key_pairs()[0].tags();
    assert!(
        tags.iter().any(|t| t.key() == Some("analytics:private-key") && t.value() == Some("secrets-dir")),
        "{tags:?}"
    );
    assert_eq!(r.json["outputs"]["key_pairs"]["analytics"]["private_key_file"], file.display().to_string());
    assert_eq!(r.json["outputs"]["key_pairs"]["analytics"]["id"], k.key_pairs()[0].key_pair_id().unwrap());
    assert!(!r.stderr.contains(text.lines().nth(1).unwrap()), "stderr shows the private key");

    // Gone from EC2 (a run stopped before its import, or deleted by hand):
    // the file's public key is imported again, the file left as it is.
    s.ec2.delete_key_pair().key_name(&name).send().await.unwrap();
    let dry = s.mk(&["--ami-id", XENIAL, "--no-director", "--dry-run"]).ok();
    assert_eq!(dry.action("ec2-key-pair", &name), "would-create");
    assert_eq!(dry.mutating(), 0);
    assert!(finding_with(&dry, "its public key is imported"), "{}", dry.json["findings"]);
    assert!(key_pair_names(&s.ec2, &name).await.is_empty(), "dry-run imports nothing");
    let r = s.mk(&["--ami-id", XENIAL, "--no-director"]).ok();
    assert_eq!(r.action("ec2-key-pair", &name), "created");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), text, "the private key file is never written over");
    assert_eq!(public_key_in_ec2(&s.ec2, &name).await, public_key_of_file(&file));
    assert_eq!(r.json["outputs"]["key_pairs"]["analytics"]["private_key_file"], file.display().to_string());
    s.mk(&["--ami-id", XENIAL, "--no-director"]).ok().all_unchanged();
}

#[tokio::test]
async fn a_key_pair_whose_private_key_was_never_stored_is_made_again() {
    let s = Setup::new().await;
    s.prerequisites().await;
    let c = s.client.clone();
    let name = format!("{c}-analytics");
    let file = s.secrets().join(format!("{name}.pem"));
    // What an earlier mk-ec2 left when its CreateKeyPair answer was lost:
    // the key pair, tagged for the client, and no private key anywhere.
    let tags: Vec<Tag> =
        [("analytics:client", c.as_str()), ("analytics:managed-by", "mk-ec2"), ("analytics:role", "analytics")]
            .iter()
            .map(|(k, v)| Tag::builder().key(*k).value(*v).build())
            .collect();
    let lost = s
        .ec2
        .create_key_pair()
        .key_name(&name)
        .key_type(aws_sdk_ec2::types::KeyType::Ed25519)
        .tag_specifications(
            TagSpecification::builder().resource_type(ResourceType::KeyPair).set_tags(Some(tags)).build(),
        )
        .send()
        .await
        .unwrap();
    let lost_id = lost.key_pair_id().unwrap().to_owned();

    let dry = s.mk(&["--ami-id", XENIAL, "--no-director", "--dry-run"]).ok();
    assert_eq!(dry.action("ec2-key-pair", &name), "would-update");
    assert_eq!(dry.mutating(), 0);
    assert!(finding_with(&dry, "deleted and made again"), "{}", dry.json["findings"]);
    assert!(!file.exists(), "dry-run writes no file");

    let r = s.mk(&["--ami-id", XENIAL, "--no-director"]).ok();
    assert_eq!(r.action("ec2-key-pair", &name), "updated");
    assert!(finding_with(&r, "was never stored"), "{}", r.json["findings"]);
    assert!(r.stderr.contains("deleted and made again"), "a warning line on stderr: {}", r.stderr);
    let k = s.ec2.describe_key_pairs().key_names(&name).send().await.unwrap();
    assert_ne!(k.key_pairs()[0].key_pair_id(), Some(lost_id.as_str()), "a new key pair");
    assert_eq!(mode(&file), 0o600);
    assert_eq!(public_key_in_ec2(&s.ec2, &name).await, public_key_of_file(&file), "its private key is kept");
    let live = s.live_instances(&c).await;
    assert_eq!(live[0].key_name(), Some(name.as_str()), "launched with the new key pair");
    assert_eq!(r.json["outputs"]["key_pairs"]["analytics"]["private_key_file"], file.display().to_string());

    // Now a host uses it: without the file, it is kept and said, never made again.
    std::fs::remove_file(&file).unwrap();
    let r = s.mk(&["--ami-id", XENIAL, "--no-director"]).ok().all_unchanged();
    assert!(finding_with(&r, "analytics-1 use it"), "{}", r.json["findings"]);
    assert_eq!(r.json["outputs"]["key_pairs"]["analytics"]["private_key_file"], Value::Null);
    assert!(!file.exists());
}

#[tokio::test]
async fn destroy_removes_this_clients_hosts_address_and_keys_only() {
    let s = Setup::new().await;
    let other = unique_client("e");
    s.prerequisites().await;
    s.prerequisites_for(&other).await;
    let c = s.client.clone();
    s.mk(&["--ami-id", XENIAL]).ok();
    let theirs = s.mk_for(&other, &["--ami-id", XENIAL]).ok();

    let dry = s.mk(&["--destroy", "--dry-run"]).ok();
    assert_eq!(dry.mutating(), 0);
    assert_eq!(dry.action("ec2-instance", "analytics-1"), "would-delete");
    assert_eq!(s.live_instances(&c).await.len(), 2);

    let r = s.mk(&["--destroy"]).ok();
    for (kind, name) in [
        ("ec2-instance", "analytics-1".to_owned()),
        ("ec2-instance", "director-1".to_owned()),
        ("elastic-ip", format!("{c}-analytics")),
        ("ec2-key-pair", format!("{c}-analytics")),
        ("ec2-key-pair", format!("{c}-director")),
    ] {
        assert_eq!(r.action(kind, &name), "deleted", "{kind} {name}");
    }
    assert!(s.live_instances(&c).await.is_empty());
    let gone = instances(&s.ec2, &c, &["terminated"]).await;
    assert_eq!(gone.len(), 2, "terminated, and waited for");
    assert!(key_pair_names(&s.ec2, &format!("{c}-")).await.is_empty());
    let eips = s
        .ec2
        .describe_addresses()
        .filters(Filter::builder().name("tag:analytics:client").values(&c).build())
        .send()
        .await
        .unwrap();
    assert!(eips.addresses().is_empty(), "released");
    assert_eq!(std::fs::read_dir(s.secrets()).unwrap().count(), 0, "private key files removed");

    // The other client's deployment is untouched.
    assert_eq!(s.live_instances(&other).await.len(), 2);
    assert_eq!(key_pair_names(&s.ec2, &format!("{other}-")).await.len(), 2);
    let theirs_eip = theirs.json["outputs"]["elastic_ip"]["allocation_id"].as_str().unwrap();
    let a = s.ec2.describe_addresses().allocation_ids(theirs_eip).send().await.unwrap();
    assert!(a.addresses()[0].instance_id().is_some());
    assert_eq!(std::fs::read_dir(s.secrets_for(&other)).unwrap().count(), 2);

    let again = s.mk(&["--destroy"]).ok();
    assert_eq!(again.json["changes"], serde_json::json!([]));
    assert_eq!(again.mutating(), 0);
}

#[tokio::test]
async fn missing_prerequisites_stop_a_run_before_any_change() {
    let s = Setup::new().await;
    let c = s.client.clone();
    let r = s.mk(&["--ami-id", XENIAL]);
    assert_eq!(r.status, 1, "stderr: {}", r.stderr);
    assert!(r.stderr.contains(&format!("security group {c}-analytics not found")), "{}", r.stderr);
    assert!(r.stderr.contains("run mk-sg first"), "{}", r.stderr);
    assert!(r.stderr.contains("run mk-iam first"), "{}", r.stderr);
    assert_eq!(r.mutating(), 0);
    assert!(key_pair_names(&s.ec2, &c).await.is_empty());
    // Under dry-run they are warnings.
    let dry = s.mk(&["--ami-id", XENIAL, "--dry-run"]).ok();
    assert!(finding_with(&dry, "run mk-sg first"), "{}", dry.json["findings"]);
}

#[tokio::test]
async fn image_lookup_by_release() {
    let s = Setup::new().await;
    s.prerequisites().await;
    // The emulator's own Canonical image of 16.04.
    let r = s.mk(&["--ubuntu-release", "xenial", "--dry-run"]).ok();
    assert_eq!(r.json["outputs"]["ami_id"], XENIAL);
    // No 22.04 image here: the run fails naming the pattern, having changed nothing.
    let r = s.mk(&["--ubuntu-release", "22.04"]);
    assert_eq!(r.status, 1, "stderr: {}", r.stderr);
    assert!(r.stderr.contains("ubuntu/images/hvm-ssd*/ubuntu-jammy-22.04-amd64-server-*"), "{}", r.stderr);
    assert_eq!(r.mutating(), 0);
}

/// A command in Canonical's own account (099720109477), the one place where
/// the emulator lets a test register an image that Canonical owns.
async fn canonical_account() -> (Command, Client) {
    let endpoint = moto_url();
    let base = aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new(REGION))
        .endpoint_url(&endpoint)
        .credentials_provider(Credentials::new("testing", "testing", None, None, "test"))
        .load()
        .await;
    let out = aws_sdk_sts::Client::new(&base)
        .assume_role()
        .role_arn("arn:aws:iam::099720109477:role/analytics-test")
        .role_session_name("analytics-test")
        .send()
        .await
        .unwrap();
    let creds = out.credentials().unwrap();
    let sdk = aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new(REGION))
        .endpoint_url(&endpoint)
        .credentials_provider(Credentials::new(
            creds.access_key_id(),
            creds.secret_access_key(),
            Some(creds.session_token().to_owned()),
            None,
            "test",
        ))
        .load()
        .await;
    let mut cmd = Command::new(BIN);
    cmd.env("AWS_ACCESS_KEY_ID", creds.access_key_id())
        .env("AWS_SECRET_ACCESS_KEY", creds.secret_access_key())
        .env("AWS_SESSION_TOKEN", creds.session_token())
        .env("AWS_ENDPOINT_URL", &endpoint)
        .env("AWS_REGION", REGION)
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env_remove("AWS_PROFILE")
        .env_remove("ANALYTICS_CLIENT")
        .env_remove("ANALYTICS_SECRETS_DIR");
    (cmd, Client::new(&sdk))
}

#[tokio::test]
async fn image_lookup_picks_canonicals_newest_current_image() {
    let (mut cmd, ec2) = canonical_account().await;
    // Images registered here are owned by Canonical; later ones are newer.
    let mut newest = String::new();
    for build in ["20240423", "20250610"] {
        let out = ec2
            .register_image()
            .name(format!("ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-amd64-server-{build}"))
            .root_device_name("/dev/sda1")
            .send()
            .await
            .unwrap();
        newest = out.image_id().unwrap().to_owned();
    }
    let arm = ec2
        .register_image()
        .name("ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-arm64-server-20991231")
        .send()
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let r =
        run(cmd.args(["--client", &unique_client("e"), "--dry-run", "--secrets-dir"]).arg(dir.path().join("s"))).ok();
    assert_eq!(r.json["outputs"]["ami_id"], newest.as_str(), "{}", r.stdout);
    assert_ne!(r.json["outputs"]["ami_id"], arm.image_id().unwrap(), "amd64 only");
    assert_eq!(r.mutating(), 0);
}

#[tokio::test]
async fn bad_input_exits_2_before_any_change() {
    let s = Setup::new().await;
    s.mk(&["--analytics-type", "huge"]).bad_input("--analytics-type");
    s.mk(&["--director-type", "t2.Micro"]).bad_input("--director-type");
    s.mk(&["--ubuntu-release", "12.04"]).bad_input("--ubuntu-release");
    s.mk(&["--public-key", "/nonexistent/ops.pub"]).bad_input("--public-key");
    let private = write_file(s.dir.path(), "id_ed25519", "-----BEGIN OPENSSH PRIVATE KEY-----\nb3Bl\n");
    s.mk(&["--public-key", private.to_str().unwrap()]).bad_input("private key");
    s.mk(&["--analytics-count", "0"]).bad_input("--analytics-count");
    run(s.account.command(BIN).args(["--client", "Bad_Name"])).bad_input("client");
    // Found by a read: still bad input, still nothing changed.
    s.mk(&["--ami-id", "ami-0123456789abcdef0"]).bad_input("--ami-id ami-0123456789abcdef0 not found");
    s.mk(&["--subnet-id", "subnet-0123456789abcdef0"]).bad_input("--subnet-id");
    assert!(key_pair_names(&s.ec2, &s.client).await.is_empty());
}
