//! What more than one end-to-end test checks.

use analytics_tests::Runbook;

/// Nothing of the runbook's deployment is left on the emulator (after
/// destroy.sh): buckets, IAM, search domain, database, hosts, groups, keys,
/// addresses, internet gateway. The shared EMR role stays.
pub async fn assert_nothing_left(rb: &Runbook) {
    let c = &rb.client;
    let sdk = rb.account.sdk().await;
    let s3 = analytics_tests::s3_client(&sdk);
    let iam = aws_sdk_iam::Client::new(&sdk);
    let ec2 = aws_sdk_ec2::Client::new(&sdk);
    let rds = aws_sdk_rds::Client::new(&sdk);
    let es = aws_sdk_opensearch::Client::new(&sdk);
    for b in ["tracking-logs", "analytics-emr", "edxanalytics", "analytics-api-reports"] {
        assert!(s3.head_bucket().bucket(format!("{c}-{b}")).send().await.is_err(), "bucket {b} left");
    }
    assert!(iam.get_user().user_name(format!("{c}-analytics-elasticsearch")).send().await.is_err());
    assert!(iam.get_role().role_name(format!("{c}-edxanalytics")).send().await.is_err());
    assert!(iam.get_instance_profile().instance_profile_name(format!("{c}-edxanalytics")).send().await.is_err());
    let policies = iam.list_policies().scope(aws_sdk_iam::types::PolicyScopeType::Local).send().await.unwrap();
    assert!(policies.policies().iter().all(|p| !p.policy_name().unwrap_or_default().starts_with(c)));
    iam.get_role().role_name("EMR_EC2_DefaultRole").send().await.expect("the shared EMR role stays");
    assert!(es.describe_domain().domain_name(format!("{c}-analytics-es")).send().await.is_err());
    assert!(rds.describe_db_instances().db_instance_identifier(format!("{c}-analytics")).send().await.is_err());
    let left = ec2
        .describe_instances()
        .filters(aws_sdk_ec2::types::Filter::builder().name("tag:analytics:client").values(c).build())
        .send()
        .await
        .unwrap();
    for i in left.reservations().iter().flat_map(aws_sdk_ec2::types::Reservation::instances) {
        assert_eq!(
            i.state().and_then(|s| s.name()).map(aws_sdk_ec2::types::InstanceStateName::as_str),
            Some("terminated")
        );
    }
    let sgs = ec2.describe_security_groups().send().await.unwrap();
    assert!(sgs.security_groups().iter().all(|g| !g.group_name().unwrap_or_default().starts_with(c)));
    let keys = ec2.describe_key_pairs().send().await.unwrap();
    assert!(keys.key_pairs().iter().all(|k| !k.key_name().unwrap_or_default().starts_with(c)));
    let addresses = ec2.describe_addresses().send().await.unwrap();
    assert!(addresses.addresses().is_empty(), "the Elastic IP is released");
    let igws = ec2
        .describe_internet_gateways()
        .filters(aws_sdk_ec2::types::Filter::builder().name("tag:analytics:client").values(c).build())
        .send()
        .await
        .unwrap();
    assert!(igws.internet_gateways().is_empty(), "the internet gateway is deleted");
}
