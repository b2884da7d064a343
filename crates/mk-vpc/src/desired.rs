//! The network we want to check, from the flags. Pure: no I/O.

use network::{VpcChoice, validate_id};

use crate::args::Args;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Desired {
    pub vpc: VpcChoice,
    /// In the order given, without repeats. Empty: the VPC's main route table.
    pub subnet_ids: Vec<String>,
}

pub fn desired(args: &Args) -> anyhow::Result<Desired> {
    let vpc = VpcChoice::from_flag(args.vpc_id.as_deref())?;
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
