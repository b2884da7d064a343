//! The search domain we want, from the flags: its name, engine version,
//! instance type and grantees, checked for shape, and what the version and
//! instance type support. Pure: no I/O.

use std::fmt;

use common::Deployment;
use common::error::bad_input;

use crate::args::Args;

/// The search engine of a domain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    Elasticsearch,
    OpenSearch,
}

/// An engine version as the OpenSearch API spells it: `Elasticsearch_7.10`,
/// `OpenSearch_2.11`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EngineVersion {
    pub engine: Engine,
    pub major: u32,
    pub minor: u32,
}

impl EngineVersion {
    pub fn parse(s: &str) -> anyhow::Result<Self> {
        let parsed = s.split_once('_').and_then(|(engine, number)| {
            let engine = match engine {
                "Elasticsearch" => Engine::Elasticsearch,
                "OpenSearch" => Engine::OpenSearch,
                _ => return None,
            };
            let (major, minor) = number.split_once('.')?;
            let digits = |p: &str| !p.is_empty() && p.len() <= 3 && p.chars().all(|c| c.is_ascii_digit());
            if !digits(major) || !digits(minor) {
                return None;
            }
            Some(EngineVersion { engine, major: major.parse().ok()?, minor: minor.parse().ok()? })
        });
        parsed.ok_or_else(|| {
            bad_input(format!(
                "invalid --engine-version {s:?}: expected Elasticsearch_X.Y or OpenSearch_X.Y \
                 (e.g. Elasticsearch_7.10, OpenSearch_2.11)"
            ))
        })
    }

    /// Elasticsearch at `major.minor` or later; any OpenSearch version
    /// counts as later than every Elasticsearch one.
    pub fn at_least_es(&self, major: u32, minor: u32) -> bool {
        match self.engine {
            Engine::OpenSearch => true,
            Engine::Elasticsearch => (self.major, self.minor) >= (major, minor),
        }
    }
}

impl fmt::Display for EngineVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let engine = match self.engine {
            Engine::Elasticsearch => "Elasticsearch",
            Engine::OpenSearch => "OpenSearch",
        };
        write!(f, "{engine}_{}.{}", self.major, self.minor)
    }
}

/// What a domain of this version on this instance type can have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Features {
    /// Elasticsearch 5.1+ or OpenSearch, and not on M3, R3 or T2 instances.
    pub encryption_at_rest: bool,
    /// Elasticsearch 6.0+ or OpenSearch.
    pub node_to_node: bool,
    /// Every version can require HTTPS (TLS 1.2 minimum).
    pub enforce_https: bool,
    /// gp3 volumes: Elasticsearch 7.10 or OpenSearch, on current-generation
    /// instances; otherwise gp2 (both are general-purpose SSD).
    pub gp3: bool,
}

/// The instance family: `t2` of `t2.small.search`.
pub fn instance_family(instance_type: &str) -> &str {
    instance_type.split('.').next().unwrap_or(instance_type)
}

/// What `version` supports on `instance_type` (AWS's feature-by-version and
/// instance-type restriction tables).
pub fn supports(version: &EngineVersion, instance_type: &str) -> Features {
    let family = instance_family(instance_type);
    let previous_generation = ["t2", "m3", "r3", "i2", "c4", "m4", "r4"].contains(&family);
    Features {
        encryption_at_rest: version.at_least_es(5, 1) && !["m3", "r3", "t2"].contains(&family),
        node_to_node: version.at_least_es(6, 0),
        enforce_https: true,
        gp3: version.at_least_es(7, 10) && !previous_generation,
    }
}

