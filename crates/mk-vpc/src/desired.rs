//! The network we want to check, from the flags. Pure: no I/O.

use common::error::bad_input;

use crate::Args;

/// Which VPC the run is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VpcChoice {
    /// The region's default VPC (DescribeVpcs with `isDefault=true`).
    Default,
    Named(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Desired {
    pub vpc: VpcChoice,
    /// In the order given, without repeats. Empty: the VPC's main route table.
    pub subnet_ids: Vec<String>,
}

/// An EC2 id: its prefix and 8 or 17 lowercase hexadecimal digits
/// (`vpc-0a1b2c3d`, `subnet-0123456789abcdef0`).
pub fn validate_id(flag: &str, prefix: &str, id: &str) -> anyhow::Result<()> {
    let ok = id.strip_prefix(prefix).and_then(|rest| rest.strip_prefix('-')).is_some_and(|hex| {
        (8..=17).contains(&hex.len()) && hex.chars().all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c))
    });
    if ok {
        Ok(())
    } else {
        Err(bad_input(format!(
            "invalid {flag} {id:?}: expected {prefix}- followed by 8 or 17 hexadecimal digits, \
             e.g. {prefix}-0123456789abcdef0"
        )))
    }
}

pub fn desired(args: &Args) -> anyhow::Result<Desired> {
    let vpc = match &args.vpc_id {
        Some(id) => {
            validate_id("--vpc-id", "vpc", id)?;
            VpcChoice::Named(id.clone())
        }
        None => VpcChoice::Default,
    };
    let mut subnet_ids: Vec<String> = Vec::new();
    for s in &args.subnet_ids {
        validate_id("--subnet-id", "subnet", s)?;
        if !subnet_ids.contains(s) {
            subnet_ids.push(s.clone());
        }
    }
    Ok(Desired { vpc, subnet_ids })
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn parse(extra: &[&str]) -> anyhow::Result<Desired> {
        let mut v = vec!["mk-vpc", "--client", "acme"];
        v.extend_from_slice(extra);
        desired(&Args::try_parse_from(v).unwrap())
    }

    #[test]
    fn default_vpc_and_main_table_when_nothing_is_named() {
        assert_eq!(parse(&[]).unwrap(), Desired { vpc: VpcChoice::Default, subnet_ids: vec![] });
    }

    #[test]
    fn subnets_keep_their_order_without_repeats() {
        let d = parse(&[
            "--vpc-id",
            "vpc-0a1b2c3d",
            "--subnet-id",
            "subnet-0123456789abcdef0",
            "--subnet-id",
            "subnet-11111111",
            "--subnet-id",
            "subnet-0123456789abcdef0",
        ])
        .unwrap();
        assert_eq!(d.vpc, VpcChoice::Named("vpc-0a1b2c3d".into()));
        assert_eq!(d.subnet_ids, ["subnet-0123456789abcdef0", "subnet-11111111"]);
    }

    #[test]
    fn ids_are_checked_before_any_call() {
        for (args, needle) in [
            (&["--vpc-id", "vpc-xyz"][..], "--vpc-id"),
            (&["--vpc-id", "subnet-0123456789abcdef0"][..], "--vpc-id"),
            (&["--subnet-id", "subnet-"][..], "--subnet-id"),
            (&["--subnet-id", "subnet-0123456789ABCDEF0"][..], "--subnet-id"),
            (&["--subnet-id", "sg-0123456789abcdef0"][..], "--subnet-id"),
        ] {
            let e = parse(args).unwrap_err();
            assert_eq!(common::error::exit_status(&e), 2, "{args:?}");
            assert!(e.to_string().contains(needle), "{e}");
        }
    }
}
