//! The strict AWS simulation (scripts/aws-sim.py, tests/AWS-SIM.md) at the
//! protocol level: for each rule, SDK clients (their own retries disabled,
//! so each answer is seen raw) get the error code or the state real AWS
//! gives, the rule's line is logged and counted, and once its window has
//! passed the call succeeds or the state reads as the emulator's. With no
//! rules the simulation is transparent.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use analytics_tests::sim::{AwsSim, python};
use analytics_tests::{Account, moto_url, repo_root, s3_client, unique_client};
use aws_config::SdkConfig;
use aws_config::retry::RetryConfig;
use aws_sdk_ec2::error::ProvideErrorMetadata;
use aws_sdk_ec2::primitives::Blob;
use aws_sdk_ec2::types::{Filter, IamInstanceProfileSpecification, InstanceType, IpPermission, IpRange, Tag};
use aws_sdk_opensearch::types::ClusterConfig;
use aws_sdk_s3::primitives::ByteStream;

/// Windows that the tests end themselves ([`AwsSim::end_windows`]) once
/// they have seen the refusals: long, so that a loaded machine cannot end
/// them first.
const LONG_MS: u64 = 60_000;
/// The window of the test that waits for one to end by itself.
const TIMED_MS: u64 = 5_000;
/// rds-states' window, waited for: creating, backing-up and
/// storage-optimization last 40%, 30% and 30% of it.
const RDS_MS: u64 = 6_000;

const ECDSA_KEY: &str = "ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBN1Cud+nEpinPAsTgqrUS\
                         jxEsi5srWyZ/UH8imQISCiQbhJdsJipTN7thf5w+v6nn46A2ECSk5sA8ynIGRrTGN8= sim-ecdsa";
const ED25519_KEY: &str =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIIUyLdQmUW841HsofagTDiTlQzXlVt9/gVNPnVJBBr2S sim-ed25519";
const AMI: &str = "ami-12c6146b";

type SdkResult<T, E> = Result<T, aws_sdk_ec2::error::SdkError<E, aws_sdk_ec2::config::http::HttpResponse>>;

/// What a refused call gave: (HTTP status, error code, message).
#[track_caller]
fn refused<T: std::fmt::Debug, E: ProvideErrorMetadata + std::fmt::Debug>(r: SdkResult<T, E>) -> (u16, String, String) {
    let e = r.expect_err("the simulation should have refused this call");
    let status = e.raw_response().map(|r| r.status().as_u16()).unwrap_or_default();
    (status, e.code().unwrap_or_default().to_owned(), e.message().unwrap_or_default().to_owned())
}

/// Asserts a refusal with `status` and `code`; returns the message.
#[track_caller]
fn assert_refused<T: std::fmt::Debug, E: ProvideErrorMetadata + std::fmt::Debug>(
    r: SdkResult<T, E>,
    status: u16,
    code: &str,
) -> String {
    let (got_status, got_code, message) = refused(r);
    assert_eq!((got_status, got_code.as_str()), (status, code), "refused with: {message}");
    message
}

/// A fresh account, and its SDK configuration pointed at the simulation
/// with retries disabled.
async fn through(sim: &AwsSim) -> (Account, SdkConfig) {
    let account = Account::fresh().await;
    let sdk = account.sdk().await.into_builder().endpoint_url(sim.url()).retry_config(RetryConfig::disabled()).build();
    (account, sdk)
}

/// Waits until `since + window` has passed (plus a margin).
async fn past_window(sim: &AwsSim, since: Instant) {
    let until = since + sim.delay() + Duration::from_millis(150);
    tokio::time::sleep(until.saturating_duration_since(Instant::now())).await;
}

/// Asserts the rule fired exactly `n` times, each with one log line, and no other rule fired.
#[track_caller]
fn assert_fired(sim: &AwsSim, rule: &str, n: u64) {
    let fired = sim.fired();
    let want: BTreeMap<String, u64> = [(rule.to_owned(), n)].into();
    assert_eq!(fired, want, "log:\n{}", sim.log());
    let lines = sim.fired_lines(rule);
    assert_eq!(u64::try_from(lines.len()).unwrap(), n, "one line per firing:\n{}", sim.log());
}

async fn default_vpc(ec2: &aws_sdk_ec2::Client) -> String {
    let vpcs =
        ec2.describe_vpcs().filters(Filter::builder().name("is-default").values("true").build()).send().await.unwrap();
    vpcs.vpcs()[0].vpc_id().unwrap().to_owned()
}

fn ssh_from_anywhere() -> IpPermission {
    IpPermission::builder()
        .ip_protocol("tcp")
        .from_port(22)
        .to_port(22)
        .ip_ranges(IpRange::builder().cidr_ip("10.0.0.0/8").build())
        .build()
}

fn run_one(
    ec2: &aws_sdk_ec2::Client,
    instance_type: &str,
) -> aws_sdk_ec2::operation::run_instances::builders::RunInstancesFluentBuilder {
    ec2.run_instances().image_id(AMI).instance_type(InstanceType::from(instance_type)).min_count(1).max_count(1)
}

fn create_db(
    rds: &aws_sdk_rds::Client,
    id: &str,
) -> aws_sdk_rds::operation::create_db_instance::builders::CreateDBInstanceFluentBuilder {
    rds.create_db_instance()
        .db_instance_identifier(id)
        .engine("mysql")
        .db_instance_class("db.t3.micro")
        .allocated_storage(20)
        .master_username("admin")
        .master_user_password("correct-horse-battery")
}

fn policy_for(principal: &str) -> String {
    serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"AWS": principal}, "Action": "es:*", "Resource": "*"}]
    })
    .to_string()
}

const ASSUME_EC2: &str = r#"{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]}"#;

fn small_domain(
    es: &aws_sdk_opensearch::Client,
    name: &str,
) -> aws_sdk_opensearch::operation::create_domain::builders::CreateDomainFluentBuilder {
    es.create_domain()
        .domain_name(name)
        .engine_version("OpenSearch_2.11")
        .cluster_config(ClusterConfig::builder().instance_type("t3.small.search".into()).instance_count(1).build())
}