/// An instance type with the `.search` suffix of the OpenSearch API:
/// `t2.small`, `t2.small.search` and `t2.small.elasticsearch` all give
/// `t2.small.search`.
pub fn instance_type(s: &str) -> anyhow::Result<String> {
    let base = s.strip_suffix(".search").or_else(|| s.strip_suffix(".elasticsearch")).unwrap_or(s);
    let ok = base.split_once('.').is_some_and(|(family, size)| {
        family.starts_with(|c: char| c.is_ascii_lowercase())
            && family.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
            && family.chars().any(|c| c.is_ascii_digit())
            && !size.is_empty()
            && size.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
    });
    if ok {
        Ok(format!("{base}.search"))
    } else {
        Err(bad_input(format!(
            "invalid --instance-type {s:?}: expected FAMILY.SIZE[.search], e.g. t3.small.search or r6g.large"
        )))
    }
}

/// OpenSearch domain names: 3 to 28 characters, lowercase letters, digits
/// and hyphens, starting with a letter.
pub fn validate_domain_name(name: &str, defaulted: bool) -> anyhow::Result<()> {
    let problem = if !(3..=28).contains(&name.len()) {
        Some("must be 3 to 28 characters")
    } else if !name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-') {
        Some("may hold only lowercase letters, digits and hyphens")
    } else if !name.starts_with(|c: char| c.is_ascii_lowercase()) {
        Some("must start with a letter")
    } else {
        None
    };
    match (problem, defaulted) {
        (None, _) => Ok(()),
        (Some(p), true) => {
            Err(bad_input(format!("the default domain name {name:?} {p}: pass a shorter one with --domain-name")))
        }
        (Some(p), false) => Err(bad_input(format!("invalid --domain-name {name:?}: it {p}"))),
    }
}

/// A principal the access policy may name: an IAM user, role or account
/// root ARN. Never `*` or a wildcard.
pub fn validate_grant_arn(arn: &str) -> anyhow::Result<()> {
    if arn.contains('*') {
        return Err(bad_input(format!(
            "--grant-arn {arn:?}: the access policy never grants `*` or wildcards; name an IAM user or role ARN"
        )));
    }
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let ok = parts.len() == 6
        && parts[0] == "arn"
        && matches!(parts[1], "aws" | "aws-cn" | "aws-us-gov")
        && parts[2] == "iam"
        && parts[3].is_empty()
        && parts[4].len() == 12
        && parts[4].chars().all(|c| c.is_ascii_digit())
        && (parts[5] == "root"
            || parts[5]
                .strip_prefix("user/")
                .or_else(|| parts[5].strip_prefix("role/"))
                .is_some_and(|n| !n.is_empty()));
    if ok {
        Ok(())
    } else {
        Err(bad_input(format!(
            "invalid --grant-arn {arn:?}: expected arn:aws:iam::ACCOUNT:user/NAME, ...:role/NAME or ...:root"
        )))
    }
}

/// The domain as the flags describe it.
#[derive(Debug, Clone, PartialEq)]
pub struct DesiredDomain {
    pub name: String,
    pub engine_version: EngineVersion,
    pub instance_type: String,
    pub volume_gb: i32,
    /// The principals named by `--grant-arn`, sorted; empty means "the
    /// deployment's Elasticsearch user, found by name".
    pub grant_arns: Vec<String>,
}

/// The data node type when none is given: the smallest current one AWS
/// takes for every engine version in every region.
pub const DEFAULT_INSTANCE_TYPE: &str = "t3.small.search";

/// The IAM user mk-iam makes for the Analytics API's search access.
pub fn elasticsearch_user(d: &Deployment) -> String {
    d.name("analytics-elasticsearch")
}

