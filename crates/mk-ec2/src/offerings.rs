//! Whether the region offers the instance types the launches ask for
//! (DescribeInstanceTypeOfferings, location type `region`): checked after
//! planning and before anything is made, so that a type the region lacks
//! (T2 in the newer regions) stops the run with an offered alternative
//! named, not a RunInstances `Unsupported` after the key pairs were made.
//! One read ([`offered`]); the decisions are pure ([`alternatives`],
//! [`check`]).
//!
//! Exit status: 2 when the type came from `--analytics-type` /
//! `--director-type` (the flag is what to change, as with an `--ami-id`
//! the region lacks), 1 when it is the default (nothing typed is wrong:
//! the region is).

use std::collections::BTreeSet;

use aws_sdk_ec2::Client;
use aws_sdk_ec2::types::LocationType;
use common::AwsResultExt;
use common::error::bad_input;
use network::filter;

use crate::desired::{DEFAULT_ANALYTICS_TYPE, DEFAULT_DIRECTOR_TYPE, HostSpec, Role};

/// Current general-purpose amd64 types, suggested when no type of the
/// same size is offered.
const FALLBACKS: [&str; 4] = ["t3.medium", "m5.large", "m6i.large", "m7i.large"];

fn default_type(role: Role) -> &'static str {
    match role {
        Role::Analytics => DEFAULT_ANALYTICS_TYPE,
        Role::Director => DEFAULT_DIRECTOR_TYPE,
    }
}

/// What to suggest instead of the host's type, best first: the same size
/// in the current burstable families (`t2.micro`: `t3.micro`,
/// `t3a.micro`), the role's default, then general-purpose types. Which of
/// them the region offers is for [`offered`] to say.
pub fn alternatives(spec: &HostSpec) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    if let Some((_, size)) = spec.instance_type.split_once('.') {
        out.extend(["t3", "t3a"].map(|family| format!("{family}.{size}")));
    }
    out.push(default_type(spec.role).to_owned());
    out.extend(FALLBACKS.map(str::to_owned));
    let mut seen = BTreeSet::new();
    out.retain(|t| *t != spec.instance_type && seen.insert(t.clone()));
    out
}

/// Every type to ask about: the hosts' and their alternatives.
pub fn asked(specs: &[&HostSpec]) -> BTreeSet<String> {
    specs.iter().flat_map(|s| std::iter::once(s.instance_type.clone()).chain(alternatives(s))).collect()
}

/// Fails, naming an offered alternative, when a host's type is not among
/// `offered` in `region`.
pub fn check(specs: &[&HostSpec], offered: &BTreeSet<String>, region: &str) -> anyhow::Result<()> {
    let mut problems = Vec::new();
    let mut given = false;
    for s in specs.iter().filter(|s| !offered.contains(&s.instance_type)) {
        let (t, flag) = (&s.instance_type, s.type_flag);
        let instead = match alternatives(s).into_iter().find(|a| offered.contains(a)) {
            Some(a) => format!("{flag} {a}, for one that is"),
            None => format!("{flag} with a type `aws ec2 describe-instance-type-offerings --region {region}` lists"),
        };
        problems.push(if s.type_given {
            format!("{flag} {t}: instance type {t} is not offered in {region}: pass {instead}")
        } else {
            format!("the default {flag} {t} is not offered in {region}: pass {instead}")
        });
        given |= s.type_given;
    }
    match (problems.is_empty(), given) {
        (true, _) => Ok(()),
        (false, true) => Err(bad_input(problems.join("; "))),
        (false, false) => Err(anyhow::anyhow!("{}", problems.join("; "))),
    }
}

/// The types among `types` the region offers.
pub async fn offered(ec2: &Client, types: &BTreeSet<String>) -> anyhow::Result<BTreeSet<String>> {
    let mut found = BTreeSet::new();
    let mut token = None;
    loop {
        let out = ec2
            .describe_instance_type_offerings()
            .location_type(LocationType::Region)
            .filters(filter("instance-type", types.iter().map(String::as_str)))
            .set_next_token(token)
            .send()
            .await
            .aws_context("listing the instance types the region offers")?;
        found.extend(
            out.instance_type_offerings().iter().filter_map(|o| o.instance_type()).map(|t| t.as_str().to_owned()),
        );
        token = out.next_token().filter(|t| !t.is_empty()).map(str::to_owned);
        if token.is_none() {
            return Ok(found);
        }
    }
}

/// [`check`] of the hosts about to be launched, after one [`offered`].
pub async fn ensure_offered(ec2: &Client, specs: &[&HostSpec], region: &str) -> anyhow::Result<()> {
    if specs.is_empty() {
        return Ok(());
    }
    let offered = offered(ec2, &asked(specs)).await?;
    check(specs, &offered, region)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::want;

    fn set(types: &[&str]) -> BTreeSet<String> {
        types.iter().map(|t| (*t).to_owned()).collect()
    }

    #[test]
    fn alternatives_start_with_the_same_size() {
        let w = want(1, true);
        assert_eq!(
            alternatives(&w.hosts[0]),
            ["t3.medium", "t3a.medium", "m5.large", "m6i.large", "m7i.large"],
            "t2.medium's"
        );
        assert_eq!(alternatives(&w.hosts[1])[..3], ["t3.micro", "t3a.micro", "t3.medium"], "t2.micro's");
        let mut m = w.hosts[0].clone();
        m.instance_type = "m5.large".into();
        assert!(!alternatives(&m).contains(&"m5.large".to_owned()), "never itself");
        assert!(asked(&[&w.hosts[0]]).contains("t2.medium"));
    }

    #[test]
    fn a_type_not_offered_names_one_that_is() {
        let w = want(1, true);
        let hosts: Vec<&HostSpec> = w.hosts.iter().collect();
        check(&hosts, &set(&["t2.medium", "t2.micro"]), "us-east-1").unwrap();

        // A type given by flag: bad input, with the alternative offered.
        let e = check(&hosts, &set(&["t3a.medium", "t3.micro", "m5.large"]), "eu-north-1").unwrap_err();
        assert_eq!(common::error::exit_status(&e), 2);
        let msg = e.to_string();
        assert!(
            msg.contains("--analytics-type t2.medium: instance type t2.medium is not offered in eu-north-1")
                && msg.contains("pass --analytics-type t3a.medium"),
            "{msg}"
        );
        assert!(msg.contains("pass --director-type t3.micro"), "{msg}");

        // The default: the region's fact, exit 1.
        let mut d = w.hosts[1].clone();
        d.type_given = false;
        let e = check(&[&d], &set(&["m5.large"]), "xx-east-1").unwrap_err();
        assert_eq!(common::error::exit_status(&e), 1);
        assert!(e.to_string().starts_with("the default --director-type t2.micro is not offered in xx-east-1"), "{e}");
        let e = check(&[&d], &set(&[]), "xx-east-1").unwrap_err();
        assert!(e.to_string().contains("describe-instance-type-offerings --region xx-east-1"), "{e}");
    }
}
