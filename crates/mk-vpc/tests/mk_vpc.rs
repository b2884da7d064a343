//! mk-vpc against the real emulator: each test in its own account (so its
//! own default VPC), with its own client name. The emulator's default VPC
//! has no internet gateway and no default route (AWS's has both), so a
//! first run here takes the fixing path; the adopt path is set up by hand.

use analytics_tests::{Account, ToolRun, run, unique_client};
use aws_sdk_ec2::Client;
use aws_sdk_ec2::types::{AttributeBooleanValue, Filter, VpcAttributeName};

const BIN: &str = env!("CARGO_BIN_EXE_mk-vpc");
const ANYWHERE: &str = "0.0.0.0/0";

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

async fn subnets(ec2: &Client, vpc: &str) -> Vec<String> {
    let out = ec2.describe_subnets().filters(filter("vpc-id", vpc)).send().await.unwrap();
    let mut ids: Vec<String> = out.subnets().iter().map(|s| s.subnet_id().unwrap().to_owned()).collect();
    ids.sort();
    ids
}

async fn main_table(ec2: &Client, vpc: &str) -> String {
    let out = ec2
        .describe_route_tables()
        .filters(filter("vpc-id", vpc))
        .filters(filter("association.main", "true"))
        .send()
        .await
        .unwrap();
    out.route_tables()[0].route_table_id().unwrap().to_owned()
}

/// Where the table sends 0.0.0.0/0 (the gateway, instance or interface id).
async fn default_route(ec2: &Client, table: &str) -> Option<String> {
    let out = ec2.describe_route_tables().route_table_ids(table).send().await.unwrap();
    let t = &out.route_tables()[0];
    let r = t.routes().iter().find(|r| r.destination_cidr_block() == Some(ANYWHERE))?;
    r.gateway_id().or(r.network_interface_id()).or(r.nat_gateway_id()).map(str::to_owned)
}

/// The gateways attached to the VPC, with their tags.
async fn attached(ec2: &Client, vpc: &str) -> Vec<(String, Vec<(String, String)>)> {
    let out = ec2.describe_internet_gateways().filters(filter("attachment.vpc-id", vpc)).send().await.unwrap();
    out.internet_gateways()
        .iter()
        .map(|g| {
            let tags = g.tags().iter().map(|t| (t.key().unwrap().to_owned(), t.value().unwrap().to_owned())).collect();
            (g.internet_gateway_id().unwrap().to_owned(), tags)
        })
        .collect()
}

async fn gateway_exists(ec2: &Client, id: &str) -> bool {
    let out = ec2.describe_internet_gateways().filters(filter("internet-gateway-id", id)).send().await.unwrap();
    !out.internet_gateways().is_empty()
}

async fn dns(ec2: &Client, vpc: &str) -> (bool, bool) {
    let s =
        ec2.describe_vpc_attribute().vpc_id(vpc).attribute(VpcAttributeName::EnableDnsSupport).send().await.unwrap();
    let h =
        ec2.describe_vpc_attribute().vpc_id(vpc).attribute(VpcAttributeName::EnableDnsHostnames).send().await.unwrap();
    (
        s.enable_dns_support().and_then(aws_sdk_ec2::types::AttributeBooleanValue::value).unwrap(),
        h.enable_dns_hostnames().and_then(aws_sdk_ec2::types::AttributeBooleanValue::value).unwrap(),
    )
}

async fn set_hostnames(ec2: &Client, vpc: &str, on: bool) {
    ec2.modify_vpc_attribute()
        .vpc_id(vpc)
        .enable_dns_hostnames(AttributeBooleanValue::builder().value(on).build())
        .send()
        .await
        .unwrap();
}

async fn new_vpc(ec2: &Client, cidr: &str, subnet_cidr: &str) -> (String, String) {
    let vpc = ec2.create_vpc().cidr_block(cidr).send().await.unwrap().vpc().unwrap().vpc_id().unwrap().to_owned();
    let subnet = ec2.create_subnet().vpc_id(&vpc).cidr_block(subnet_cidr).send().await.unwrap();
    (vpc, subnet.subnet().unwrap().subnet_id().unwrap().to_owned())
}

