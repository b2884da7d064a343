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

/// The default names of the account-wide roles that every deployment
/// shares: created if missing, never tagged for a client, never destroyed.
pub const EMR_DEFAULT_ROLE: &str = "EMR_DefaultRole";
pub const EMR_EC2_DEFAULT_ROLE: &str = "EMR_EC2_DefaultRole";
/// The default name of the reports user's inline policy.
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
    /// The shared EMR service role.
    pub emr_role: String,
    /// The shared role (and instance profile, same name) of EMR's nodes.
    pub emr_ec2_role: String,
    pub users: Vec<(UserKind, String)>,
    /// The reports user's inline policy.
    pub reports_policy: String,
    /// Only with `--reports`.
    pub reports_bucket: Option<String>,
    pub es_domain_arn: Option<String>,
}

/// What an IAM name names: its longest length differs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IamKind {
    /// A role; with an instance profile of the same name, the role's 64
    /// characters bound both.
    Role,
    User,
    /// A managed or inline policy.
    Policy,
}

impl IamKind {
    fn max_len(self) -> usize {
        match self {
            IamKind::Role | IamKind::User => 64,
            IamKind::Policy => 128,
        }
    }
}

/// IAM's naming rules for role, instance profile, user and policy names:
/// 1 to 64 (roles, users) or 128 (policies) characters of letters, digits
/// and `_+=,.@-`. `flag` is the flag that sets the name.
pub fn validate_iam_name(flag: &str, name: &str, kind: IamKind) -> anyhow::Result<()> {
    let max = kind.max_len();
    let problem = if name.is_empty() || name.len() > max {
        Some(format!("must be 1 to {max} characters"))
    } else if !name.chars().all(|c| c.is_ascii_alphanumeric() || "_+=,.@-".contains(c)) {
        Some("may hold only letters, digits and _+=,.@-".to_owned())
    } else {
        None
    };
    match problem {
        Some(p) => Err(bad_input(format!("invalid --{flag} {name:?}: it {p}"))),
        None => Ok(()),
    }
}