/// Checks every flag; the first problem is bad input (exit 2).
pub fn domain(args: &Args, d: &Deployment) -> anyhow::Result<DesiredDomain> {
    let (name, defaulted) = match &args.domain_name {
        Some(n) => (n.clone(), false),
        None => (d.name("analytics-es"), true),
    };
    validate_domain_name(&name, defaulted)?;
    let engine_version = EngineVersion::parse(&args.engine_version)?;
    let instance_type = instance_type(&args.instance_type)?;
    if instance_type.starts_with("t2.micro.") && engine_version.at_least_es(5, 0) {
        return Err(bad_input(format!(
            "--instance-type {instance_type} runs only Elasticsearch 1.5 and 2.3, not {engine_version}: \
             choose t3.small.search or larger"
        )));
    }
    // What AWS refuses in current regions, known before any call. (Old
    // engine versions depend on the region: AWS's own answer says it.)
    if instance_family(&instance_type) == "t2" {
        return Err(bad_input(format!(
            "--instance-type {instance_type}: OpenSearch Service no longer takes T2 instances for new domains \
             (InvalidTypeException): choose {DEFAULT_INSTANCE_TYPE} or larger"
        )));
    }
    if args.volume_gb < 10 {
        return Err(bad_input(format!("--volume-gb {}: the smallest EBS volume is 10 GB", args.volume_gb)));
    }
    let mut grant_arns = Vec::new();
    for arn in &args.grant_arns {
        validate_grant_arn(arn)?;
        grant_arns.push(arn.clone());
    }
    grant_arns.sort();
    grant_arns.dedup();
    Ok(DesiredDomain { name, engine_version, instance_type, volume_gb: args.volume_gb, grant_arns })
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn v(s: &str) -> EngineVersion {
        EngineVersion::parse(s).unwrap()
    }

    fn parse(extra: &[&str]) -> anyhow::Result<DesiredDomain> {
        let mut argv = vec!["mk-es", "--client", "acme"];
        argv.extend_from_slice(extra);
        let a = Args::try_parse_from(argv).unwrap();
        let d = Deployment::from_args(&a.converge.deployment, "mk-es").unwrap();
        domain(&a, &d)
    }

    #[test]
    fn engine_versions() {
        assert_eq!(v("Elasticsearch_7.10"), EngineVersion { engine: Engine::Elasticsearch, major: 7, minor: 10 });
        assert_eq!(v("OpenSearch_2.11").to_string(), "OpenSearch_2.11");
        assert_eq!(v("Elasticsearch_1.5").to_string(), "Elasticsearch_1.5");
        for bad in
            ["7.10", "Elasticsearch_7", "elasticsearch_7.10", "OpenSearch_2.x", "Solr_8.1", "", "OpenSearch_2.11.0"]
        {
            let e = EngineVersion::parse(bad).unwrap_err();
            assert_eq!(common::error::exit_status(&e), 2, "{bad}");
        }
    }

    #[test]
    fn versions_compare_numerically() {
        assert!(v("Elasticsearch_7.10").at_least_es(7, 9));
        assert!(!v("Elasticsearch_5.10").at_least_es(6, 0));
        assert!(v("Elasticsearch_5.10").at_least_es(5, 3));
        assert!(v("OpenSearch_1.0").at_least_es(7, 10));
    }

    #[test]
    fn what_versions_support() {
        let f = supports(&v("Elasticsearch_1.5"), "t2.small.search");
        assert_eq!(f, Features { encryption_at_rest: false, node_to_node: false, enforce_https: true, gp3: false });
        let f = supports(&v("Elasticsearch_2.3"), "m5.large.search");
        assert!(!f.encryption_at_rest && !f.node_to_node);
        let f = supports(&v("Elasticsearch_5.1"), "m5.large.search");
        assert!(f.encryption_at_rest && !f.node_to_node);
        let f = supports(&v("Elasticsearch_6.0"), "m5.large.search");
        assert!(f.encryption_at_rest && f.node_to_node && !f.gp3);
        let f = supports(&v("Elasticsearch_7.10"), "t3.small.search");
        assert_eq!(f, Features { encryption_at_rest: true, node_to_node: true, enforce_https: true, gp3: true });
        // T2 (the runbook's type) has no encryption at rest and no gp3.
        let f = supports(&v("Elasticsearch_7.10"), "t2.small.search");
        assert_eq!(f, Features { encryption_at_rest: false, node_to_node: true, enforce_https: true, gp3: false });
        let f = supports(&v("OpenSearch_2.11"), "r3.large.search");
        assert!(!f.encryption_at_rest && f.node_to_node && !f.gp3);
    }

    #[test]
    fn instance_types() {
        assert_eq!(instance_type("t2.small").unwrap(), "t2.small.search");
        assert_eq!(instance_type("t2.small.search").unwrap(), "t2.small.search");
        assert_eq!(instance_type("m4.large.elasticsearch").unwrap(), "m4.large.search");
        assert_eq!(instance_type("r6gd.2xlarge.search").unwrap(), "r6gd.2xlarge.search");
        assert_eq!(instance_type("or1.medium").unwrap(), "or1.medium.search");
        for bad in
            ["t2", "small", "T2.small", "t2..search", "t2.small.search.search", "db.t3.medium", ".small", "t.small"]
        {
            assert!(instance_type(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn domain_names() {
        for ok in ["abc", "acme-analytics-es", &"a".repeat(28), "a1-2"] {
            validate_domain_name(ok, false).unwrap_or_else(|e| panic!("{ok}: {e}"));
        }
        for bad in ["ab", "1abc", "Acme", "acme_es", &"a".repeat(29), "acme.es"] {
            assert!(validate_domain_name(bad, false).is_err(), "{bad}");
        }
        let e = validate_domain_name(&"a".repeat(29), true).unwrap_err().to_string();
        assert!(e.contains("--domain-name"), "{e}");
    }

    #[test]
    fn grant_arns() {
        for ok in [
            "arn:aws:iam::123456789012:user/acme-analytics-elasticsearch",
            "arn:aws:iam::123456789012:role/path/x",
            "arn:aws-cn:iam::123456789012:root",
        ] {
            validate_grant_arn(ok).unwrap_or_else(|e| panic!("{ok}: {e}"));
        }
        for bad in ["*", "arn:aws:iam::123456789012:user/*", "arn:aws:iam::12345:user/x", "arn:aws:s3:::b", "user/x"] {
            assert!(validate_grant_arn(bad).is_err(), "{bad}");
        }
        assert!(validate_grant_arn("*").unwrap_err().to_string().contains("never grants"));
    }

    #[test]
    fn defaults_and_flags() {
        let d = parse(&[]).unwrap();
        assert_eq!(d.name, "acme-analytics-es");
        assert_eq!(d.engine_version.to_string(), "Elasticsearch_7.10");
        assert_eq!(d.instance_type, "t3.small.search");
        assert_eq!(d.volume_gb, 10);
        assert!(d.grant_arns.is_empty());
        let arn = "arn:aws:iam::123456789012:user/x";
        let d = parse(&["--grant-arn", arn, "--grant-arn", arn, "--domain-name", "search-1"]).unwrap();
        assert_eq!(d.grant_arns, [arn]);
        assert_eq!(d.name, "search-1");
    }

    #[test]
    fn bad_flags() {
        let cases: [(&[&str], &str); 6] = [
            (&["--engine-version", "7.10"], "--engine-version"),
            (&["--instance-type", "small"], "--instance-type"),
            (&["--instance-type", "t2.micro"], "t2.micro"),
            (&["--volume-gb", "5"], "--volume-gb"),
            (&["--instance-type", "t2.small"], "choose t3.small.search"),
            (&["--grant-arn", "*"], "never grants"),
        ];
        for (flags, needle) in cases {
            let e = parse(flags).unwrap_err();
            assert_eq!(common::error::exit_status(&e), 2);
            assert!(e.to_string().contains(needle), "{flags:?}: {e}");
        }
        let argv = ["mk-es", "--client", "a-very-long-client-name"];
        let a = Args::try_parse_from(argv).unwrap();
        let d = Deployment::from_args(&a.converge.deployment, "mk-es").unwrap();
        assert!(domain(&a, &d).unwrap_err().to_string().contains("--domain-name"));
    }
}
