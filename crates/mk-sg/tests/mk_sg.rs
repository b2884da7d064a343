//! mk-sg against the real emulator: each test in its own account (so its
//! own default VPC and its own EMR groups), with its own client names.
//! Rules are read back with the SDK and compared exactly.

use std::collections::{BTreeMap, BTreeSet};

use analytics_tests::{Account, ToolRun, run, unique_client};
use aws_sdk_ec2::Client;
use aws_sdk_ec2::types::{Filter, IpPermission, IpRange, UserIdGroupPair};

const BIN: &str = env!("CARGO_BIN_EXE_mk-sg");
const MASTER: &str = "ElasticMapReduce-master";
const SLAVE: &str = "ElasticMapReduce-slave";

async fn ec2(account: &Account) -> Client {
    Client::new(&account.sdk().await)
}

fn mk(account: &Account, args: &[&str]) -> ToolRun {
    run(account.command(BIN).args(args))
}

fn filter(name: &str, value: &str) -> Filter {
    Filter::builder().name(name).values(value).build()
}

async fn default_vpc(ec2: &Client) -> String {
    let out = ec2.describe_vpcs().filters(filter("isDefault", "true")).send().await.unwrap();
    out.vpcs()[0].vpc_id().unwrap().to_owned()
}

/// An inbound rule as the test sees it: `(protocol, from, to, source,
/// description)`, a source group by its name.
type Rule = (String, i32, i32, String, String);

/// A group as the test sees it: its inbound rules as
/// `(protocol, from, to, source, description)`, sources by group name.
#[derive(Debug)]
struct Group {
    id: String,
    tags: Vec<(String, String)>,
    ingress: BTreeSet<Rule>,
    /// Every group id any rule (in or out) refers to.
    refers_to: BTreeSet<String>,
}

/// Every group of the VPC, by name.
async fn groups(ec2: &Client, vpc: &str) -> BTreeMap<String, Group> {
    let out = ec2.describe_security_groups().filters(filter("vpc-id", vpc)).send().await.unwrap();
    let names: BTreeMap<String, String> = out
        .security_groups()
        .iter()
        .map(|g| (g.group_id().unwrap().to_owned(), g.group_name().unwrap().to_owned()))
        .collect();
    out.security_groups()
        .iter()
        .map(|g| {
            let mut ingress = BTreeSet::new();
            for p in g.ip_permissions() {
                let proto = p.ip_protocol().unwrap().to_owned();
                let (from, to) = if proto == "-1" { (-1, -1) } else { (p.from_port().unwrap(), p.to_port().unwrap()) };
                let mut add = |source: String, desc: Option<&str>| {
                    ingress.insert((proto.clone(), from, to, source, desc.unwrap_or_default().to_owned()));
                };
                for r in p.ip_ranges() {
                    add(r.cidr_ip().unwrap().to_owned(), r.description());
                }
                for r in p.ipv6_ranges() {
                    add(r.cidr_ipv6().unwrap().to_owned(), r.description());
                }
                for r in p.user_id_group_pairs() {
                    let id = r.group_id().unwrap();
                    add(names.get(id).cloned().unwrap_or(id.to_owned()), r.description());
                }
            }
            let refers_to = g
                .ip_permissions()
                .iter()
                .chain(g.ip_permissions_egress())
                .flat_map(aws_sdk_ec2::types::IpPermission::user_id_group_pairs)
                .map(|r| r.group_id().unwrap().to_owned())
                .collect();
            let tags = g.tags().iter().map(|t| (t.key().unwrap().to_owned(), t.value().unwrap().to_owned())).collect();
            (
                g.group_name().unwrap().to_owned(),
                Group { id: g.group_id().unwrap().to_owned(), tags, ingress, refers_to },
            )
        })
        .collect()
}

fn rule(proto: &str, port: i32, source: &str, desc: &str) -> Rule {
    let (from, to) = if proto == "-1" { (-1, -1) } else { (port, port) };
    (proto.to_owned(), from, to, source.to_owned(), desc.to_owned())
}