async fn domain_status(es: &aws_sdk_opensearch::Client, name: &str) -> aws_sdk_opensearch::types::DomainStatus {
    es.describe_domain().domain_name(name).send().await.unwrap().domain_status().unwrap().clone()
}

async fn db_status(rds: &aws_sdk_rds::Client, id: &str) -> (String, bool) {
    let out = rds.describe_db_instances().db_instance_identifier(id).send().await.unwrap();
    let db = &out.db_instances()[0];
    (db.db_instance_status().unwrap().to_owned(), db.endpoint().is_some())
}

async fn instance_state(ec2: &aws_sdk_ec2::Client, id: &str) -> String {
    let out = ec2.describe_instances().instance_ids(id).send().await.unwrap();
    let i = &out.reservations()[0].instances()[0];
    i.state().unwrap().name().unwrap().as_str().to_owned()
}

/// With no rule on, every call that some rule would refuse or rewrite goes
/// to the emulator and its answer comes back unchanged.
#[tokio::test]
async fn no_rules_is_transparent() {
    let sim = AwsSim::start(&moto_url(), "none", LONG_MS);
    let (account, sdk) = through(&sim).await;
    let (ec2, s3, iam) = (aws_sdk_ec2::Client::new(&sdk), s3_client(&sdk), aws_sdk_iam::Client::new(&sdk));
    let (es, rds) = (aws_sdk_opensearch::Client::new(&sdk), aws_sdk_rds::Client::new(&sdk));
    let c = unique_client("simn");
    let mut calls = 0;

    let vpc = default_vpc(&ec2).await;
    let sg = ec2.create_security_group().group_name(&c).description("sim").vpc_id(&vpc).send().await.unwrap();
    let sg = sg.group_id().unwrap().to_owned();
    ec2.authorize_security_group_ingress().group_id(&sg).ip_permissions(ssh_from_anywhere()).send().await.unwrap();
    let igw = ec2.create_internet_gateway().send().await.unwrap();
    let igw = igw.internet_gateway().unwrap().internet_gateway_id().unwrap().to_owned();
    ec2.attach_internet_gateway().internet_gateway_id(&igw).vpc_id(&vpc).send().await.unwrap();
    calls += 5;

    let bucket = format!("{c}-bucket");
    s3.create_bucket().bucket(&bucket).send().await.unwrap();
    s3.put_object().bucket(&bucket).key("k").body(ByteStream::from_static(b"x")).send().await.unwrap();
    s3.put_public_access_block()
        .bucket(&bucket)
        .public_access_block_configuration(
            aws_sdk_s3::types::PublicAccessBlockConfiguration::builder().block_public_acls(true).build(),
        )
        .send()
        .await
        .unwrap();
    s3.head_bucket().bucket(&bucket).send().await.unwrap();
    calls += 4;

    let user = iam.create_user().user_name(&c).send().await.unwrap().user().unwrap().arn().to_owned();
    iam.create_role().role_name(&c).assume_role_policy_document(ASSUME_EC2).send().await.unwrap();
    iam.put_role_policy()
        .role_name(&c)
        .policy_name("inline")
        .policy_document(r#"{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "*"}]}"#)
        .send()
        .await
        .unwrap();
    calls += 3;

    let domain = format!("{c}-es");
    small_domain(&es, &domain).access_policies(policy_for(&user)).send().await.unwrap();
    let status = domain_status(&es, &domain).await;
    assert!(!status.processing().unwrap_or(true) && status.endpoint().is_some(), "{status:?}");
    es.update_domain_config().domain_name(&domain).access_policies(policy_for(&user)).send().await.unwrap();
    calls += 3;

    let db = format!("{c}-db");
    create_db(&rds, &db).send().await.unwrap();
    assert_eq!(db_status(&rds, &db).await, ("available".to_owned(), true));
    rds.modify_db_instance().db_instance_identifier(&db).backup_retention_period(3).send().await.unwrap();
    calls += 3;

    // The emulator takes t2 and answers running at once.
    let run = run_one(&ec2, "t2.micro").send().await.unwrap();
    let instance = run.instances()[0].instance_id().unwrap().to_owned();
    assert_eq!(instance_state(&ec2, &instance).await, "running");
    let offerings = ec2.describe_instance_type_offerings().send().await.unwrap();
    assert!(
        offerings
            .instance_type_offerings()
            .iter()
            .any(|o| o.instance_type().is_some_and(|t| t.as_str().starts_with("t2."))),
        "the emulator offers t2 types"
    );
    calls += 3;
    // The emulator's own refusal of an ECDSA key (AWS says InvalidKey.Format).
    let key = ec2.import_key_pair().key_name(&c).public_key_material(Blob::new(ECDSA_KEY)).send().await;
    assert_refused(key, 400, "InvalidKeyPair.Format");
    calls += 1;
    // The account id of the caller, for the record.
    assert!(user.contains(&account.id), "{user}");

    let stats = sim.stats();
    assert_eq!(sim.fired(), BTreeMap::new(), "no rule fires with none on:\n{}", sim.log());
    assert_eq!(stats["forwarded"], calls, "every call forwarded once: {stats}");
    assert!(!sim.log().contains(" fired: "), "{}", sim.log());
}

/// sg-not-visible: a new group is not found for a while by the calls that
/// name it (EC2 format), and RDS answers InvalidParameterValue; then the
/// same calls go through.
#[tokio::test]
async fn sg_not_visible() {
    let sim = AwsSim::start(&moto_url(), "sg-not-visible", LONG_MS);
    let (_, sdk) = through(&sim).await;
    let (ec2, rds) = (aws_sdk_ec2::Client::new(&sdk), aws_sdk_rds::Client::new(&sdk));
    let c = unique_client("simsg");
    let vpc = default_vpc(&ec2).await;
    let sg = ec2.create_security_group().group_name(&c).description("sim").vpc_id(&vpc).send().await.unwrap();
    let sg = sg.group_id().unwrap().to_owned();

    let msg = assert_refused(
        ec2.authorize_security_group_ingress().group_id(&sg).ip_permissions(ssh_from_anywhere()).send().await,
        400,
        "InvalidGroup.NotFound",
    );
    assert_eq!(msg, format!("The security group '{sg}' does not exist"));
    let tag = Tag::builder().key("Name").value(&c).build();
    assert_refused(ec2.create_tags().resources(&sg).tags(tag.clone()).send().await, 400, "InvalidGroup.NotFound");
    assert_refused(ec2.describe_security_groups().group_ids(&sg).send().await, 400, "InvalidGroup.NotFound");
    assert_refused(run_one(&ec2, "t3.micro").security_group_ids(&sg).send().await, 400, "InvalidGroup.NotFound");
    let msg = assert_refused(
        create_db(&rds, &format!("{c}-db")).vpc_security_group_ids(&sg).send().await,
        400,
        "InvalidParameterValue",
    );
    assert_eq!(msg, format!("Invalid security group , groupId= {sg}, groupName=."));
    // A lookup by name is not refused (AWS answers an empty or full list).
    ec2.describe_security_groups()
        .filters(Filter::builder().name("group-name").values(&c).build())
        .send()
        .await
        .unwrap();
    assert_fired(&sim, "sg-not-visible", 5);
    let lines = sim.fired_lines("sg-not-visible");
    assert_eq!(
        lines[0],
        format!("aws-sim: rule sg-not-visible fired: AuthorizeSecurityGroupIngress {sg} -> InvalidGroup.NotFound")
    );
    assert!(lines[4].contains(&format!("CreateDBInstance {sg} -> InvalidParameterValue")), "{lines:?}");

    sim.end_windows();
    ec2.authorize_security_group_ingress().group_id(&sg).ip_permissions(ssh_from_anywhere()).send().await.unwrap();
    ec2.create_tags().resources(&sg).tags(tag).send().await.unwrap();
    let groups = ec2.describe_security_groups().group_ids(&sg).send().await.unwrap();
    assert_eq!(groups.security_groups()[0].ip_permissions().len(), 1);
    assert_fired(&sim, "sg-not-visible", 5);
}

/// igw-not-visible: attaching a new gateway answers it does not exist, then works.
#[tokio::test]
async fn igw_not_visible() {
    let sim = AwsSim::start(&moto_url(), "igw-not-visible", TIMED_MS);
    let (_, sdk) = through(&sim).await;
    let ec2 = aws_sdk_ec2::Client::new(&sdk);
    let vpc = default_vpc(&ec2).await;
    let igw = ec2.create_internet_gateway().send().await.unwrap();
    let created = Instant::now();
    let igw = igw.internet_gateway().unwrap().internet_gateway_id().unwrap().to_owned();
    let msg = assert_refused(
        ec2.attach_internet_gateway().internet_gateway_id(&igw).vpc_id(&vpc).send().await,
        400,
        "InvalidInternetGatewayID.NotFound",
    );
    assert_eq!(msg, format!("The internetGateway ID '{igw}' does not exist"));
    assert_fired(&sim, "igw-not-visible", 1);
    assert_eq!(
        sim.fired_lines("igw-not-visible"),
        [format!(
            "aws-sim: rule igw-not-visible fired: AttachInternetGateway {igw} -> InvalidInternetGatewayID.NotFound"
        )]
    );

    past_window(&sim, created).await;
    ec2.attach_internet_gateway().internet_gateway_id(&igw).vpc_id(&vpc).send().await.unwrap();
    let attached = ec2.describe_internet_gateways().internet_gateway_ids(&igw).send().await.unwrap();
    assert_eq!(attached.internet_gateways()[0].attachments()[0].vpc_id(), Some(vpc.as_str()));
    assert_fired(&sim, "igw-not-visible", 1);
}

fn tagging(c: &str) -> aws_sdk_s3::types::Tagging {
    let tag = aws_sdk_s3::types::Tag::builder().key("analytics:client").value(c).build().unwrap();
    aws_sdk_s3::types::Tagging::builder().tag_set(tag).build().unwrap()
}

/// bucket-not-visible: Put* on a new bucket answers NoSuchBucket (404, S3
/// XML), reads are not refused; then the puts go through.
#[tokio::test]
async fn bucket_not_visible() {
    let sim = AwsSim::start(&moto_url(), "bucket-not-visible", LONG_MS);
    let (_, sdk) = through(&sim).await;
    let s3 = s3_client(&sdk);
    let c = unique_client("simbk");
    let bucket = format!("{c}-b");
    s3.create_bucket().bucket(&bucket).send().await.unwrap();
    let msg =
        assert_refused(s3.put_bucket_tagging().bucket(&bucket).tagging(tagging(&c)).send().await, 404, "NoSuchBucket");
    assert_eq!(msg, "The specified bucket does not exist");
    assert_refused(
        s3.put_object().bucket(&bucket).key("a").body(ByteStream::from_static(b"x")).send().await,
        404,
        "NoSuchBucket",
    );
    let sse = aws_sdk_s3::types::ServerSideEncryptionConfiguration::builder()
        .rules(
            aws_sdk_s3::types::ServerSideEncryptionRule::builder()
                .apply_server_side_encryption_by_default(
                    aws_sdk_s3::types::ServerSideEncryptionByDefault::builder()
                        .sse_algorithm(aws_sdk_s3::types::ServerSideEncryption::Aes256)
                        .build()
                        .unwrap(),
                )
                .build(),
        )
        .build()
        .unwrap();
    assert_refused(
        s3.put_bucket_encryption().bucket(&bucket).server_side_encryption_configuration(sse.clone()).send().await,
        404,
        "NoSuchBucket",
    );
    s3.head_bucket().bucket(&bucket).send().await.unwrap();
    assert_fired(&sim, "bucket-not-visible", 3);
    assert_eq!(
        sim.fired_lines("bucket-not-visible")[0],
        format!("aws-sim: rule bucket-not-visible fired: PutBucketTagging {bucket} -> NoSuchBucket")
    );

    sim.end_windows();
    s3.put_bucket_tagging().bucket(&bucket).tagging(tagging(&c)).send().await.unwrap();
    s3.put_object().bucket(&bucket).key("a").body(ByteStream::from_static(b"x")).send().await.unwrap();
    s3.put_bucket_encryption().bucket(&bucket).server_side_encryption_configuration(sse).send().await.unwrap();
    let tags = s3.get_bucket_tagging().bucket(&bucket).send().await.unwrap();
    assert_eq!(tags.tag_set()[0].value(), c);
    assert_fired(&sim, "bucket-not-visible", 3);
}

/// bucket-operation-aborted: the first policy / public-access-block call on
/// a bucket made through the simulation answers 409 OperationAborted, the
/// retry goes through; tagging is never aborted.
#[tokio::test]
async fn bucket_operation_aborted() {
    let sim = AwsSim::start(&moto_url(), "bucket-operation-aborted", LONG_MS);
    let (account, sdk) = through(&sim).await;
    let s3 = s3_client(&sdk);
    let c = unique_client("simab");
    let bucket = format!("{c}-b");
    s3.create_bucket().bucket(&bucket).send().await.unwrap();
    let block = || {
        s3.put_public_access_block().bucket(&bucket).public_access_block_configuration(
            aws_sdk_s3::types::PublicAccessBlockConfiguration::builder()
                .block_public_acls(true)
                .block_public_policy(true)
                .build(),
        )
    };
    let msg = assert_refused(block().send().await, 409, "OperationAborted");
    assert!(msg.starts_with("A conflicting conditional operation is currently in progress"), "{msg}");
    block().send().await.unwrap();
    let policy = serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"AWS": format!("arn:aws:iam::{}:root", account.id)},
                       "Action": "s3:GetObject", "Resource": format!("arn:aws:s3:::{bucket}/*")}]
    })
    .to_string();
    assert_refused(s3.put_bucket_policy().bucket(&bucket).policy(&policy).send().await, 409, "OperationAborted");
    s3.put_bucket_policy().bucket(&bucket).policy(&policy).send().await.unwrap();
    s3.put_bucket_tagging().bucket(&bucket).tagging(tagging(&c)).send().await.unwrap();
    assert_fired(&sim, "bucket-operation-aborted", 2);
    assert_eq!(
        sim.fired_lines("bucket-operation-aborted"),
        [
            format!("aws-sim: rule bucket-operation-aborted fired: PutPublicAccessBlock {bucket} -> OperationAborted"),
            format!("aws-sim: rule bucket-operation-aborted fired: PutBucketPolicy {bucket} -> OperationAborted"),
        ]
    );
}

