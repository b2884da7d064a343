//! What the tools that work in a VPC share (mk-vpc, mk-sg, mk-rds, mk-ec2):
//! EC2 filters and tags, the check of EC2 ids given as flags, and finding
//! the VPC a run is about. Kept out of `common` so that the tools without
//! EC2 do not build the EC2 SDK.

use aws_sdk_ec2::Client;
use aws_sdk_ec2::types::{Filter, ResourceType, Tag, TagSpecification};
use common::error::bad_input;
use common::{AwsResultExt, aws_error_code};

/// A DescribeX filter.
pub fn filter<S: Into<String>>(name: &str, values: impl IntoIterator<Item = S>) -> Filter {
    values.into_iter().fold(Filter::builder().name(name), aws_sdk_ec2::types::builders::FilterBuilder::values).build()
}

pub fn tag(key: &str, value: &str) -> Tag {
    Tag::builder().key(key).value(value).build()
}

/// (key, value) pairs as EC2 tags.
pub fn sdk_tags(tags: &[(String, String)]) -> Vec<Tag> {
    tags.iter().map(|(k, v)| tag(k, v)).collect()
}

/// Tags for a create call of `kind` (tagged at creation, so that an
/// interrupted run leaves a resource the next run recognises as its own).
pub fn tag_spec(kind: ResourceType, tags: &[(String, String)]) -> TagSpecification {
    TagSpecification::builder().resource_type(kind).set_tags(Some(sdk_tags(tags))).build()
}

/// EC2 tags as (key, value) pairs.
pub fn tags_of(tags: &[Tag]) -> Vec<(String, String)> {
    tags.iter().map(|t| (t.key().unwrap_or_default().to_owned(), t.value().unwrap_or_default().to_owned())).collect()
}

/// Checks an EC2 id given as `flag`: its prefix and 8 or 17 lowercase
/// hexadecimal digits (`vpc-0a1b2c3d`, `subnet-0123456789abcdef0`).
pub fn validate_id(flag: &str, prefix: &str, id: &str) -> anyhow::Result<()> {
    let ok = id.strip_prefix(prefix).and_then(|rest| rest.strip_prefix('-')).is_some_and(|hex| {
        (hex.len() == 8 || hex.len() == 17) && hex.chars().all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c))
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

/// Which VPC a run is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VpcChoice {
    /// The region's default VPC (DescribeVpcs with `is-default=true`).
    Default,
    Named(String),
}

impl VpcChoice {
    /// From `--vpc-id`, checked.
    pub fn from_flag(vpc_id: Option<&str>) -> anyhow::Result<VpcChoice> {
        match vpc_id {
            Some(id) => {
                validate_id("--vpc-id", "vpc", id)?;
                Ok(VpcChoice::Named(id.to_owned()))
            }
            None => Ok(VpcChoice::Default),
        }
    }
}

/// The VPC's id: the named one (which must exist), else the region's
/// default one. Neither is bad input (exit 2), named.
pub async fn find_vpc(ec2: &Client, choice: &VpcChoice, region: &str) -> anyhow::Result<String> {
    let req = match choice {
        VpcChoice::Named(id) => ec2.describe_vpcs().vpc_ids(id),
        VpcChoice::Default => ec2.describe_vpcs().filters(filter("is-default", ["true"])),
    };
    let out = match req.send().await {
        Ok(out) => out,
        Err(e) if aws_error_code(&e).is_some_and(|c| c.starts_with("InvalidVpcID")) => {
            let VpcChoice::Named(id) = choice else { return Err(e).aws_context("finding the default VPC") };
            return Err(bad_input(format!("--vpc-id {id}: no such VPC in {region}")));
        }
        Err(e) => return Err(e).aws_context("finding the VPC"),
    };
    match (out.vpcs().first().and_then(|v| v.vpc_id()), choice) {
        (Some(id), _) => Ok(id.to_owned()),
        (None, VpcChoice::Named(id)) => Err(bad_input(format!("--vpc-id {id}: no such VPC in {region}"))),
        (None, VpcChoice::Default) => {
            Err(bad_input(format!("{region} has no default VPC: name the VPC with --vpc-id")))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids() {
        for ok in ["vpc-0a1b2c3d", "vpc-0123456789abcdef0", "subnet-11111111"] {
            let prefix = ok.split('-').next().unwrap();
            validate_id("--x", prefix, ok).unwrap();
        }
        for (prefix, bad) in [
            ("vpc", "vpc-xyz"),
            ("vpc", "vpc-0abc"),
            ("vpc", "vpc-0a1b2c3d4"),
            ("vpc", "subnet-0123456789abcdef0"),
            ("subnet", "subnet-"),
            ("subnet", "subnet-0123456789ABCDEF0"),
            ("vpc", "vpc0a1b2c3d"),
        ] {
            let e = validate_id("--x", prefix, bad).unwrap_err();
            assert_eq!(common::error::exit_status(&e), 2, "{bad}");
            assert!(e.to_string().starts_with(&format!("invalid --x {bad:?}")), "{e}");
        }
        assert_eq!(VpcChoice::from_flag(None).unwrap(), VpcChoice::Default);
        assert_eq!(VpcChoice::from_flag(Some("vpc-0a1b2c3d")).unwrap(), VpcChoice::Named("vpc-0a1b2c3d".into()));
        assert!(VpcChoice::from_flag(Some("vpc-nothex")).unwrap_err().to_string().contains("--vpc-id"));
    }
}