/// SPEC section 4, exactly, with the descriptions that say whose each rule is.
fn expected(c: &str, admin: &str) -> BTreeMap<String, BTreeSet<Rule>> {
    let own = format!("mk-sg:{c}");
    let (director, analytics) = (format!("{c}-director"), format!("{c}-analytics"));
    BTreeMap::from([
        (director.clone(), BTreeSet::from([rule("tcp", 22, admin, &own)])),
        (
            analytics.clone(),
            BTreeSet::from([
                rule("tcp", 22, &director, &own),
                rule("tcp", 80, "0.0.0.0/0", &own),
                rule("tcp", 443, "0.0.0.0/0", &own),
            ]),
        ),
        (
            MASTER.to_owned(),
            BTreeSet::from([
                rule("tcp", 22, &analytics, &own),
                rule("-1", 0, MASTER, "mk-sg"),
                rule("-1", 0, SLAVE, "mk-sg"),
            ]),
        ),
        (SLAVE.to_owned(), BTreeSet::from([rule("-1", 0, SLAVE, "mk-sg"), rule("-1", 0, MASTER, "mk-sg")])),
        // MySQL from EMR, and from the director (mk-rds-users' tunnel).
        (
            format!("{c}-emr-rds"),
            BTreeSet::from([
                rule("tcp", 3306, MASTER, &own),
                rule("tcp", 3306, SLAVE, &own),
                rule("tcp", 3306, &director, &own),
            ]),
        ),
    ])
}

async fn create_group(ec2: &Client, vpc: &str, name: &str) -> String {
    let out =
        ec2.create_security_group().group_name(name).description("made by hand").vpc_id(vpc).send().await.unwrap();
    out.group_id().unwrap().to_owned()
}

fn world_open(port: i32) -> IpPermission {
    IpPermission::builder()
        .ip_protocol("tcp")
        .from_port(port)
        .to_port(port)
        .ip_ranges(IpRange::builder().cidr_ip("0.0.0.0/0").description("quick test").build())
        .build()
}

#[tokio::test]
async fn dry_run_on_an_empty_vpc_creates_nothing() {
    let a = Account::fresh().await;
    let c = unique_client("s");
    let r = mk(&a, &["--client", &c, "--dry-run"]).ok();
    assert_eq!(r.mutating(), 0);
    for name in [format!("{c}-director"), format!("{c}-analytics"), MASTER.into(), SLAVE.into(), format!("{c}-emr-rds")]
    {
        assert_eq!(r.action("security-group", &name), "would-create");
    }
    assert_eq!(
        r.action("security-group-rule", &format!("{c}-analytics ingress tcp 22 from {c}-director")),
        "would-create"
    );
    assert!(r.json["outputs"]["security_groups"]["analytics"].is_null());
    let ec2 = ec2(&a).await;
    let vpc = default_vpc(&ec2).await;
    assert_eq!(r.json["outputs"]["vpc_id"], vpc.as_str());
    assert_eq!(groups(&ec2, &vpc).await.keys().collect::<Vec<_>>(), ["default"]);
}

#[tokio::test]
async fn creates_the_exact_rules_then_reruns_unchanged() {
    let a = Account::fresh().await;
    let c = unique_client("s");
    let args = ["--client", &c, "--admin-cidr", "203.0.113.0/24", "--tag", "team=data"];
    let r = mk(&a, &args).ok();
    let ec2 = ec2(&a).await;
    let vpc = default_vpc(&ec2).await;
    let found = groups(&ec2, &vpc).await;
    for (name, rules) in expected(&c, "203.0.113.0/24") {
        let g = &found[&name];
        assert_eq!(g.ingress, rules, "{name}");
        assert_eq!(r.action("security-group", &name), "created");
        for tag in [("analytics:client", c.as_str()), ("analytics:managed-by", "mk-sg"), ("team", "data")] {
            assert!(g.tags.contains(&(tag.0.to_owned(), tag.1.to_owned())), "{name}: {tag:?} in {:?}", g.tags);
        }
    }
    let ids = &r.json["outputs"]["security_groups"];
    for (key, name) in [
        ("director", format!("{c}-director")),
        ("analytics", format!("{c}-analytics")),
        ("emr_master", MASTER.to_owned()),
        ("emr_slave", SLAVE.to_owned()),
        ("emr_rds", format!("{c}-emr-rds")),
    ] {
        assert_eq!(ids[key], found[&name].id.as_str(), "{key}");
    }
    assert_eq!((r.total(), r.mutating()), (12, 10), "{}", r.json["api_calls"]);
    assert!(r.json["findings"].as_array().unwrap().is_empty(), "{}", r.json["findings"]);

    let again = mk(&a, &args).ok().all_unchanged();
    assert_eq!(again.total(), 2, "{}", again.json["api_calls"]);
    assert_eq!(again.json["changes"].as_array().unwrap().len(), 5 + 12);
    assert_eq!(&again.json["outputs"]["security_groups"], ids);
    mk(&a, &[&args[..], &["--dry-run"]].concat()).ok().all_unchanged();
}