/// iam-not-propagated: a new user named in a domain's access policy, a new
/// instance profile given to RunInstances / AssociateIamInstanceProfile, a
/// new role named as a principal: refused as AWS refuses them, then taken.
#[tokio::test]
async fn iam_not_propagated() {
    let sim = AwsSim::start(&moto_url(), "iam-not-propagated", LONG_MS);
    let (_, sdk) = through(&sim).await;
    let (iam, es, ec2) =
        (aws_sdk_iam::Client::new(&sdk), aws_sdk_opensearch::Client::new(&sdk), aws_sdk_ec2::Client::new(&sdk));
    let s3 = s3_client(&sdk);
    let c = unique_client("simia");
    // An instance launched before anything is created (nothing refused).
    let run = run_one(&ec2, "t3.micro").send().await.unwrap();
    let instance = run.instances()[0].instance_id().unwrap().to_owned();
    let bucket = format!("{c}-b");
    s3.create_bucket().bucket(&bucket).send().await.unwrap();

    let user = iam.create_user().user_name(&c).send().await.unwrap().user().unwrap().arn().to_owned();
    iam.create_role().role_name(&c).assume_role_policy_document(ASSUME_EC2).send().await.unwrap();
    let profile = iam.create_instance_profile().instance_profile_name(&c).send().await.unwrap();
    let profile_arn = profile.instance_profile().unwrap().arn().to_owned();
    iam.add_role_to_instance_profile().instance_profile_name(&c).role_name(&c).send().await.unwrap();

    let domain = format!("{c}-es");
    let msg = assert_refused(
        small_domain(&es, &domain).access_policies(policy_for(&user)).send().await,
        409,
        "InvalidTypeException",
    );
    assert!(msg.starts_with("Error setting policy: [{") && msg.contains(&user), "{msg}");
    let by_name = IamInstanceProfileSpecification::builder().name(&c).build();
    let msg = assert_refused(
        run_one(&ec2, "t3.micro").iam_instance_profile(by_name.clone()).send().await,
        400,
        "InvalidParameterValue",
    );
    assert_eq!(
        msg,
        format!("Value ({c}) for parameter iamInstanceProfile.name is invalid. Invalid IAM Instance Profile name")
    );
    let by_arn = IamInstanceProfileSpecification::builder().arn(&profile_arn).build();
    let msg = assert_refused(
        ec2.associate_iam_instance_profile().instance_id(&instance).iam_instance_profile(by_arn).send().await,
        400,
        "InvalidParameterValue",
    );
    assert!(msg.ends_with("Invalid IAM Instance Profile ARN") && msg.contains("iamInstanceProfile.arn"), "{msg}");
    let bucket_policy = serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"AWS": &user}, "Action": "s3:GetObject",
                       "Resource": format!("arn:aws:s3:::{bucket}/*")}]
    })
    .to_string();
    assert_refused(s3.put_bucket_policy().bucket(&bucket).policy(&bucket_policy).send().await, 400, "MalformedPolicy");
    let trust = serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"AWS": &user}, "Action": "sts:AssumeRole"}]
    })
    .to_string();
    let other = format!("{c}-2");
    let msg = assert_refused(
        iam.create_role().role_name(&other).assume_role_policy_document(&trust).send().await,
        400,
        "MalformedPolicyDocument",
    );
    assert!(msg.starts_with("Invalid principal in policy"), "{msg}");
    assert_fired(&sim, "iam-not-propagated", 5);
    assert!(
        sim.fired_lines("iam-not-propagated")[0]
            .ends_with(&format!("CreateDomain {domain} ({user}) -> InvalidTypeException"))
    );

    sim.end_windows();
    small_domain(&es, &domain).access_policies(policy_for(&user)).send().await.unwrap();
    run_one(&ec2, "t3.micro").iam_instance_profile(by_name).send().await.unwrap();
    let by_arn = IamInstanceProfileSpecification::builder().arn(&profile_arn).build();
    ec2.associate_iam_instance_profile().instance_id(&instance).iam_instance_profile(by_arn).send().await.unwrap();
    s3.put_bucket_policy().bucket(&bucket).policy(&bucket_policy).send().await.unwrap();
    iam.create_role().role_name(&other).assume_role_policy_document(&trust).send().await.unwrap();
    assert_fired(&sim, "iam-not-propagated", 5);
}

