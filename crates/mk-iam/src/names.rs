//! Every name mk-iam uses, from the flags, checked before any AWS call (so
//! bad input exits 2 first): IAM's naming rules, one name per purpose, the
//! reports bucket and the search domain's ARN. Pure: no I/O.

use common::Deployment;
use common::error::bad_input;
use common::names::validate_bucket_name;

use crate::args::Args;

/// The default names of the account-wide roles that every deployment
/// shares: created if missing, never tagged for a client, never destroyed.
pub const EMR_DEFAULT_ROLE: &str = "EMR_DefaultRole";
pub const EMR_EC2_DEFAULT_ROLE: &str = "EMR_EC2_DefaultRole";
/// The default name of the reports user's inline policy.
pub const REPORTS_POLICY: &str = "s3-read-analytics-reports";

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
        .filter(|_| args.reports || args.destroy());
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
        if args.reports || args.destroy() {
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

/// A given ARN must be in the run's partition (`partition`, from the
/// region): a policy in `aws-cn` cannot name an `aws` domain.
pub fn check_partition(names: &Names, partition: &str, region: &str) -> anyhow::Result<()> {
    let Some(arn) = &names.es_domain_arn else { return Ok(()) };
    match common::aws::arn_partition(arn) {
        Some(p) if p == partition => Ok(()),
        other => Err(bad_input(format!(
            "--es-domain-arn {arn:?} is in partition {}, but region {region} is in partition {partition}: give the domain's ARN as arn:{partition}:es:...",
            other.unwrap_or("(none)")
        ))),
    }
}

/// A search domain ARN: `arn:PARTITION:es:REGION:ACCOUNT:domain/NAME`.
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
        Err(bad_input(format!("invalid --es-domain-arn {arn:?}: expected arn:PARTITION:es:REGION:ACCOUNT:domain/NAME")))
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use clap::Parser;

    use super::*;

    /// The names from these flags, after `mk-iam --client acme`.
    pub(crate) fn names(extra: &[&str]) -> anyhow::Result<Names> {
        let mut v = vec!["mk-iam", "--client", "acme"];
        v.extend_from_slice(extra);
        let a = Args::try_parse_from(v).unwrap();
        let d = Deployment::from_args(&a.converge.deployment, "mk-iam").unwrap();
        Names::from_args(&a, &d)
    }

    pub(crate) fn user_names(n: &Names) -> Vec<&str> {
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
    fn a_domain_arn_of_another_partition_is_bad_input() {
        let n = names(&["--es-domain-arn", "arn:aws-cn:es:cn-north-1:123456789012:domain/acme-analytics-es"]).unwrap();
        check_partition(&n, "aws-cn", "cn-north-1").unwrap();
        let e = check_partition(&n, "aws", "us-east-1").unwrap_err();
        assert_eq!(common::error::exit_status(&e), 2);
        assert!(e.to_string().contains("partition aws-cn") && e.to_string().contains("arn:aws:es:"), "{e}");
        check_partition(&names(&[]).unwrap(), "aws-us-gov", "us-gov-west-1").unwrap();
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
}