#[tokio::test]
async fn default_admin_cidr_is_anywhere_with_a_warning_and_ipv6_works() {
    let a = Account::fresh().await;
    let c = unique_client("s");
    let r = mk(&a, &["--client", &c]).ok();
    let warning = r.json["findings"].as_array().unwrap().iter().any(|f| {
        f["severity"] == "warning"
            && f["message"].as_str().unwrap().contains("--admin-cidr")
            && f["message"].as_str().unwrap().contains(&format!("{c}-director"))
    });
    assert!(warning, "{}", r.json["findings"]);
    let ec2 = ec2(&a).await;
    let vpc = default_vpc(&ec2).await;
    assert_eq!(
        groups(&ec2, &vpc).await[&format!("{c}-director")].ingress,
        expected(&c, "0.0.0.0/0")[&format!("{c}-director")]
    );

    // Narrowing the admin range replaces our rule.
    let r = mk(&a, &["--client", &c, "--admin-cidr", "2001:db8:42::/48"]).ok();
    assert_eq!(r.action("security-group-rule", &format!("{c}-director ingress tcp 22 from 0.0.0.0/0")), "deleted");
    assert_eq!(
        r.action("security-group-rule", &format!("{c}-director ingress tcp 22 from 2001:db8:42::/48")),
        "created"
    );
    assert_eq!(
        groups(&ec2, &vpc).await[&format!("{c}-director")].ingress,
        BTreeSet::from([rule("tcp", 22, "2001:db8:42::/48", &format!("mk-sg:{c}"))])
    );
    mk(&a, &["--client", &c, "--admin-cidr", "2001:db8:42::/48"]).ok().all_unchanged();
}

#[tokio::test]
async fn drift_a_revoked_rule_returns_a_world_open_jenkins_is_reported_and_left() {
    let a = Account::fresh().await;
    let c = unique_client("s");
    let args = ["--client", &c, "--admin-cidr", "203.0.113.0/24"];
    let r = mk(&a, &args).ok();
    let ec2 = ec2(&a).await;
    let vpc = default_vpc(&ec2).await;
    let ids = &r.json["outputs"]["security_groups"];
    let (rds, slave, analytics) =
        (ids["emr_rds"].as_str().unwrap(), ids["emr_slave"].as_str().unwrap(), ids["analytics"].as_str().unwrap());

    let own = format!("mk-sg:{c}");
    let by_hand = IpPermission::builder()
        .ip_protocol("tcp")
        .from_port(3306)
        .to_port(3306)
        .user_id_group_pairs(UserIdGroupPair::builder().group_id(slave).description(&own).build())
        .build();
    ec2.revoke_security_group_ingress().group_id(rds).ip_permissions(by_hand).send().await.unwrap();
    ec2.authorize_security_group_ingress().group_id(analytics).ip_permissions(world_open(8080)).send().await.unwrap();

    let dry = mk(&a, &[&args[..], &["--dry-run"]].concat()).ok();
    assert_eq!(dry.mutating(), 0);
    let restored = format!("{c}-emr-rds ingress tcp 3306 from {SLAVE}");
    assert_eq!(dry.action("security-group-rule", &restored), "would-create");

    let r = mk(&a, &args).ok();
    assert_eq!(r.action("security-group-rule", &restored), "created");
    assert_eq!(r.mutating(), 1, "one authorize: {}", r.json["api_calls"]);
    let findings = r.json["findings"].as_array().unwrap();
    let jenkins: Vec<_> = findings
        .iter()
        .filter(|f| f["severity"] == "warning" && f["message"].as_str().unwrap().contains("8080"))
        .collect();
    assert_eq!(jenkins.len(), 1, "{findings:?}");
    assert!(jenkins[0]["message"].as_str().unwrap().contains(&format!("{c}-analytics")));

    let found = groups(&ec2, &vpc).await;
    assert_eq!(found[&format!("{c}-emr-rds")].ingress, expected(&c, "203.0.113.0/24")[&format!("{c}-emr-rds")]);
    let mut analytics_rules = expected(&c, "203.0.113.0/24")[&format!("{c}-analytics")].clone();
    analytics_rules.insert(rule("tcp", 8080, "0.0.0.0/0", "quick test"));
    assert_eq!(found[&format!("{c}-analytics")].ingress, analytics_rules, "someone else's rule is left in place");

    // Still reported on every run, never a change.
    let again = mk(&a, &args).ok().all_unchanged();
    assert!(again.json["findings"].as_array().unwrap().iter().any(|f| f["message"].as_str().unwrap().contains("8080")));
}