/// iam-concurrent-modification: the first attach / put of each (role,
/// policy) answers 409 ConcurrentModification, the retry goes through.
#[tokio::test]
async fn iam_concurrent_modification() {
    let sim = AwsSim::start(&moto_url(), "iam-concurrent-modification", LONG_MS);
    let (_, sdk) = through(&sim).await;
    let iam = aws_sdk_iam::Client::new(&sdk);
    let c = unique_client("simcm");
    iam.create_role().role_name(&c).assume_role_policy_document(ASSUME_EC2).send().await.unwrap();
    let doc =
        r#"{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "*"}]}"#;
    let policy = iam.create_policy().policy_name(&c).policy_document(doc).send().await.unwrap();
    let policy = policy.policy().unwrap().arn().unwrap().to_owned();

    let attach = || iam.attach_role_policy().role_name(&c).policy_arn(&policy);
    let msg = assert_refused(attach().send().await, 409, "ConcurrentModification");
    assert!(msg.starts_with("The request was rejected because multiple requests to change this object"), "{msg}");
    attach().send().await.unwrap();
    let put = || iam.put_role_policy().role_name(&c).policy_name("inline").policy_document(doc);
    assert_refused(put().send().await, 409, "ConcurrentModification");
    put().send().await.unwrap();
    // Each pair once: a second attach of the same pair is not refused again.
    attach().send().await.unwrap();
    let attached = iam.list_attached_role_policies().role_name(&c).send().await.unwrap();
    assert_eq!(attached.attached_policies().len(), 1);
    assert_fired(&sim, "iam-concurrent-modification", 2);
    assert_eq!(
        sim.fired_lines("iam-concurrent-modification")[0],
        format!(
            "aws-sim: rule iam-concurrent-modification fired: AttachRolePolicy {c} {policy} -> ConcurrentModification"
        )
    );
}