#[tokio::test]
async fn dry_run_on_a_fresh_vpc_creates_nothing() {
    let a = Account::fresh().await;
    let c = unique_client("v");
    let ec2 = ec2(&a).await;
    let vpc = default_vpc(&ec2).await;
    let main = main_table(&ec2, &vpc).await;

    let r = mk(&a, &["--client", &c, "--dry-run"]).ok();
    assert_eq!(r.mutating(), 0);
    assert_eq!(r.json["dry_run"], true);
    assert_eq!(r.action("internet-gateway", &vpc), "would-create");
    assert_eq!(r.action("route", &format!("{main}:{ANYWHERE}")), "would-create");
    assert_eq!(r.action("vpc-attribute", &format!("{vpc}:enableDnsHostnames")), "unchanged");
    assert_eq!(r.json["outputs"]["vpc_id"], vpc.as_str());
    assert_eq!(r.json["outputs"]["route_table_id"], main.as_str());
    assert!(r.json["outputs"]["internet_gateway_id"].is_null());
    assert!(attached(&ec2, &vpc).await.is_empty());
    assert_eq!(default_route(&ec2, &main).await, None);
}

#[tokio::test]
async fn fixes_a_fresh_vpc_then_reruns_unchanged() {
    let a = Account::fresh().await;
    let c = unique_client("v");
    let ec2 = ec2(&a).await;
    let vpc = default_vpc(&ec2).await;
    let main = main_table(&ec2, &vpc).await;
    let subnet = subnets(&ec2, &vpc).await.remove(0);
    let args = ["--client", &c, "--subnet-id", &subnet, "--tag", "team=data"];

    let r = mk(&a, &args).ok();
    let gws = attached(&ec2, &vpc).await;
    assert_eq!(gws.len(), 1, "one gateway attached: {gws:?}");
    let (igw, tags) = &gws[0];
    for tag in [("analytics:client", c.as_str()), ("analytics:managed-by", "mk-vpc"), ("team", "data")] {
        assert!(tags.contains(&(tag.0.to_owned(), tag.1.to_owned())), "{tag:?} in {tags:?}");
    }
    assert_eq!(default_route(&ec2, &main).await.as_deref(), Some(igw.as_str()));
    assert_eq!(dns(&ec2, &vpc).await, (true, true));
    assert_eq!(r.action("internet-gateway", &vpc), "created");
    assert_eq!(r.action("route", &format!("{main}:{ANYWHERE}")), "created");
    assert_eq!(r.json["outputs"]["internet_gateway_id"], igw.as_str());
    assert_eq!(r.json["outputs"]["subnet_ids"], serde_json::json!([subnet]));
    assert_eq!(r.json["outputs"]["route_table_id"], main.as_str());
    assert_eq!(r.json["outputs"]["route_table_ids"][&subnet], main.as_str());
    assert_eq!(r.mutating(), 3, "create, attach, route: {}", r.json["api_calls"]);

    let again = mk(&a, &args).ok().all_unchanged();
    assert_eq!(again.json["changes"].as_array().unwrap().len(), 4);
    assert_eq!(again.json["outputs"]["internet_gateway_id"], igw.as_str());
    mk(&a, &[&args[..], &["--dry-run"]].concat()).ok().all_unchanged();
    assert_eq!(attached(&ec2, &vpc).await.len(), 1, "never a second gateway");
}

#[tokio::test]
async fn drift_is_corrected() {
    let a = Account::fresh().await;
    let c = unique_client("v");
    let ec2 = ec2(&a).await;
    let vpc = default_vpc(&ec2).await;
    let main = main_table(&ec2, &vpc).await;
    mk(&a, &["--client", &c]).ok();

    set_hostnames(&ec2, &vpc, false).await;
    ec2.delete_route().route_table_id(&main).destination_cidr_block(ANYWHERE).send().await.unwrap();
    let dry = mk(&a, &["--client", &c, "--dry-run"]).ok();
    assert_eq!(dry.mutating(), 0);
    assert_eq!(dry.action("vpc-attribute", &format!("{vpc}:enableDnsHostnames")), "would-update");
    assert_eq!(dry.action("route", &format!("{main}:{ANYWHERE}")), "would-create");
    assert_eq!(dry.action("internet-gateway", &vpc), "unchanged");

    let r = mk(&a, &["--client", &c]).ok();
    assert_eq!(r.action("vpc-attribute", &format!("{vpc}:enableDnsHostnames")), "updated");
    assert_eq!(r.action("vpc-attribute", &format!("{vpc}:enableDnsSupport")), "unchanged");
    assert_eq!(r.json["api_calls"]["by_operation"]["EC2.ModifyVpcAttribute"], 1);
    assert_eq!(dns(&ec2, &vpc).await, (true, true));
    let igw = r.json["outputs"]["internet_gateway_id"].as_str().unwrap();
    assert_eq!(default_route(&ec2, &main).await.as_deref(), Some(igw));
    mk(&a, &["--client", &c]).ok().all_unchanged();
}

