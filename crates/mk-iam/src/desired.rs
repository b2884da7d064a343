//! The IAM resources we want: from the checked [`Names`] and the account
//! (ARNs), the specs of every policy, role, instance profile and user, with
//! their documents. Pure: no I/O.

use serde_json::Value;

use crate::names::{Names, UserKind};
use crate::policy::{self, TrustedService};

const EMR_SERVICE_POLICY: &str = "service-role/AmazonElasticMapReduceRole";
const EMR_EC2_POLICY: &str = "service-role/AmazonElasticMapReduceforEC2Role";

/// Who the tool runs as: where the ARNs it builds point.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountInfo {
    pub id: String,
    /// `aws`, `aws-cn` or `aws-us-gov`.
    pub partition: String,
}

impl AccountInfo {
    /// From GetCallerIdentity's account and ARN (`arn:PARTITION:sts::...`).
    pub fn new(id: &str, caller_arn: &str) -> Self {
        let partition = common::aws::arn_partition(caller_arn).unwrap_or("aws");
        AccountInfo { id: id.to_owned(), partition: partition.to_owned() }
    }

    /// `arn:aws:iam::ACCOUNT:policy/NAME` and the like.
    pub fn iam_arn(&self, kind: &str, name: &str) -> String {
        format!("arn:{}:iam::{}:{kind}/{name}", self.partition, self.id)
    }

    /// An AWS managed policy, e.g. `service-role/AmazonElasticMapReduceRole`.
    pub fn aws_policy_arn(&self, path_and_name: &str) -> String {
        format!("arn:{}:iam::aws:policy/{path_and_name}", self.partition)
    }
}

/// A managed policy of the deployment.
#[derive(Debug, Clone, PartialEq)]
pub struct PolicySpec {
    /// Key under `outputs.policies`.
    pub key: &'static str,
    pub name: String,
    pub arn: String,
    pub document: Value,
}

/// A managed policy attached to a role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PolicyRef {
    /// One of [`Desired::policies`], by index.
    Ours(usize),
    /// An AWS managed policy, by ARN.
    Aws(String),
}

