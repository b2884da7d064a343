//! The eventual-consistency table (kind 3 of [`super`]): each answer AWS
//! gives right after a create that means "not yet" rather than "no", what is
//! awaited, and for how long at most. Data only; [`super::eventually`]
//! uses it.

use std::time::Duration;

/// One answer that means "not yet" (kind 3).
#[derive(Debug, Clone, Copy)]
pub struct Rule {
    /// The SDK crate's service: `ec2`, `s3`, `iam`, `rds`, `opensearch`, `emr`.
    pub service: &'static str,
    /// The operations it applies to, as the API names them.
    pub operations: &'static [&'static str],
    /// The error code.
    pub code: &'static str,
    /// When set, the error message must contain this too (a code that also
    /// means real errors, such as `InvalidParameterValue`).
    pub message: Option<&'static str>,
    /// What is awaited, for the log line: "waiting for {waiting_for}".
    pub waiting_for: &'static str,
    /// How long at most, from the first such answer.
    pub deadline: Duration,
}

const fn rule(
    service: &'static str,
    operations: &'static [&'static str],
    code: &'static str,
    waiting_for: &'static str,
    seconds: u64,
) -> Rule {
    Rule { service, operations, code, message: None, waiting_for, deadline: Duration::from_secs(seconds) }
}

/// IAM changes reach other services within seconds, at worst about two
/// minutes (the bound Terraform's AWS provider uses as well).
const IAM_PROPAGATION: u64 = 120;
/// A new EC2 or S3 resource is visible to every endpoint within seconds.
pub(super) const VISIBILITY: u64 = 60;

const SG_USERS: &[&str] = &[
    "AuthorizeSecurityGroupIngress",
    "AuthorizeSecurityGroupEgress",
    "CreateTags",
    "RunInstances",
    "ModifyInstanceAttribute",
];
const BUCKET_WRITES: &[&str] = &[
    "PutBucketTagging",
    "PutPublicAccessBlock",
    "PutBucketEncryption",
    "PutBucketPolicy",
    "PutBucketVersioning",
    "PutObject",
];

/// Every eventual-consistency answer that is retried (kind 3).
pub const EVENTUAL: &[Rule] = &[
    rule("ec2", SG_USERS, "InvalidGroup.NotFound", "the new security group to be visible", VISIBILITY),
    rule(
        "ec2",
        &["AttachInternetGateway", "CreateTags"],
        "InvalidInternetGatewayID.NotFound",
        "the new internet gateway to be visible",
        VISIBILITY,
    ),
    rule(
        "ec2",
        &["AssociateAddress", "AssociateIamInstanceProfile"],
        "IncorrectInstanceState",
        "the new instance to be running",
        600,
    ),
    rule(
        "ec2",
        &["AssociateAddress", "CreateTags"],
        "InvalidInstanceID.NotFound",
        "the new instance to be visible",
        VISIBILITY,
    ),
    // After the hosts that used it terminated, a group (and the gateway, while
    // their public addresses are mapped) stays in use until EC2 releases the
    // network interfaces: minutes. A group a foreign instance still uses
    // fails after the deadline, naming the dependency.
    rule(
        "ec2",
        &["DeleteSecurityGroup", "DetachInternetGateway"],
        "DependencyViolation",
        "the terminated hosts' network interfaces to be released",
        300,
    ),
    rule("ec2", &["AssociateAddress"], "InvalidAllocationID.NotFound", "the new Elastic IP to be visible", VISIBILITY),
    Rule {
        message: Some("Invalid IAM Instance Profile"),
        ..rule(
            "ec2",
            &["RunInstances", "AssociateIamInstanceProfile"],
            "InvalidParameterValue",
            "the new instance profile to reach EC2",
            IAM_PROPAGATION,
        )
    },
    // Right after AddRoleToInstanceProfile: the profile exists but EC2 does
    // not see its role yet (the string Terraform's aws_instance waits on).
    Rule {
        message: Some("has no associated IAM Roles"),
        ..rule(
            "ec2",
            &["RunInstances", "AssociateIamInstanceProfile"],
            "InvalidParameterValue",
            "the instance profile's role to reach EC2",
            IAM_PROPAGATION,
        )
    },
    rule("s3", BUCKET_WRITES, "NoSuchBucket", "the new bucket to be visible", VISIBILITY),
    rule("s3", BUCKET_WRITES, "OperationAborted", "the bucket's previous change to finish", VISIBILITY),
    rule(
        "iam",
        &[
            "AttachRolePolicy",
            "PutRolePolicy",
            "PutUserPolicy",
            "AddRoleToInstanceProfile",
            "CreatePolicyVersion",
            "DetachRolePolicy",
        ],
        "ConcurrentModification",
        "IAM to finish a concurrent change",
        VISIBILITY,
    ),
    // Right after CreateRole/CreateUser, IAM's own endpoint may not know the
    // name yet ("The role with name X cannot be found."). A missing policy
    // ARN ("... does not exist or is not attachable") is a real error.
    Rule {
        message: Some("cannot be found"),
        ..rule(
            "iam",
            &["AttachRolePolicy", "AddRoleToInstanceProfile", "PutUserPolicy", "ListAccessKeys", "CreateAccessKey"],
            "NoSuchEntity",
            "the new IAM role or user to be visible",
            30,
        )
    },
    Rule {
        message: Some("Error setting policy"),
        ..rule(
            "opensearch",
            &["CreateDomain", "UpdateDomainConfig"],
            "InvalidTypeException",
            "the new IAM user to reach OpenSearch",
            IAM_PROPAGATION,
        )
    },
    rule(
        "opensearch",
        &["UpdateDomainConfig"],
        "ConflictException",
        "the search domain to finish processing its last change",
        1800,
    ),
    // What OpenSearch answers an update while the last one is processing
    // (the message terraform-provider-aws waits on).
    Rule {
        message: Some("A change/update is in progress"),
        ..rule(
            "opensearch",
            &["UpdateDomainConfig"],
            "ValidationException",
            "the search domain to finish processing its last change",
            1800,
        )
    },
    // RDS has no not-found code for an EC2 group it cannot see yet:
    // "Invalid security group , groupId= sg-..., groupName=.".
    Rule {
        message: Some("Invalid security group"),
        ..rule(
            "rds",
            &["CreateDBInstance", "ModifyDBInstance"],
            "InvalidParameterValue",
            "the new security group to reach RDS",
            VISIBILITY,
        )
    },
    // A policy naming a principal IAM made seconds ago.
    Rule {
        message: Some("Invalid principal in policy"),
        ..rule("s3", &["PutBucketPolicy"], "MalformedPolicy", "the new IAM principal to reach S3", IAM_PROPAGATION)
    },
    Rule {
        message: Some("Invalid principal in policy"),
        ..rule(
            "iam",
            &["CreateRole", "UpdateAssumeRolePolicy"],
            "MalformedPolicyDocument",
            "the new IAM principal to be usable in a trust policy",
            IAM_PROPAGATION,
        )
    },
    rule("rds", &["ModifyDBInstance"], "InvalidDBInstanceState", "the database to become available", 1800),
    Rule {
        message: Some("EMR_"),
        ..rule("emr", &["RunJobFlow"], "ValidationException", "the new EMR roles to reach EMR", IAM_PROPAGATION)
    },
];

/// The rule that makes this answer "not yet", if any.
pub fn eventual_rule(service: &str, operation: &str, code: &str, message: &str) -> Option<&'static Rule> {
    EVENTUAL.iter().find(|r| {
        r.service == service
            && r.code == code
            && r.operations.contains(&operation)
            && r.message.is_none_or(|m| message.contains(m))
    })
}