/// IAM names are unique regardless of case: two flags naming the same
/// resource would make one resource serve two purposes.
fn distinct(named: &[(&str, &str)]) -> anyhow::Result<()> {
    for (i, (flag_a, a)) in named.iter().enumerate() {
        if let Some((flag_b, _)) = named[i + 1..].iter().find(|(_, b)| a.eq_ignore_ascii_case(b)) {
            return Err(bad_input(format!(
                "--{flag_a} and --{flag_b} both name {a:?} (IAM names ignore case): give each its own name"
            )));
        }
    }
    Ok(())
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
        // Each name: the flag's value or the default, checked either way.
        let name = |flag: &str, given: &Option<String>, default: String, kind| {
            let name = given.clone().unwrap_or(default);
            validate_iam_name(flag, &name, kind).map(|()| name)
        };
        let n = &args.names;
        let provision_policy =
            name("provision-policy", &n.provision_policy, d.name("provision-emr-clusters"), IamKind::Policy)?;
        let elasticsearch_policy = name("es-policy", &n.es_policy, d.name("elasticsearch-all"), IamKind::Policy)?;
        let role = name("instance-role", &n.instance_role, d.name("edxanalytics"), IamKind::Role)?;
        let emr_role = name("emr-role", &n.emr_role, EMR_DEFAULT_ROLE.to_owned(), IamKind::Role)?;
        let emr_ec2_role = name("emr-ec2-role", &n.emr_ec2_role, EMR_EC2_DEFAULT_ROLE.to_owned(), IamKind::Role)?;
        let es_user = name("es-user", &n.es_user, d.name(UserKind::Elasticsearch.suffix()), IamKind::User)?;
        let reports_user = name("reports-user", &n.reports_user, d.name(UserKind::Reports.suffix()), IamKind::User)?;
        let reports_policy = name("reports-policy", &n.reports_policy, REPORTS_POLICY.to_owned(), IamKind::Policy)?;
        distinct(&[("provision-policy", &provision_policy), ("es-policy", &elasticsearch_policy)])?;
        distinct(&[("instance-role", &role), ("emr-role", &emr_role), ("emr-ec2-role", &emr_ec2_role)])?;
        distinct(&[("es-user", &es_user), ("reports-user", &reports_user)])?;
        let mut users = vec![(UserKind::Elasticsearch, es_user)];
        if args.reports || args.destroy {
            users.push((UserKind::Reports, reports_user));
        }
        Ok(Names {
            provision_policy,
            elasticsearch_policy,
            role,
            emr_role,
            emr_ec2_role,
            users,
            reports_policy,
            reports_bucket,
            es_domain_arn: args.es_domain_arn.clone(),
        })
    }

    /// The roles, in the order of [`Desired::roles`]; each instance
    /// profile is named as its role (the first and the last).
    pub fn roles(&self) -> [&str; 3] {
        [&self.role, &self.emr_role, &self.emr_ec2_role]
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
    fn iam_naming_rules() {
        for kind in [IamKind::Role, IamKind::User] {
            validate_iam_name("x", &"a".repeat(64), kind).unwrap();
            validate_iam_name("x", &"a".repeat(65), kind).unwrap_err();
        }
        validate_iam_name("x", &"a".repeat(128), IamKind::Policy).unwrap();
        validate_iam_name("x", &"a".repeat(129), IamKind::Policy).unwrap_err();
        validate_iam_name("x", "Aa0_+=,.@-", IamKind::Role).unwrap();
        for bad in ["", "a b", "a/b", "a:b", "a*", "caf\u{e9}", "a\nb"] {
            let e = validate_iam_name("x", bad, IamKind::Policy).unwrap_err();
            assert_eq!(common::error::exit_status(&e), 2, "{bad:?}");
            assert!(e.to_string().starts_with(&format!("invalid --x {bad:?}: it ")), "{e}");
        }
    }

    #[test]
    fn a_bad_name_is_bad_input_naming_its_flag() {
        let long = |n| "a".repeat(n);
        let (role, user, policy) = (long(65), long(65), long(129));
        for (flag, bad) in [
            ("--provision-policy", policy.as_str()),
            ("--provision-policy", "a/b"),
            ("--instance-role", role.as_str()),
            ("--instance-role", ""),
            ("--emr-role", "EMR DefaultRole"),
            ("--emr-ec2-role", role.as_str()),
            ("--es-policy", "es:*"),
            ("--es-user", user.as_str()),
            ("--reports-user", "reports#api"),
            ("--reports-policy", policy.as_str()),
        ] {
            let e = names(&["--reports", flag, bad]).unwrap_err();
            assert_eq!(common::error::exit_status(&e), 2, "{flag} {bad:?}");
            assert!(e.to_string().starts_with(&format!("invalid {flag} ")), "{flag}: {e}");
        }
        // The longest names IAM takes are fine.
        names(&["--instance-role", &long(64), "--es-user", &long(64), "--es-policy", &long(128)]).unwrap();
    }

    #[test]
    fn two_purposes_one_name_is_bad_input() {
        for (args, flags) in [
            (&["--es-user", "acme-analytics-reports"][..], ("--es-user", "--reports-user")),
            (&["--es-user", "Search", "--reports-user", "search"], ("--es-user", "--reports-user")),
            (&["--instance-role", "emr_defaultrole"], ("--instance-role", "--emr-role")),
            (&["--emr-role", "x", "--emr-ec2-role", "X"], ("--emr-role", "--emr-ec2-role")),
            (&["--es-policy", "acme-provision-emr-clusters"], ("--provision-policy", "--es-policy")),
        ] {
            let e = names(args).unwrap_err();
            assert_eq!(common::error::exit_status(&e), 2, "{args:?}");
            let msg = e.to_string();
            assert!(msg.contains(flags.0) && msg.contains(flags.1), "{args:?}: {msg}");
        }
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
