//! The database instance, subnet group and memberships we want, from the
//! flags, each checked for shape. Pure: no I/O.

use common::Deployment;
use common::error::bad_input;

use crate::args::Args;

/// The instance as the flags describe it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DesiredInstance {
    pub id: String,
    pub engine_version: String,
    pub class: String,
    pub storage_gb: i32,
    pub backup_days: i32,
    pub master_username: String,
    pub subnet_group: String,
    /// Name of the group EMR reaches MySQL through (`<c>-emr-rds`).
    pub emr_rds_group: String,
    /// `None`: the region's default VPC.
    pub vpc_id: Option<String>,
    /// Other instances (the edxapp database) that join the EMR-RDS group.
    pub join: Vec<String>,
    /// `--apply-immediately`: their ModifyDBInstance has ApplyImmediately=true.
    pub apply_immediately: bool,
}

/// Storage every instance gets: encrypted gp3.
pub const STORAGE_TYPE: &str = "gp3";
pub const ENGINE: &str = "mysql";

impl DesiredInstance {
    /// The secrets-directory file holding the master password.
    pub fn password_file(&self) -> String {
        format!("rds-{}.master-password", self.id)
    }

    /// Whether an instance's reported version is the one asked for: `8.0`
    /// matches any 8.0.x, `8.0.39` only itself.
    pub fn version_matches(&self, have: &str) -> bool {
        have == self.engine_version
            || (self.engine_version.matches('.').count() == 1
                && have.strip_prefix(self.engine_version.as_str()).is_some_and(|rest| rest.starts_with('.')))
    }
}

/// RDS instance identifiers: 1 to 63 letters, digits and hyphens, starting
/// with a letter, no two hyphens in a row, not ending with one. RDS stores
/// them lowercase.
pub fn instance_id(flag: &str, s: &str) -> anyhow::Result<String> {
    let problem = if !(1..=63).contains(&s.len()) {
        Some("must be 1 to 63 characters")
    } else if !s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
        Some("may hold only letters, digits and hyphens")
    } else if !s.starts_with(|c: char| c.is_ascii_alphabetic()) {
        Some("must start with a letter")
    } else if s.ends_with('-') || s.contains("--") {
        Some("must not end with a hyphen or hold two in a row")
    } else {
        None
    };
    match problem {
        Some(p) => Err(bad_input(format!("invalid {flag} {s:?}: it {p}"))),
        None => Ok(s.to_ascii_lowercase()),
    }
}

/// MySQL 8.4 or 8.0, as `8.4` (RDS picks its default minor) or `8.4.3`.
/// Checked by shape: the emulator has no DescribeDBEngineVersions.
pub fn engine_version(s: &str) -> anyhow::Result<String> {
    let mut parts = s.split('.');
    let ok = matches!((parts.next(), parts.next()), (Some("8"), Some("0" | "4")))
        && match parts.next() {
            None => true,
            Some(patch) => !patch.is_empty() && patch.len() <= 3 && patch.chars().all(|c| c.is_ascii_digit()),
        }
        && parts.next().is_none();
    if ok {
        Ok(s.to_owned())
    } else {
        Err(bad_input(format!(
            "invalid --engine-version {s:?}: MySQL 8.0 or 8.4 (8.0, 8.4, or a minor such as 8.0.39)"
        )))
    }
}

/// `db.t3.medium`; `t3.medium` gets the `db.` prefix.
pub fn instance_class(s: &str) -> anyhow::Result<String> {
    let base = s.strip_prefix("db.").unwrap_or(s);
    let ok = base.split_once('.').is_some_and(|(family, size)| {
        family.starts_with(|c: char| c.is_ascii_lowercase())
            && family.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            && family.chars().any(|c| c.is_ascii_digit())
            && !size.is_empty()
            && size.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
    });
    if ok {
        Ok(format!("db.{base}"))
    } else {
        Err(bad_input(format!("invalid --instance-class {s:?}: expected db.FAMILY.SIZE, e.g. db.t3.medium")))
    }
}

/// RDS MySQL master user names: 1 to 16 letters, digits or underscores,
/// starting with a letter; `rdsadmin` is RDS's own.
pub fn master_username(s: &str) -> anyhow::Result<String> {
    let ok = (1..=16).contains(&s.len())
        && s.starts_with(|c: char| c.is_ascii_alphabetic())
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !s.eq_ignore_ascii_case("rdsadmin");
    if ok {
        Ok(s.to_owned())
    } else {
        Err(bad_input(format!(
            "invalid --master-username {s:?}: 1 to 16 letters, digits or underscores, starting with a letter"
        )))
    }
}

/// DB subnet group names: 1 to 255 letters, digits, hyphens, underscores,
/// periods or spaces; not `default`.
pub fn subnet_group(s: &str) -> anyhow::Result<String> {
    let ok = (1..=255).contains(&s.len())
        && s.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ' '))
        && !s.eq_ignore_ascii_case("default");
    if ok {
        Ok(s.to_ascii_lowercase())
    } else {
        Err(bad_input(format!(
            "invalid --subnet-group {s:?}: letters, digits, hyphens, underscores, periods and spaces; not \"default\""
        )))
    }
}

fn vpc_id(s: &str) -> anyhow::Result<String> {
    network::validate_id("--vpc-id", "vpc", s)?;
    Ok(s.to_owned())
}