#[tokio::test]
async fn an_existing_gateway_and_route_are_adopted_and_survive_destroy() {
    let a = Account::fresh().await;
    let c = unique_client("v");
    let ec2 = ec2(&a).await;
    let vpc = default_vpc(&ec2).await;
    let main = main_table(&ec2, &vpc).await;
    // As on AWS, where the default VPC comes with both.
    let igw = ec2.create_internet_gateway().send().await.unwrap();
    let igw = igw.internet_gateway().unwrap().internet_gateway_id().unwrap().to_owned();
    ec2.attach_internet_gateway().internet_gateway_id(&igw).vpc_id(&vpc).send().await.unwrap();
    ec2.create_route().route_table_id(&main).destination_cidr_block(ANYWHERE).gateway_id(&igw).send().await.unwrap();

    let r = mk(&a, &["--client", &c]).ok().all_unchanged();
    assert_eq!(r.mutating(), 0);
    assert_eq!(r.json["outputs"]["internet_gateway_id"], igw.as_str());
    assert_eq!(r.action("route", &format!("{main}:{ANYWHERE}")), "unchanged");
    let adopted = r.json["findings"].as_array().unwrap().iter().any(|f| {
        f["severity"] == "info"
            && f["message"].as_str().unwrap().contains(&igw)
            && f["message"].as_str().unwrap().contains("adopted")
    });
    assert!(adopted, "{}", r.json["findings"]);

    let d = mk(&a, &["--client", &c, "--destroy"]).ok();
    assert_eq!(d.mutating(), 0, "nothing of ours to remove: {:?}", d.actions());
    assert_eq!(attached(&ec2, &vpc).await.len(), 1);
    assert_eq!(default_route(&ec2, &main).await.as_deref(), Some(igw.as_str()));
}

