//! The deployment: its client name, the names derived from it, its tags.

use clap::Args;

use crate::error::bad_input;

/// Tag naming the deployment that owns a resource.
pub const TAG_CLIENT: &str = "analytics:client";
/// Tag naming the tool that manages a resource.
pub const TAG_MANAGED_BY: &str = "analytics:managed-by";

/// A validated client name: lowercase letters, digits and single hyphens,
/// 3 to 32 characters, starting with a letter and ending with a letter or
/// digit, so that every derived name is valid for S3, IAM, RDS and EC2.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientName(String);

impl ClientName {
    pub fn parse(s: &str) -> anyhow::Result<Self> {
        let problem = if !(3..=32).contains(&s.len()) {
            Some("must be 3 to 32 characters")
        } else if !s.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-') {
            Some("may hold only lowercase letters, digits and hyphens")
        } else if !s.starts_with(|c: char| c.is_ascii_lowercase()) {
            Some("must start with a letter")
        } else if s.ends_with('-') || s.contains("--") {
            Some("must not end with a hyphen or hold two in a row")
        } else {
            None
        };
        match problem {
            Some(p) => Err(bad_input(format!("invalid client name {s:?}: it {p}"))),
            None => Ok(ClientName(s.to_owned())),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for ClientName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[derive(Args, Debug, Clone)]
#[command(next_help_heading = "Deployment")]
pub struct DeploymentArgs {
    /// The deployment's client name; prefixes every name it owns
    #[arg(long, env = "ANALYTICS_CLIENT", value_name = "NAME", help_heading = "Deployment")]
    pub client: String,
    /// Extra tag on every taggable resource (repeatable)
    #[arg(long = "tag", value_name = "KEY=VALUE", value_parser = parse_tag, help_heading = "Deployment")]
    pub tags: Vec<(String, String)>,
}

fn parse_tag(s: &str) -> Result<(String, String), String> {
    let (k, v) = s.split_once('=').ok_or_else(|| format!("tag {s:?} is not KEY=VALUE"))?;
    if k.is_empty() || k.len() > 128 || v.len() > 256 {
        return Err(format!("tag {s:?}: the key must be 1 to 128 characters and the value at most 256"));
    }
    if k.starts_with("aws:") || k.starts_with("analytics:") {
        return Err(format!("tag key {k:?} is reserved (aws: and analytics: prefixes)"));
    }
    Ok((k.to_owned(), v.to_owned()))
}

/// A deployment as one tool sees it: who it is for and who manages it.
#[derive(Debug, Clone)]
pub struct Deployment {
    pub client: ClientName,
    pub tool: &'static str,
    pub extra_tags: Vec<(String, String)>,
}

impl Deployment {
    pub fn from_args(args: &DeploymentArgs, tool: &'static str) -> anyhow::Result<Self> {
        Ok(Deployment { client: ClientName::parse(&args.client)?, tool, extra_tags: args.tags.clone() })
    }

    /// `<client>-<suffix>`, e.g. `acme-tracking-logs`.
    pub fn name(&self, suffix: &str) -> String {
        format!("{}-{suffix}", self.client)
    }

    /// The standard tags plus `--tag`s, in a stable order.
    pub fn tags(&self) -> Vec<(String, String)> {
        let mut tags =
            vec![(TAG_CLIENT.to_owned(), self.client.to_string()), (TAG_MANAGED_BY.to_owned(), self.tool.to_owned())];
        tags.extend(self.extra_tags.iter().cloned());
        tags
    }

    /// Whether a resource's tags say this deployment owns it.
    pub fn owns<'a>(&self, mut tags: impl Iterator<Item = (&'a str, &'a str)>) -> bool {
        tags.any(|(k, v)| k == TAG_CLIENT && v == self.client.as_str())
    }

    /// Which of the desired tags a resource lacks (or has another value for).
    pub fn missing_tags<'a>(&self, have: impl Iterator<Item = (&'a str, &'a str)> + Clone) -> Vec<(String, String)> {
        self.tags().into_iter().filter(|(k, v)| !have.clone().any(|(hk, hv)| hk == k && hv == v)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_names() {
        for ok in ["acme", "abc", "a1-b2", "edx-prod-2026", &"a".repeat(32)] {
            ClientName::parse(ok).unwrap_or_else(|e| panic!("{ok}: {e}"));
        }
        for bad in ["", "ab", "Acme", "acme_1", "1acme", "acme-", "ac--me", "acme.x", &"a".repeat(33), "acme corp"] {
            let e = ClientName::parse(bad).unwrap_err();
            assert_eq!(crate::error::exit_status(&e), 2, "{bad}");
            assert!(e.to_string().contains("invalid client name"), "{e}");
        }
    }

    #[test]
    fn names_and_tags() {
        let d = Deployment {
            client: ClientName::parse("acme").unwrap(),
            tool: "mk-buckets",
            extra_tags: vec![("team".into(), "data".into())],
        };
        assert_eq!(d.name("tracking-logs"), "acme-tracking-logs");
        assert_eq!(
            d.tags(),
            vec![
                ("analytics:client".into(), "acme".into()),
                ("analytics:managed-by".into(), "mk-buckets".into()),
                ("team".into(), "data".into()),
            ]
        );
        assert!(d.owns([("analytics:client", "acme")].into_iter()));
        assert!(!d.owns([("analytics:client", "other")].into_iter()));
        let have = [("analytics:client", "acme"), ("team", "ops")];
        assert_eq!(d.missing_tags(have.into_iter()).len(), 2);
    }

    #[test]
    fn tag_flag() {
        assert_eq!(parse_tag("a=b").unwrap(), ("a".into(), "b".into()));
        assert_eq!(parse_tag("a=").unwrap(), ("a".into(), "".into()));
        assert!(parse_tag("novalue").is_err());
        assert!(parse_tag("aws:x=1").is_err());
        assert!(parse_tag("analytics:client=x").is_err());
    }
}