/// Checks every flag; the first problem is bad input (exit 2).
pub fn instance(args: &Args, d: &Deployment) -> anyhow::Result<DesiredInstance> {
    let id = instance_id("--db-instance-id", &args.db_instance_id.clone().unwrap_or_else(|| d.name("analytics")))?;
    if !(20..=65536).contains(&args.storage_gb) {
        return Err(bad_input(format!("--storage-gb {}: gp3 storage is 20 to 65536 GB", args.storage_gb)));
    }
    if !(7..=35).contains(&args.backup_days) {
        return Err(bad_input(format!(
            "--backup-days {}: keep 7 to 35 days of backups (RDS allows at most 35)",
            args.backup_days
        )));
    }
    let mut join = Vec::new();
    for j in &args.join_sg {
        let j = instance_id("--join-sg", j)?;
        if !join.contains(&j) {
            join.push(j);
        }
    }
    Ok(DesiredInstance {
        engine_version: engine_version(&args.engine_version)?,
        class: instance_class(&args.instance_class)?,
        storage_gb: args.storage_gb,
        backup_days: args.backup_days,
        master_username: master_username(&args.master_username)?,
        subnet_group: subnet_group(&args.subnet_group.clone().unwrap_or_else(|| d.name("analytics")))?,
        emr_rds_group: args.emr_rds_group.clone().unwrap_or_else(|| d.name("emr-rds")),
        vpc_id: args.vpc_id.as_deref().map(vpc_id).transpose()?,
        join,
        apply_immediately: args.apply_immediately,
        id,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn parse(extra: &[&str]) -> anyhow::Result<DesiredInstance> {
        let mut argv = vec!["mk-rds", "--client", "acme"];
        argv.extend_from_slice(extra);
        let a = Args::try_parse_from(argv).unwrap();
        let d = Deployment::from_args(&a.converge.deployment, "mk-rds").unwrap();
        instance(&a, &d)
    }

    #[test]
    fn defaults() {
        let w = parse(&[]).unwrap();
        assert_eq!(w.id, "acme-analytics");
        assert_eq!(w.engine_version, "8.4", "MySQL 8.0 left RDS standard support on 2026-07-31");
        assert_eq!(w.class, "db.t3.medium");
        assert_eq!((w.storage_gb, w.backup_days), (20, 7));
        assert_eq!(w.master_username, "admin");
        assert_eq!(w.subnet_group, "acme-analytics");
        assert_eq!(w.emr_rds_group, "acme-emr-rds");
        assert_eq!(w.vpc_id, None);
        assert!(w.join.is_empty() && !w.apply_immediately);
        assert_eq!(w.password_file(), "rds-acme-analytics.master-password");
    }

    #[test]
    fn flags() {
        let w = parse(&[
            "--db-instance-id",
            "Acme-DB",
            "--engine-version",
            "8.4.3",
            "--instance-class",
            "r6g.large",
            "--join-sg",
            "edxapp-db",
            "other",
            "--join-sg",
            "edxapp-db",
            "--apply-immediately",
            "--vpc-id",
            "vpc-0a1b2c3d",
        ])
        .unwrap();
        assert_eq!(w.id, "acme-db");
        assert_eq!(w.engine_version, "8.4.3");
        assert_eq!(w.class, "db.r6g.large");
        assert_eq!(w.join, ["edxapp-db", "other"]);
        assert!(w.apply_immediately);
        assert_eq!(w.vpc_id.as_deref(), Some("vpc-0a1b2c3d"));
    }

    #[test]
    fn engine_versions() {
        for ok in ["8.0", "8.4", "8.0.39", "8.4.3"] {
            assert_eq!(engine_version(ok).unwrap(), ok);
        }
        for bad in ["5.7", "8", "8.1", "8.0.x", "8.0.39.1", "mysql8.0", "", "8.0."] {
            let e = engine_version(bad).unwrap_err();
            assert_eq!(common::error::exit_status(&e), 2, "{bad}");
        }
    }

    #[test]
    fn versions_match_by_prefix_only_for_major_minor() {
        let mut w = parse(&["--engine-version", "8.0"]).unwrap();
        assert!(w.version_matches("8.0") && w.version_matches("8.0.39"));
        assert!(!w.version_matches("8.4.3") && !w.version_matches("8.01"));
        w.engine_version = "8.0.39".into();
        assert!(w.version_matches("8.0.39") && !w.version_matches("8.0.40"));
    }

    #[test]
    fn names() {
        assert_eq!(instance_class("db.t3.medium").unwrap(), "db.t3.medium");
        assert_eq!(instance_class("t4g.micro").unwrap(), "db.t4g.micro");
        for bad in ["t3", "db.t3", "medium", "db.T3.medium", "db..medium"] {
            assert!(instance_class(bad).is_err(), "{bad}");
        }
        for bad in ["", "1db", "a--b", "a-", "a_b", &"a".repeat(64)] {
            assert!(instance_id("--db-instance-id", bad).is_err(), "{bad}");
        }
        for bad in ["", "1admin", "rdsadmin", "ad-min", &"a".repeat(17)] {
            assert!(master_username(bad).is_err(), "{bad}");
        }
        assert!(subnet_group("default").is_err() && subnet_group("a/b").is_err());
    }

    #[test]
    fn bad_flags() {
        let cases: [(&[&str], &str); 7] = [
            (&["--backup-days", "3"], "--backup-days"),
            (&["--backup-days", "36"], "--backup-days"),
            (&["--storage-gb", "10"], "--storage-gb"),
            (&["--engine-version", "5.7"], "--engine-version"),
            (&["--instance-class", "large"], "--instance-class"),
            (&["--join-sg", "bad--id"], "--join-sg"),
            (&["--vpc-id", "vpc-xyz"], "--vpc-id"),
        ];
        for (flags, needle) in cases {
            let e = parse(flags).unwrap_err();
            assert_eq!(common::error::exit_status(&e), 2);
            assert!(e.to_string().contains(needle), "{flags:?}: {e}");
        }
    }
}