#[tokio::test]
async fn a_default_route_elsewhere_is_reported_not_overwritten() {
    let a = Account::fresh().await;
    let c = unique_client("v");
    let ec2 = ec2(&a).await;
    let vpc = default_vpc(&ec2).await;
    let subnet = subnets(&ec2, &vpc).await.remove(0);
    // The subnet gets its own table, whose 0.0.0.0/0 goes to an appliance.
    let table = ec2.create_route_table().vpc_id(&vpc).send().await.unwrap();
    let table = table.route_table().unwrap().route_table_id().unwrap().to_owned();
    ec2.associate_route_table().route_table_id(&table).subnet_id(&subnet).send().await.unwrap();
    let eni = ec2.create_network_interface().subnet_id(&subnet).send().await.unwrap();
    let eni = eni.network_interface().unwrap().network_interface_id().unwrap().to_owned();
    ec2.create_route()
        .route_table_id(&table)
        .destination_cidr_block(ANYWHERE)
        .network_interface_id(&eni)
        .send()
        .await
        .unwrap();

    let r = mk(&a, &["--client", &c, "--subnet-id", &subnet]).ok();
    assert_eq!(r.json["outputs"]["route_table_id"], table.as_str(), "the subnet's own table, not the main one");
    let warning = r.json["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["severity"] == "warning" && f["message"].as_str().unwrap().contains(&eni))
        .unwrap_or_else(|| panic!("a warning names {eni}: {}", r.json["findings"]));
    assert!(warning["message"].as_str().unwrap().contains(&table));
    assert_eq!(default_route(&ec2, &table).await.as_deref(), Some(eni.as_str()));
    assert_eq!(r.json["api_calls"]["by_operation"].get("EC2.CreateRoute"), None);
    assert_eq!(default_route(&ec2, &main_table(&ec2, &vpc).await).await, None, "the main table is not this subnet's");
}

#[tokio::test]
async fn destroy_removes_only_what_it_created_and_keeps_dns_on() {
    let a = Account::fresh().await;
    let (c, other) = (unique_client("v"), unique_client("v"));
    let ec2 = ec2(&a).await;
    let vpc = default_vpc(&ec2).await;
    let main = main_table(&ec2, &vpc).await;
    let (other_vpc, other_subnet) = new_vpc(&ec2, "10.20.0.0/16", "10.20.1.0/24").await;
    let ours = mk(&a, &["--client", &c]).ok();
    let igw = ours.json["outputs"]["internet_gateway_id"].as_str().unwrap().to_owned();
    let theirs = mk(&a, &["--client", &other, "--vpc-id", &other_vpc, "--subnet-id", &other_subnet]).ok();
    let their_igw = theirs.json["outputs"]["internet_gateway_id"].as_str().unwrap().to_owned();
    let their_table = theirs.json["outputs"]["route_table_id"].as_str().unwrap().to_owned();

    let dry = mk(&a, &["--client", &c, "--destroy", "--dry-run"]).ok();
    assert_eq!(dry.mutating(), 0);
    assert_eq!(dry.action("internet-gateway", &vpc), "would-delete");
    assert!(gateway_exists(&ec2, &igw).await);

    let d = mk(&a, &["--client", &c, "--destroy"]).ok();
    assert_eq!(d.action("internet-gateway", &vpc), "deleted");
    assert_eq!(d.action("route", &format!("{main}:{ANYWHERE}")), "deleted");
    assert!(!gateway_exists(&ec2, &igw).await);
    assert_eq!(default_route(&ec2, &main).await, None);
    assert_eq!(dns(&ec2, &vpc).await, (true, true), "DNS is never turned off");
    assert!(gateway_exists(&ec2, &their_igw).await, "another client's gateway stays");
    assert_eq!(default_route(&ec2, &their_table).await.as_deref(), Some(their_igw.as_str()));

    let again = mk(&a, &["--client", &c, "--destroy"]).ok();
    assert_eq!(again.json["changes"].as_array().unwrap().len(), 0);
    assert_eq!(again.mutating(), 0);
}

#[tokio::test]
async fn bad_input_exits_2_before_any_mutating_call() {
    let a = Account::fresh().await;
    let c = unique_client("v");
    let ec2 = ec2(&a).await;
    let vpc = default_vpc(&ec2).await;
    let (other_vpc, other_subnet) = new_vpc(&ec2, "10.30.0.0/16", "10.30.1.0/24").await;
    let ours = subnets(&ec2, &vpc).await.remove(0);

    for (args, needle) in [
        (vec!["--client", "Bad_Client"], "invalid client name"),
        (vec!["--client", &c, "--vpc-id", "vpc-nothex"], "--vpc-id"),
        (vec!["--client", &c, "--subnet-id", "sn-0123"], "--subnet-id"),
    ] {
        let r = mk(&a, &args).bad_input(needle);
        assert_eq!(r.total(), 0, "{args:?}: found without any call");
    }
    let unknown_subnet = "subnet-0123456789abcdef0";
    let unknown_vpc = "vpc-0123456789abcdef0";
    for (args, needle) in [
        (vec!["--client", &c, "--subnet-id", &ours, "--subnet-id", unknown_subnet], unknown_subnet),
        (vec!["--client", &c, "--subnet-id", &other_subnet], other_subnet.as_str()),
        (vec!["--client", &c, "--subnet-id", &other_subnet], other_vpc.as_str()),
        (vec!["--client", &c, "--vpc-id", unknown_vpc], unknown_vpc),
        (vec!["--client", &c, "--vpc-id", &other_vpc, "--subnet-id", &ours], ours.as_str()),
        (vec!["--client", &c, "--destroy", "--subnet-id", unknown_subnet], unknown_subnet),
    ] {
        let r = mk(&a, &args).bad_input(needle);
        assert_eq!(r.mutating(), 0, "{args:?}");
    }
    assert!(attached(&ec2, &vpc).await.is_empty(), "nothing was created");
    assert!(attached(&ec2, &other_vpc).await.is_empty(), "nothing was created");
}