/// iam-policy-quota: a role holds at most 10 managed policies; an 11th is
/// refused, re-attaching one it holds is not.
#[tokio::test]
async fn iam_policy_quota() {
    let sim = AwsSim::start(&moto_url(), "iam-policy-quota", LONG_MS);
    let (_, sdk) = through(&sim).await;
    let iam = aws_sdk_iam::Client::new(&sdk);
    let c = unique_client("simpq");
    iam.create_role().role_name(&c).assume_role_policy_document(ASSUME_EC2).send().await.unwrap();
    let doc =
        r#"{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "*"}]}"#;
    let mut arns = Vec::new();
    for n in 0..11 {
        let policy = iam.create_policy().policy_name(format!("{c}-{n}")).policy_document(doc).send().await.unwrap();
        arns.push(policy.policy().unwrap().arn().unwrap().to_owned());
    }
    for arn in &arns[..10] {
        iam.attach_role_policy().role_name(&c).policy_arn(arn).send().await.unwrap();
    }
    let msg =
        assert_refused(iam.attach_role_policy().role_name(&c).policy_arn(&arns[10]).send().await, 409, "LimitExceeded");
    assert_eq!(msg, "Cannot exceed quota for PoliciesPerRole: 10");
    iam.attach_role_policy().role_name(&c).policy_arn(&arns[3]).send().await.unwrap();
    iam.detach_role_policy().role_name(&c).policy_arn(&arns[0]).send().await.unwrap();
    iam.attach_role_policy().role_name(&c).policy_arn(&arns[10]).send().await.unwrap();
    assert_fired(&sim, "iam-policy-quota", 1);
    assert_eq!(
        sim.fired_lines("iam-policy-quota"),
        [format!("aws-sim: rule iam-policy-quota fired: AttachRolePolicy {c} (10 attached) -> LimitExceeded")]
    );
}

/// es-processing: a new domain is Processing with no endpoint, an update is
/// refused meanwhile; then it is ready; an update makes it Processing again
/// (its endpoint stays).
#[tokio::test]
async fn es_processing() {
    let sim = AwsSim::start(&moto_url(), "es-processing", LONG_MS);
    let (_, sdk) = through(&sim).await;
    let es = aws_sdk_opensearch::Client::new(&sdk);
    let domain = format!("{}-es", unique_client("simep"));
    let created = small_domain(&es, &domain).send().await.unwrap();
    let status = created.domain_status().unwrap();
    assert_eq!(status.processing(), Some(true), "{status:?}");
    assert_eq!(status.endpoint(), None, "{status:?}");
    let status = domain_status(&es, &domain).await;
    assert_eq!((status.processing(), status.endpoint()), (Some(true), None), "{status:?}");
    assert_eq!(status.domain_processing_status().map(AsRef::<str>::as_ref), Some("Creating"));
    let many = es.describe_domains().domain_names(&domain).send().await.unwrap();
    assert_eq!(many.domain_status_list()[0].processing(), Some(true));
    let msg = assert_refused(
        es.update_domain_config().domain_name(&domain).access_policies(policy_for("*")).send().await,
        400,
        "ValidationException",
    );
    assert_eq!(msg, "A change/update is in progress. Please wait for it to complete before requesting another change.");
    let progress = es.describe_domain_change_progress().domain_name(&domain).send().await.unwrap();
    assert_eq!(progress.change_progress_status().unwrap().status().map(AsRef::<str>::as_ref), Some("PROCESSING"));
    let fired = sim.fired()["es-processing"];
    assert_eq!(fired, 5, "{}", sim.log());
    assert!(
        sim.fired_lines("es-processing")
            .iter()
            .any(|l| l.ends_with(&format!("UpdateDomainConfig {domain} -> ValidationException")))
    );

    sim.end_windows();
    let status = domain_status(&es, &domain).await;
    assert_eq!(status.processing(), Some(false), "{status:?}");
    assert!(status.endpoint().is_some(), "{status:?}");
    es.update_domain_config().domain_name(&domain).access_policies(policy_for("*")).send().await.unwrap();
    // The update's window, opened when it was answered, made long again.
    sim.set_delay_ms(LONG_MS);
    let status = domain_status(&es, &domain).await;
    assert_eq!(status.processing(), Some(true), "{status:?}");
    assert!(status.endpoint().is_some(), "an update keeps the endpoint: {status:?}");
    assert_eq!(status.domain_processing_status().map(AsRef::<str>::as_ref), Some("Modifying"));
    sim.end_windows();
    assert_eq!(domain_status(&es, &domain).await.processing(), Some(false));
    let progress = es.describe_domain_change_progress().domain_name(&domain).send().await.unwrap();
    assert_eq!(progress.change_progress_status().unwrap().status().map(AsRef::<str>::as_ref), Some("COMPLETED"));
    assert_eq!(sim.fired().keys().collect::<Vec<_>>(), ["es-processing"]);
}