#[derive(Debug, Clone, PartialEq)]
pub struct RoleSpec {
    /// Key under `outputs.roles`.
    pub key: &'static str,
    pub name: String,
    /// The ARN it gets when created (an adopted role keeps its own).
    pub arn: String,
    /// Account-wide: adopted as it is, never tagged, never destroyed.
    pub shared: bool,
    pub service: TrustedService,
    pub trust: Value,
    pub policies: Vec<PolicyRef>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProfileSpec {
    /// Key under `outputs.instance_profiles`.
    pub key: &'static str,
    pub name: String,
    pub arn: String,
    pub role: String,
    pub shared: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct InlinePolicy {
    pub name: String,
    pub document: Value,
}

#[derive(Debug, Clone, PartialEq)]
pub struct UserSpec {
    pub kind: UserKind,
    pub name: String,
    pub arn: String,
    pub inline: Option<InlinePolicy>,
}

/// Everything mk-iam converges, in creation order within each list.
#[derive(Debug, Clone, PartialEq)]
pub struct Desired {
    pub account: AccountInfo,
    pub policies: Vec<PolicySpec>,
    pub roles: Vec<RoleSpec>,
    pub profiles: Vec<ProfileSpec>,
    pub users: Vec<UserSpec>,
}

impl Desired {
    pub fn new(names: &Names, account: &AccountInfo) -> Self {
        let policy = |key, name: &str, document| PolicySpec {
            key,
            name: name.to_owned(),
            arn: account.iam_arn("policy", name),
            document,
        };
        let policies = vec![
            policy("provision_emr_clusters", &names.provision_policy, policy::provision_emr_clusters()),
            policy(
                "elasticsearch_all",
                &names.elasticsearch_policy,
                policy::elasticsearch_all(names.es_domain_arn.as_deref()),
            ),
        ];
        let role = |key, name: &str, shared, service, policies| RoleSpec {
            key,
            name: name.to_owned(),
            arn: account.iam_arn("role", name),
            shared,
            service,
            trust: policy::trust(service),
            policies,
        };
        let [client_role, emr_role, emr_ec2_role] = names.roles();
        let roles = vec![
            role("edxanalytics", client_role, false, TrustedService::Ec2, vec![PolicyRef::Ours(0)]),
            role(
                "emr_default",
                emr_role,
                true,
                TrustedService::Emr,
                vec![PolicyRef::Aws(account.aws_policy_arn(EMR_SERVICE_POLICY))],
            ),
            role(
                "emr_ec2_default",
                emr_ec2_role,
                true,
                TrustedService::Ec2,
                vec![PolicyRef::Aws(account.aws_policy_arn(EMR_EC2_POLICY)), PolicyRef::Ours(1)],
            ),
        ];
        // Each instance profile holds the role of its own name.
        let [client_profile, emr_ec2_profile] = names.profiles();
        let profile = |key, name: &str, shared| ProfileSpec {
            key,
            name: name.to_owned(),
            arn: account.iam_arn("instance-profile", name),
            role: name.to_owned(),
            shared,
        };
        let profiles =
            vec![profile("edxanalytics", client_profile, false), profile("emr_ec2_default", emr_ec2_profile, true)];
        let users = names
            .users
            .iter()
            .map(|(kind, name)| UserSpec {
                kind: *kind,
                name: name.clone(),
                arn: account.iam_arn("user", name),
                inline: match (kind, &names.reports_bucket) {
                    (UserKind::Reports, Some(bucket)) => Some(InlinePolicy {
                        name: names.reports_policy.clone(),
                        document: policy::reports_read(&account.partition, bucket),
                    }),
                    _ => None,
                },
            })
            .collect();
        Desired { account: account.clone(), policies, roles, profiles, users }
    }

    /// The ARN and name of a policy a role should have.
    pub fn resolve(&self, p: &PolicyRef) -> (String, String) {
        match p {
            PolicyRef::Ours(i) => (self.policies[*i].arn.clone(), self.policies[*i].name.clone()),
            PolicyRef::Aws(arn) => (arn.clone(), arn.rsplit('/').next().unwrap_or(arn).to_owned()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::names::tests::{names, user_names};

    fn account() -> AccountInfo {
        AccountInfo::new("123456789012", "arn:aws:sts::123456789012:assumed-role/ops/me")
    }

    /// Every name flag, set.
    const OVERRIDES: [&str; 17] = [
        "--reports",
        "--provision-policy",
        "ops-emr",
        "--instance-role",
        "insights.host",
        "--emr-role",
        "emr-service",
        "--emr-ec2-role",
        "emr-nodes",
        "--es-policy",
        "search+all",
        "--es-user",
        "search@api",
        "--reports-user",
        "reports=api",
        "--reports-policy",
        "read,reports",
    ];

    #[test]
    fn every_name_can_be_overridden() {
        let n = names(&OVERRIDES).unwrap();
        assert_eq!(n.provision_policy, "ops-emr");
        assert_eq!(n.elasticsearch_policy, "search+all");
        assert_eq!(n.roles(), ["insights.host", "emr-service", "emr-nodes"]);
        assert_eq!(n.profiles(), ["insights.host", "emr-nodes"]);
        assert_eq!(user_names(&n), ["search@api", "reports=api"]);
        assert_eq!(n.reports_policy, "read,reports");

        let d = Desired::new(&n, &account());
        assert_eq!(d.policies[0].arn, "arn:aws:iam::123456789012:policy/ops-emr");
        assert_eq!(d.roles[0].arn, "arn:aws:iam::123456789012:role/insights.host");
        assert_eq!(d.resolve(&d.roles[0].policies[0]).1, "ops-emr");
        assert_eq!(d.roles[1].name, "emr-service");
        assert_eq!(d.roles[1].service, TrustedService::Emr);
        let nodes: Vec<String> = d.roles[2].policies.iter().map(|p| d.resolve(p).1).collect();
        assert_eq!(nodes, ["AmazonElasticMapReduceforEC2Role", "search+all"]);
        assert!(d.roles[1].shared && d.roles[2].shared && !d.roles[0].shared, "shared as the defaults are");
        let profiles: Vec<(&str, &str)> = d.profiles.iter().map(|p| (p.name.as_str(), p.role.as_str())).collect();
        assert_eq!(profiles, [("insights.host", "insights.host"), ("emr-nodes", "emr-nodes")]);
        assert_eq!(d.profiles[0].arn, "arn:aws:iam::123456789012:instance-profile/insights.host");
        assert_eq!(d.users[0].arn, "arn:aws:iam::123456789012:user/search@api");
        assert_eq!(d.users[1].inline.as_ref().unwrap().name, "read,reports");

        // Destroy uses the same names; without --reports the reports
        // user's flags are still checked, not used.
        let n = names(&[&OVERRIDES[1..], &["--destroy"]].concat()).unwrap();
        assert_eq!(user_names(&n), ["search@api", "reports=api"]);
        assert_eq!(user_names(&names(&OVERRIDES[1..]).unwrap()), ["search@api"]);
        names(&["--reports-user", "a b"]).unwrap_err();
    }

    #[test]
    fn desired_arns_and_attachments() {
        let d = Desired::new(&names(&["--reports"]).unwrap(), &account());
        assert_eq!(d.policies[0].arn, "arn:aws:iam::123456789012:policy/acme-provision-emr-clusters");
        assert_eq!(d.roles[0].arn, "arn:aws:iam::123456789012:role/acme-edxanalytics");
        assert_eq!(d.resolve(&d.roles[0].policies[0]).1, "acme-provision-emr-clusters");
        assert_eq!(
            d.resolve(&d.roles[1].policies[0]).0,
            "arn:aws:iam::aws:policy/service-role/AmazonElasticMapReduceRole"
        );
        let ec2: Vec<String> = d.roles[2].policies.iter().map(|p| d.resolve(p).1).collect();
        assert_eq!(ec2, ["AmazonElasticMapReduceforEC2Role", "acme-elasticsearch-all"]);
        assert!(d.roles[1].shared && d.roles[2].shared && !d.roles[0].shared);
        assert_eq!(d.users[0].inline, None);
        let inline = d.users[1].inline.as_ref().unwrap();
        assert_eq!(inline.name, "s3-read-analytics-reports");
        assert_eq!(inline.document["Statement"][0]["Resource"][1], "arn:aws:s3:::acme-analytics-api-reports/*");
    }

    #[test]
    fn no_arn_of_another_partition() {
        for partition in ["aws-cn", "aws-us-gov"] {
            let account = AccountInfo { id: "123456789012".into(), partition: partition.into() };
            let mut n = names(&["--reports"]).unwrap();
            n.es_domain_arn = Some(format!("arn:{partition}:es:cn-north-1:123456789012:domain/acme-analytics-es"));
            let d = Desired::new(&n, &account);
            let all = format!("{d:?}");
            assert!(!all.contains("arn:aws:"), "{partition}: {all}");
            assert!(all.contains(&format!("arn:{partition}:iam::aws:policy/service-role/")), "{all}");
            let inline = d.users[1].inline.as_ref().unwrap();
            assert_eq!(
                inline.document["Statement"][0]["Resource"][0],
                format!("arn:{partition}:s3:::acme-analytics-api-reports")
            );
            assert_eq!(d.roles[0].arn, format!("arn:{partition}:iam::123456789012:role/acme-edxanalytics"));
        }
    }

    #[test]
    fn partition_comes_from_the_caller() {
        let a = AccountInfo::new("123456789012", "arn:aws-cn:iam::123456789012:user/me");
        assert_eq!(a.partition, "aws-cn");
        assert_eq!(a.aws_policy_arn("x"), "arn:aws-cn:iam::aws:policy/x");
    }
}