#[tokio::test]
async fn emr_groups_made_by_emr_are_adopted_and_kept_on_destroy() {
    let a = Account::fresh().await;
    let c = unique_client("s");
    let ec2 = ec2(&a).await;
    let vpc = default_vpc(&ec2).await;
    // As EMR leaves them: no tags, its own rules without description.
    let master = create_group(&ec2, &vpc, MASTER).await;
    let slave = create_group(&ec2, &vpc, SLAVE).await;
    let emr_rule = IpPermission::builder()
        .ip_protocol("tcp")
        .from_port(0)
        .to_port(65535)
        .user_id_group_pairs(UserIdGroupPair::builder().group_id(&slave).build())
        .build();
    ec2.authorize_security_group_ingress().group_id(&master).ip_permissions(emr_rule).send().await.unwrap();

    let r = mk(&a, &["--client", &c, "--admin-cidr", "203.0.113.0/24"]).ok();
    assert_eq!(r.action("security-group", MASTER), "unchanged");
    assert_eq!(r.action("security-group", SLAVE), "unchanged");
    assert_eq!(r.json["outputs"]["security_groups"]["emr_master"], master.as_str());
    let found = groups(&ec2, &vpc).await;
    assert!(found[MASTER].tags.is_empty(), "an adopted group is not tagged");
    let mut master_rules = expected(&c, "203.0.113.0/24")[MASTER].clone();
    master_rules.insert(("tcp".into(), 0, 65535, SLAVE.into(), String::new()));
    assert_eq!(found[MASTER].ingress, master_rules);

    let d = mk(&a, &["--client", &c, "--destroy"]).ok();
    let found = groups(&ec2, &vpc).await;
    assert_eq!(found.keys().cloned().collect::<BTreeSet<_>>(), ["default", MASTER, SLAVE].map(String::from).into());
    assert_eq!(found[MASTER].id, master, "EMR's groups stay");
    let analytics = r.json["outputs"]["security_groups"]["analytics"].as_str().unwrap();
    assert!(!found[MASTER].refers_to.contains(analytics), "no dangling reference");
    assert!(found[MASTER].ingress.contains(&("tcp".into(), 0, 65535, SLAVE.into(), String::new())), "EMR's rule stays");
    assert!(d.json["findings"].as_array().unwrap().iter().any(|f| f["message"].as_str().unwrap().contains(MASTER)));
}