/// es-old-types: t2 instance types and Elasticsearch 1.5 / 2.3 are refused
/// (both APIs' field names); current ones are taken.
#[tokio::test]
async fn es_old_types() {
    let sim = AwsSim::start(&moto_url(), "es-old-types", LONG_MS);
    let (_, sdk) = through(&sim).await;
    let es = aws_sdk_opensearch::Client::new(&sdk);
    let domain = format!("{}-es", unique_client("simeo"));
    let t2 = ClusterConfig::builder().instance_type("t2.small.search".into()).instance_count(1).build();
    let msg =
        assert_refused(small_domain(&es, &domain).cluster_config(t2.clone()).send().await, 409, "InvalidTypeException");
    assert_eq!(msg, "Invalid instance type: t2.small.search");
    for version in ["Elasticsearch_1.5", "Elasticsearch_2.3"] {
        let msg =
            assert_refused(small_domain(&es, &domain).engine_version(version).send().await, 400, "ValidationException");
        assert!(msg.contains(version), "{msg}");
    }
    small_domain(&es, &domain).send().await.unwrap();
    assert_refused(
        es.update_domain_config().domain_name(&domain).cluster_config(t2).send().await,
        409,
        "InvalidTypeException",
    );
    assert_fired(&sim, "es-old-types", 4);
    assert_eq!(
        sim.fired_lines("es-old-types")[0],
        format!("aws-sim: rule es-old-types fired: CreateDomain {domain} t2.small.search -> InvalidTypeException")
    );
}

/// es-async-failure: a domain matching the pattern (or registered) is
/// created, Processing, then stops with no endpoint, Isolated, and a
/// ValidationFailed change carrying the reason; its change progress says FAILED.
#[tokio::test]
async fn es_async_failure() {
    let sim = AwsSim::start(&moto_url(), "es-async-failure", LONG_MS);
    let (_, sdk) = through(&sim).await;
    let es = aws_sdk_opensearch::Client::new(&sdk);
    let c = unique_client("simaf");
    let by_pattern = format!("{c}-esfail");
    let registered = format!("{c}-es");
    let healthy = format!("{c}-ok");
    sim.fail_domain(&registered, "Insufficient free IP addresses in subnet");
    for name in [&by_pattern, &registered, &healthy] {
        small_domain(&es, name).send().await.unwrap();
    }
    let status = domain_status(&es, &by_pattern).await;
    assert_eq!((status.processing(), status.endpoint()), (Some(true), None), "{status:?}");
    let status = domain_status(&es, &healthy).await;
    assert!(status.endpoint().is_some(), "a domain not matching is left alone: {status:?}");

    sim.end_windows();
    for (name, reason) in [(&by_pattern, "aws-sim es-async-failure"), (&registered, "Insufficient free IP addresses")] {
        let status = domain_status(&es, name).await;
        assert_eq!((status.processing(), status.endpoint()), (Some(false), None), "{status:?}");
        assert_eq!(status.domain_processing_status().map(AsRef::<str>::as_ref), Some("Isolated"));
        let change = status.change_progress_details().expect("change progress details");
        assert_eq!(change.config_change_status().map(AsRef::<str>::as_ref), Some("ValidationFailed"));
        assert!(change.message().unwrap_or_default().contains(reason), "{change:?}");
        let progress = es.describe_domain_change_progress().domain_name(name.as_str()).send().await.unwrap();
        let progress = progress.change_progress_status().unwrap();
        assert_eq!(progress.status().map(AsRef::<str>::as_ref), Some("FAILED"));
        assert!(progress.change_progress_stages()[0].description().unwrap_or_default().contains(reason));
    }
    let fired = sim.fired();
    assert_eq!(fired.keys().collect::<Vec<_>>(), ["es-async-failure"]);
    assert_eq!(fired["es-async-failure"], 7, "{}", sim.log());
    assert!(sim.log().contains(&format!("DescribeDomain {by_pattern} -> ValidationFailed (Isolated)")));
}

/// rds-states: a new instance reads creating (no endpoint), backing-up,
/// storage-optimization, then available; ModifyDBInstance is refused while
/// creating and while modifying, taken in storage-optimization.
#[tokio::test]
async fn rds_states() {
    let sim = AwsSim::start(&moto_url(), "rds-states", RDS_MS);
    let (_, sdk) = through(&sim).await;
    let rds = aws_sdk_rds::Client::new(&sdk);
    let c = unique_client("simrd");
    let (db, other) = (format!("{c}-db"), format!("{c}-db2"));
    let created = create_db(&rds, &db).send().await.unwrap();
    assert_eq!(created.db_instance().unwrap().db_instance_status(), Some("creating"));
    create_db(&rds, &other).send().await.unwrap();
    let modify = |id: &str| {
        rds.modify_db_instance().db_instance_identifier(id).backup_retention_period(3).apply_immediately(true)
    };
    let msg = assert_refused(modify(&db).send().await, 400, "InvalidDBInstanceState");
    assert_eq!(msg, "Database instance is not in available state.");

    // The states in order, each seen, the endpoint only after creating.
    let mut seen: Vec<(String, bool)> = Vec::new();
    let deadline = Instant::now() + sim.delay() * 3;
    let mut modified_other = false;
    loop {
        let (status, endpoint) = db_status(&rds, &db).await;
        if seen.last().map(|s| &s.0) != Some(&status) {
            seen.push((status.clone(), endpoint));
        }
        if !modified_other && db_status(&rds, &other).await.0 == "storage-optimization" {
            modify(&other).send().await.expect("ModifyDBInstance is taken in storage-optimization");
            modified_other = true;
        }
        if status == "available" || Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(40)).await;
    }
    let states: Vec<&str> = seen.iter().map(|s| s.0.as_str()).collect();
    assert_eq!(states, ["creating", "backing-up", "storage-optimization", "available"], "{}", sim.log());
    assert_eq!(seen.iter().map(|s| s.1).collect::<Vec<_>>(), [false, true, true, true], "endpoints: {seen:?}");
    assert!(modified_other, "never saw {other} in storage-optimization");
    assert_eq!(db_status(&rds, &other).await.0, "modifying");

    modify(&db).send().await.unwrap();
    assert_eq!(db_status(&rds, &db).await.0, "modifying");
    assert_refused(modify(&db).send().await, 400, "InvalidDBInstanceState");
    sim.end_windows();
    assert_eq!(db_status(&rds, &db).await, ("available".to_owned(), true));
    assert_eq!(sim.fired().keys().collect::<Vec<_>>(), ["rds-states"]);
    let refusals = sim.fired_lines("rds-states").iter().filter(|l| l.ends_with("-> InvalidDBInstanceState")).count();
    assert_eq!(refusals, 2, "{}", sim.log());
    assert!(sim.log().contains(&format!("rule rds-states fired: DescribeDBInstances {db} -> backing-up")));
}

