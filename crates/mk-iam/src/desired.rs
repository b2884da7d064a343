//! The IAM resources we want, from the flags. Pure: no I/O.
//!
//! Two steps: [`Names`] checks the flags and names everything (before any
//! AWS call, so bad input exits 2 first); [`Desired`] adds what needs the
//! account (ARNs) and the documents.

use common::Deployment;
use common::error::bad_input;
use common::names::validate_bucket_name;
use serde_json::Value;

use crate::Args;
use crate::policy::{self, TrustedService};

/// Account-wide roles that every deployment shares: created if missing,
/// never tagged for a client, never destroyed.
pub const EMR_DEFAULT_ROLE: &str = "EMR_DefaultRole";
pub const EMR_EC2_DEFAULT_ROLE: &str = "EMR_EC2_DefaultRole";
/// The reports user's inline policy.
pub const REPORTS_POLICY: &str = "s3-read-analytics-reports";

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
        let partition = caller_arn.split(':').nth(1).filter(|p| !p.is_empty()).unwrap_or("aws");
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

/// Which user; also its key under `outputs.users`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserKind {
    Elasticsearch,
    Reports,
}

impl UserKind {
    pub fn key(self) -> &'static str {
        match self {
            UserKind::Elasticsearch => "elasticsearch",
            UserKind::Reports => "reports",
        }
    }

    fn suffix(self) -> &'static str {
        match self {
            UserKind::Elasticsearch => "analytics-elasticsearch",
            UserKind::Reports => "analytics-reports",
        }
    }
}

/// Every name of this run, from validated flags.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Names {
    pub provision_policy: String,
    pub elasticsearch_policy: String,
    /// The client's role and its instance profile (same name).
    pub role: String,
    pub users: Vec<(UserKind, String)>,
    /// Only with `--reports`.
    pub reports_bucket: Option<String>,
    pub es_domain_arn: Option<String>,
}

impl Names {
    /// Checks the flags. On destroy every user counts, whatever the flags:
    /// destroy removes all that the tool manages for the client.
    pub fn from_args(args: &Args, d: &Deployment) -> anyhow::Result<Self> {
        let reports_bucket = match &args.reports_bucket {
            Some(b) => {
                validate_bucket_name(b).map_err(|e| bad_input(format!("invalid --reports-bucket: {e}")))?;
                Some(b.clone())
            }
            None => Some(d.name("analytics-api-reports")),
        }
        .filter(|_| args.reports || args.destroy);
        if let Some(arn) = &args.es_domain_arn {
            validate_domain_arn(arn)?;
        }
        let kinds: &[UserKind] = if args.reports || args.destroy {
            &[UserKind::Elasticsearch, UserKind::Reports]
        } else {
            &[UserKind::Elasticsearch]
        };
        Ok(Names {
            provision_policy: d.name("provision-emr-clusters"),
            elasticsearch_policy: d.name("elasticsearch-all"),
            role: d.name("edxanalytics"),
            users: kinds.iter().map(|k| (*k, d.name(k.suffix()))).collect(),
            reports_bucket,
            es_domain_arn: args.es_domain_arn.clone(),
        })
    }

    /// The roles, in the order of [`Desired::roles`]; each instance
    /// profile is named as its role (the first and the last).
    pub fn roles(&self) -> [&str; 3] {
        [&self.role, EMR_DEFAULT_ROLE, EMR_EC2_DEFAULT_ROLE]
    }

    /// The instance profiles, in the order of [`Desired::profiles`].
    pub fn profiles(&self) -> [&str; 2] {
        let [client, _, emr_ec2] = self.roles();
        [client, emr_ec2]
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
                        name: REPORTS_POLICY.to_owned(),
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

/// A search domain ARN: `arn:aws:es:REGION:ACCOUNT:domain/NAME`.
pub fn validate_domain_arn(arn: &str) -> anyhow::Result<()> {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let domain_ok = |name: &str| {
        (3..=28).contains(&name.len())
            && name.starts_with(|c: char| c.is_ascii_lowercase())
            && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
    };
    let ok = parts.len() == 6
        && parts[0] == "arn"
        && matches!(parts[1], "aws" | "aws-cn" | "aws-us-gov")
        && parts[2] == "es"
        && common::aws::validate_region(parts[3]).is_ok()
        && parts[4].len() == 12
        && parts[4].chars().all(|c| c.is_ascii_digit())
        && parts[5].strip_prefix("domain/").is_some_and(domain_ok);
    if ok {
        Ok(())
    } else {
        Err(bad_input(format!("invalid --es-domain-arn {arn:?}: expected arn:aws:es:REGION:ACCOUNT:domain/NAME")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn names(extra: &[&str]) -> anyhow::Result<Names> {
        let mut v = vec!["mk-iam", "--client", "acme"];
        v.extend_from_slice(extra);
        let a = Args::try_parse_from(v).unwrap();
        let d = Deployment::from_args(&a.deployment, "mk-iam").unwrap();
        Names::from_args(&a, &d)
    }

    fn account() -> AccountInfo {
        AccountInfo::new("123456789012", "arn:aws:sts::123456789012:assumed-role/ops/me")
    }

    fn user_names(n: &Names) -> Vec<&str> {
        n.users.iter().map(|(_, u)| u.as_str()).collect()
    }

    #[test]
    fn default_names() {
        let n = names(&[]).unwrap();
        assert_eq!(n.provision_policy, "acme-provision-emr-clusters");
        assert_eq!(n.elasticsearch_policy, "acme-elasticsearch-all");
        assert_eq!(n.role, "acme-edxanalytics");
        assert_eq!(user_names(&n), ["acme-analytics-elasticsearch"]);
        assert_eq!(n.reports_bucket, None);
    }

    #[test]
    fn reports_adds_a_user_with_a_bucket() {
        let n = names(&["--reports"]).unwrap();
        assert_eq!(user_names(&n), ["acme-analytics-elasticsearch", "acme-analytics-reports"]);
        assert_eq!(n.reports_bucket.as_deref(), Some("acme-analytics-api-reports"));
        let n = names(&["--reports", "--reports-bucket", "edx-reports"]).unwrap();
        assert_eq!(n.reports_bucket.as_deref(), Some("edx-reports"));
    }

    #[test]
    fn destroy_considers_every_user() {
        assert_eq!(names(&["--destroy"]).unwrap().users.len(), 2);
    }

    #[test]
    fn bad_names_are_bad_input() {
        for bad in [
            &["--reports", "--reports-bucket", "Bad_Bucket"][..],
            &["--es-domain-arn", "arn:aws:s3:::bucket"],
            &["--es-domain-arn", "arn:aws:es:us-east-1:123456789012:domain/X"],
            &["--es-domain-arn", "arn:aws:es:nowhere:123456789012:domain/acme-es"],
        ] {
            let e = names(bad).unwrap_err();
            assert_eq!(common::error::exit_status(&e), 2, "{bad:?}");
        }
        let e = names(&["--reports", "--reports-bucket", "a..b"]).unwrap_err();
        assert!(e.to_string().contains("--reports-bucket"), "{e}");
        names(&["--es-domain-arn", "arn:aws:es:eu-west-1:123456789012:domain/acme-analytics-es"]).unwrap();
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
    fn partition_comes_from_the_caller() {
        let a = AccountInfo::new("123456789012", "arn:aws-cn:iam::123456789012:user/me");
        assert_eq!(a.partition, "aws-cn");
        assert_eq!(a.aws_policy_arn("x"), "arn:aws-cn:iam::aws:policy/x");
    }
}