#[tokio::test]
async fn destroy_spares_another_client_and_leaves_no_dangling_reference() {
    let a = Account::fresh().await;
    let (c, other) = (unique_client("s"), unique_client("s"));
    let ec2 = ec2(&a).await;
    let vpc = default_vpc(&ec2).await;
    let ours = mk(&a, &["--client", &c]).ok();
    mk(&a, &["--client", &other, "--admin-cidr", "198.51.100.0/24"]).ok();
    let theirs_before = groups(&ec2, &vpc).await;
    let our_ids: BTreeSet<String> = ours.json["outputs"]["security_groups"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect();

    let dry = mk(&a, &["--client", &c, "--destroy", "--dry-run"]).ok();
    assert_eq!(dry.mutating(), 0);
    assert_eq!(dry.action("security-group", &format!("{c}-analytics")), "would-delete");
    assert_eq!(groups(&ec2, &vpc).await.len(), theirs_before.len());

    let d = mk(&a, &["--client", &c, "--destroy"]).ok();
    let found = groups(&ec2, &vpc).await;
    for suffix in ["director", "analytics", "emr-rds"] {
        assert!(!found.contains_key(&format!("{c}-{suffix}")), "{suffix}");
        assert_eq!(d.action("security-group", &format!("{c}-{suffix}")), "deleted");
        assert!(found.contains_key(&format!("{other}-{suffix}")), "{suffix} of the other client");
    }
    // EMR's pair was made for the first client but the other one uses it.
    assert!(found.contains_key(MASTER) && found.contains_key(SLAVE));
    for (name, g) in &found {
        let dangling: Vec<_> =
            g.refers_to.intersection(&our_ids).filter(|id| !found.values().any(|x| &x.id == *id)).collect();
        assert!(dangling.is_empty(), "{name} still refers to deleted {dangling:?}");
    }
    let theirs = expected(&other, "198.51.100.0/24");
    for (name, rules) in &theirs {
        if !name.starts_with("ElasticMapReduce") {
            assert_eq!(&found[name].ingress, rules, "{name} untouched");
        }
    }
    // The shared groups lost only the first client's rule.
    assert_eq!(found[MASTER].ingress, theirs[MASTER]);
    assert_eq!(found[SLAVE].ingress, theirs[SLAVE]);
    assert_eq!(found[MASTER].ingress.len(), theirs_before[MASTER].ingress.len() - 1);

    mk(&a, &["--client", &other, "--admin-cidr", "198.51.100.0/24"]).ok().all_unchanged();
    let again = mk(&a, &["--client", &c, "--destroy"]).ok();
    assert_eq!(again.json["changes"].as_array().unwrap().len(), 0);
    assert_eq!(again.mutating(), 0);
}

#[tokio::test]
async fn destroy_alone_removes_emr_groups_it_made_and_refuses_groups_in_use() {
    let a = Account::fresh().await;
    let c = unique_client("s");
    let ec2 = ec2(&a).await;
    let vpc = default_vpc(&ec2).await;
    let r = mk(&a, &["--client", &c]).ok();
    let analytics = r.json["outputs"]["security_groups"]["analytics"].as_str().unwrap();

    // A host still in the analytics group: destroy must wait for it.
    let subnet = ec2.describe_subnets().filters(filter("vpc-id", &vpc)).send().await.unwrap();
    let subnet = subnet.subnets()[0].subnet_id().unwrap().to_owned();
    let eni = ec2.create_network_interface().subnet_id(&subnet).groups(analytics).send().await.unwrap();
    let eni = eni.network_interface().unwrap().network_interface_id().unwrap().to_owned();
    let refused = mk(&a, &["--client", &c, "--destroy"]);
    assert_eq!(refused.status, 1, "{}", refused.stderr);
    assert!(refused.stderr.contains(&eni), "{}", refused.stderr);
    assert_eq!(refused.mutating(), 0);
    assert_eq!(groups(&ec2, &vpc).await.len(), 6);
    ec2.delete_network_interface().network_interface_id(&eni).send().await.unwrap();

    let d = mk(&a, &["--client", &c, "--destroy"]).ok();
    assert_eq!(d.action("security-group", MASTER), "deleted");
    assert_eq!(d.action("security-group", SLAVE), "deleted");
    assert_eq!(groups(&ec2, &vpc).await.keys().collect::<Vec<_>>(), ["default"]);
}

#[tokio::test]
async fn bad_input_exits_2() {
    let a = Account::fresh().await;
    let c = unique_client("s");
    for (args, needle) in [
        (vec!["--client", &c, "--admin-cidr", "203.0.113.7"], "--admin-cidr"),
        (vec!["--client", &c, "--admin-cidr", "10.0.0.0/33"], "--admin-cidr"),
        (vec!["--client", &c, "--admin-cidr", "10.1.2.3/8"], "10.0.0.0/8"),
        (vec!["--client", &c, "--admin-cidr", "2001:db8::/200"], "--admin-cidr"),
        (vec!["--client", &c, "--vpc-id", "vpc-xyz"], "--vpc-id"),
        (vec!["--client", &c, "--analytics-group", "sg-mine"], "sg-"),
        (vec!["--client", "ab"], "invalid client name"),
    ] {
        let r = mk(&a, &args).bad_input(needle);
        assert_eq!(r.total(), 0, "{args:?}: no call at all");
    }
    let unknown = "vpc-0123456789abcdef0";
    let r = mk(&a, &["--client", &c, "--vpc-id", unknown]).bad_input(unknown);
    assert_eq!(r.mutating(), 0);
    let ec2 = ec2(&a).await;
    assert_eq!(groups(&ec2, &default_vpc(&ec2).await).await.len(), 1, "nothing was created");
}