/// ec2-pending: a new instance is pending (and not among running ones);
/// associating an address or a profile is refused; then it is running and
/// both go through.
#[tokio::test]
async fn ec2_pending() {
    let sim = AwsSim::start(&moto_url(), "ec2-pending", LONG_MS);
    let (_, sdk) = through(&sim).await;
    let (ec2, iam) = (aws_sdk_ec2::Client::new(&sdk), aws_sdk_iam::Client::new(&sdk));
    let c = unique_client("simpe");
    iam.create_instance_profile().instance_profile_name(&c).send().await.unwrap();
    let address = ec2.allocate_address().domain(aws_sdk_ec2::types::DomainType::Vpc).send().await.unwrap();
    let allocation = address.allocation_id().unwrap().to_owned();

    let run = run_one(&ec2, "t3.micro").send().await.unwrap();
    let instance = run.instances()[0].instance_id().unwrap().to_owned();
    assert_eq!(run.instances()[0].state().unwrap().name().unwrap().as_str(), "pending", "{}", sim.log());
    assert_eq!(instance_state(&ec2, &instance).await, "pending", "{}", sim.log());
    let running = ec2
        .describe_instances()
        .filters(Filter::builder().name("instance-state-name").values("running").build())
        .send()
        .await
        .unwrap();
    let ids: Vec<&str> = running
        .reservations()
        .iter()
        .flat_map(aws_sdk_ec2::types::Reservation::instances)
        .filter_map(aws_sdk_ec2::types::Instance::instance_id)
        .collect();
    assert!(!ids.contains(&instance.as_str()), "a pending instance is not running: {ids:?}");
    let msg = assert_refused(
        ec2.associate_address().instance_id(&instance).allocation_id(&allocation).send().await,
        400,
        "IncorrectInstanceState",
    );
    assert_eq!(msg, format!("The instance '{instance}' is not in a valid state for this operation."));
    let profile = || IamInstanceProfileSpecification::builder().name(&c).build();
    assert_refused(
        ec2.associate_iam_instance_profile().instance_id(&instance).iam_instance_profile(profile()).send().await,
        400,
        "IncorrectInstanceState",
    );
    assert_eq!(sim.fired()["ec2-pending"], 5, "{}", sim.log());

    sim.end_windows();
    assert_eq!(instance_state(&ec2, &instance).await, "running");
    ec2.associate_address().instance_id(&instance).allocation_id(&allocation).send().await.unwrap();
    ec2.associate_iam_instance_profile().instance_id(&instance).iam_instance_profile(profile()).send().await.unwrap();
    assert_fired(&sim, "ec2-pending", 5);
    assert!(
        sim.log().contains(&format!("rule ec2-pending fired: AssociateAddress {instance} -> IncorrectInstanceState"))
    );
}

/// ec2-old-types: RunInstances with t2 is Unsupported, and no t2 type is offered.
#[tokio::test]
async fn ec2_old_types() {
    let sim = AwsSim::start(&moto_url(), "ec2-old-types", LONG_MS);
    let (_, sdk) = through(&sim).await;
    let ec2 = aws_sdk_ec2::Client::new(&sdk);
    let msg = assert_refused(run_one(&ec2, "t2.micro").send().await, 400, "Unsupported");
    assert_eq!(
        msg,
        "The requested configuration is currently not supported. Please check the documentation for supported \
         configurations."
    );
    let offerings = ec2.describe_instance_type_offerings().send().await.unwrap();
    let types: Vec<&str> = offerings
        .instance_type_offerings()
        .iter()
        .filter_map(|o| o.instance_type())
        .map(AsRef::<str>::as_ref)
        .collect();
    assert!(types.contains(&"t3.micro") && types.contains(&"t3.medium"), "{types:?}");
    assert!(!types.iter().any(|t| t.starts_with("t2.")), "{types:?}");
    run_one(&ec2, "t3.micro").send().await.unwrap();
    assert_fired(&sim, "ec2-old-types", 2);
    assert_eq!(
        sim.fired_lines("ec2-old-types")[0],
        "aws-sim: rule ec2-old-types fired: RunInstances t2.micro -> Unsupported"
    );
}

/// ecdsa-key-refused: an ECDSA key is refused with AWS's code, an ED25519 one imported.
#[tokio::test]
async fn ecdsa_key_refused() {
    let sim = AwsSim::start(&moto_url(), "ecdsa-key-refused", LONG_MS);
    let (_, sdk) = through(&sim).await;
    let ec2 = aws_sdk_ec2::Client::new(&sdk);
    let c = unique_client("simkey");
    let msg = assert_refused(
        ec2.import_key_pair().key_name(&c).public_key_material(Blob::new(ECDSA_KEY)).send().await,
        400,
        "InvalidKey.Format",
    );
    assert_eq!(msg, "Key is not in valid OpenSSH public key format");
    ec2.import_key_pair().key_name(&c).public_key_material(Blob::new(ED25519_KEY)).send().await.unwrap();
    assert_fired(&sim, "ecdsa-key-refused", 1);
    assert_eq!(
        sim.fired_lines("ecdsa-key-refused"),
        [format!(
            "aws-sim: rule ecdsa-key-refused fired: ImportKeyPair {c} (ecdsa-sha2-nistp256) -> InvalidKey.Format"
        )]
    );
}

/// bucket-other-region and bucket-other-account: a bucket in another
/// region answers 301 with its region (HEAD without body), tells its
/// location; one of another account answers 403 and cannot be created.
#[tokio::test]
async fn buckets_elsewhere() {
    let sim = AwsSim::start(&moto_url(), "bucket-other-region,bucket-other-account", LONG_MS);
    let (_, sdk) = through(&sim).await;
    let s3 = s3_client(&sdk);
    let c = unique_client("simfb");
    let (away, theirs, ours) = (format!("{c}-away"), format!("{c}-theirs"), format!("{c}-ours"));
    s3.create_bucket().bucket(&away).send().await.unwrap();
    s3.create_bucket().bucket(&ours).send().await.unwrap();
    sim.foreign_bucket(&away, Some("eu-west-1"), false);
    sim.foreign_bucket(&theirs, None, true);

    let e = s3.head_bucket().bucket(&away).send().await.expect_err("HeadBucket of a bucket in eu-west-1");
    let raw = e.raw_response().expect("an HTTP answer");
    assert_eq!(raw.status().as_u16(), 301);
    assert_eq!(raw.headers().get("x-amz-bucket-region"), Some("eu-west-1"));
    let e = s3.get_bucket_tagging().bucket(&away).send().await.expect_err("GetBucketTagging of a bucket in eu-west-1");
    assert_eq!(e.code(), Some("PermanentRedirect"), "{e:?}");
    assert_eq!(e.raw_response().unwrap().headers().get("x-amz-bucket-region"), Some("eu-west-1"));
    let location = s3.get_bucket_location().bucket(&away).send().await.unwrap();
    assert_eq!(location.location_constraint().map(AsRef::<str>::as_ref), Some("eu-west-1"));
    assert_refused(s3.create_bucket().bucket(&away).send().await, 409, "BucketAlreadyOwnedByYou");

    let e = s3.head_bucket().bucket(&theirs).send().await.expect_err("HeadBucket of another account's bucket");
    assert_eq!(e.raw_response().unwrap().status().as_u16(), 403);
    assert_refused(s3.get_bucket_policy().bucket(&theirs).send().await, 403, "AccessDenied");
    assert_refused(s3.create_bucket().bucket(&theirs).send().await, 409, "BucketAlreadyExists");
    // A bucket not registered is ours, here.
    s3.head_bucket().bucket(&ours).send().await.unwrap();

    let fired = sim.fired();
    assert_eq!(fired.get("bucket-other-region"), Some(&4), "{}", sim.log());
    assert_eq!(fired.get("bucket-other-account"), Some(&3), "{}", sim.log());
    assert!(
        sim.log().contains(&format!(
            "rule bucket-other-region fired: HeadBucket {away} (eu-west-1) -> 301 PermanentRedirect"
        ))
    );
}

/// Rules are switched by name, `all` is every rule, an unknown name is
/// refused before the proxy starts, and reset forgets what was tracked.
#[tokio::test]
async fn rules_are_named_and_switchable() {
    let sim = AwsSim::start(&moto_url(), "all", LONG_MS);
    let stats = sim.stats();
    let all: Vec<&str> = stats["rules"].as_array().unwrap().iter().filter_map(|r| r.as_str()).collect();
    assert_eq!(all.len(), 16, "{all:?}");
    let doc = std::fs::read_to_string(repo_root().join("tests/AWS-SIM.md")).unwrap();
    for doc_rule in &all {
        assert!(doc.contains(&format!("`{doc_rule}`")), "tests/AWS-SIM.md does not list {doc_rule}");
    }
    drop(sim);

    // One rule on, another's trigger passes through.
    let sim = AwsSim::start(&moto_url(), "igw-not-visible", LONG_MS);
    let (_, sdk) = through(&sim).await;
    let ec2 = aws_sdk_ec2::Client::new(&sdk);
    let vpc = default_vpc(&ec2).await;
    let c = unique_client("simsw");
    let sg = ec2.create_security_group().group_name(&c).description("sim").vpc_id(&vpc).send().await.unwrap();
    ec2.authorize_security_group_ingress()
        .group_id(sg.group_id().unwrap())
        .ip_permissions(ssh_from_anywhere())
        .send()
        .await
        .unwrap();
    let igw = ec2.create_internet_gateway().send().await.unwrap();
    let igw = igw.internet_gateway().unwrap().internet_gateway_id().unwrap().to_owned();
    let attach = || ec2.attach_internet_gateway().internet_gateway_id(&igw).vpc_id(&vpc);
    assert_refused(attach().send().await, 400, "InvalidInternetGatewayID.NotFound");
    // Reset: the gateway's window is forgotten, counts start again.
    sim.reset();
    assert_eq!(sim.fired(), BTreeMap::new());
    assert_eq!(sim.forwarded(), 0);
    attach().send().await.unwrap();
    assert_eq!(sim.forwarded(), 1);

    let out = std::process::Command::new(python())
        .arg(repo_root().join("scripts/aws-sim.py"))
        .args(["--upstream", &moto_url(), "--rules", "sg-not-visible,no-such-rule"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("unknown rule(s) no-such-rule"), "{stderr}");
}

/// SIGTERM stops the simulation cleanly (exit 0, its last counts logged).
#[tokio::test]
async fn stops_cleanly_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let port_file = dir.path().join("port");
    let mut child = std::process::Command::new(python())
        .arg(repo_root().join("scripts/aws-sim.py"))
        .args(["--upstream", &moto_url(), "--rules", "all", "--port-file"])
        .arg(&port_file)
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !port_file.exists() {
        assert!(Instant::now() < deadline, "no port file");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let pid = rustix::process::Pid::from_child(&child);
    rustix::process::kill_process(pid, rustix::process::Signal::TERM).unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("aws-sim.py still running 5 s after SIGTERM");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    assert_eq!(status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("aws-sim: stopped; {\"fired\": {}"), "{stderr}");
}
