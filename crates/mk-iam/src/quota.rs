//! IAM's quota of managed policies per role, checked before attaching.
//!
//! `EMR_EC2_DefaultRole` is shared by every deployment in the account, and
//! each attaches its own `<client>-elasticsearch-all` to it, next to
//! `AmazonElasticMapReduceforEC2Role`. IAM allows 10 managed policies per
//! role by default (`AttachedPoliciesPerRoleQuota`; Service Quotas raises it
//! to 20), so the tenth deployment of an account would stop half-way with
//! `LimitExceeded`. Instead, a run that would attach past the quota stops
//! before any change, naming the role, its count, and what to do; a run
//! that loses a race for the last place gets the same explanation from the
//! refused call. The quota is read from the account (GetAccountSummary),
//! only when the plan attaches something.

use std::collections::BTreeMap;

use aws_sdk_iam::Client;
use aws_sdk_iam::types::SummaryKeyType;
use common::{AwsResultExt, aws_error_code};

use crate::desired::Desired;
use crate::observed::Observed;
use crate::op::{Op, Plan};

/// IAM's default, when the account's cannot be read.
pub const DEFAULT_POLICIES_PER_ROLE: usize = 10;

/// What to do, in the error about a role at its quota.
fn remedy(shared: Option<bool>) -> &'static str {
    match shared {
        Some(false) => {
            "detach the policies it does not need, or raise the quota (Service Quotas: IAM, \"Managed policies per role\", at most 20)"
        }
        _ => {
            "the role is shared by every deployment in the account, each attaching its <client>-elasticsearch-all: detach those of deployments that are gone (mk-iam --destroy detaches its own), raise the quota (Service Quotas: IAM, \"Managed policies per role\", at most 20), or give this deployment a role of its own for EMR's nodes (--emr-ec2-role NAME, on every later mk-iam run too)"
        }
    }
}

fn name_of(arn: &str) -> &str {
    arn.rsplit('/').next().unwrap_or(arn)
}

/// The policies the plan attaches, by role.
fn attaching(plan: &Plan) -> BTreeMap<&str, Vec<&str>> {
    let mut by_role: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for op in plan.steps.iter().flat_map(|s| &s.ops) {
        if let Op::AttachRolePolicy { role, arn } = op {
            by_role.entry(role).or_default().push(arn);
        }
    }
    by_role
}

/// Whether the plan attaches anything (then the quota is worth reading).
pub fn attaches(plan: &Plan) -> bool {
    !attaching(plan).is_empty()
}

/// Fails when the plan would attach more managed policies to a role than
/// `quota` allows, counting those attached now.
pub fn check(desired: &Desired, observed: &Observed, plan: &Plan, quota: usize) -> anyhow::Result<()> {
    for (role, arns) in attaching(plan) {
        let (spec, o) = desired
            .roles
            .iter()
            .zip(&observed.roles)
            .find(|(s, _)| s.name == role)
            .map_or((None, None), |(s, o)| (Some(s), o.as_ref()));
        let attached = o.map_or(0, |o| o.attached.len());
        if attached + arns.len() > quota {
            let names: Vec<&str> = arns.iter().map(|a| name_of(a)).collect();
            anyhow::bail!(
                "role {role} has {attached} managed policies attached and IAM allows {quota} per role in this account: attaching {} would make {}; {}",
                names.join(", "),
                attached + arns.len(),
                remedy(spec.map(|s| s.shared)),
            );
        }
    }
    Ok(())
}

/// The account's quota (GetAccountSummary's `AttachedPoliciesPerRoleQuota`),
/// `None` when these credentials may not read it: the refused attach then
/// explains itself ([`explain_refusal`]).
pub async fn policies_per_role(iam: &Client) -> anyhow::Result<Option<usize>> {
    let summary = match iam.get_account_summary().send().await {
        Ok(s) => s,
        Err(e) if aws_error_code(&e).is_some_and(|c| c.contains("AccessDenied")) => {
            tracing::info!(
                "cannot read the account's IAM quotas (GetAccountSummary denied): not checked before attaching"
            );
            return Ok(None);
        }
        Err(e) => return Err(e).aws_context("reading the account's IAM quotas"),
    };
    let quota = summary.summary_map().and_then(|m| m.get(&SummaryKeyType::AttachedPoliciesPerRoleQuota)).copied();
    Ok(quota.and_then(|q| usize::try_from(q).ok()))
}

/// The error for an AttachRolePolicy that IAM refused at the quota
/// (`LimitExceeded` "Cannot exceed quota for PoliciesPerRole: N"), if it is
/// that refusal.
pub fn explain_refusal(role: &str, arn: &str, code: Option<&str>, message: &str) -> Option<anyhow::Error> {
    (code == Some("LimitExceeded") && message.contains("PoliciesPerRole")).then(|| {
        anyhow::anyhow!(
            "attaching {} to role {role}: IAM refused it at the quota of managed policies per role ({message}); {}",
            name_of(arn),
            remedy(None)
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::{converged, desired, empty};
    use crate::plan::plan;

    #[test]
    fn attaching_past_the_quota_stops_before_any_change() {
        let want = desired(false);
        let mut o = empty(&want);
        // EMR's nodes' role exists with 9 policies of other deployments.
        let mut nodes = converged(&want).roles[2].clone().unwrap();
        nodes.attached = (0..9).map(|i| format!("arn:aws:iam::123456789012:policy/d{i}-elasticsearch-all")).collect();
        o.roles[2] = Some(nodes.clone());
        let (p, _) = plan(&crate::fixtures::d(), &want, &o, false, false);
        assert!(attaches(&p));
        // Ours and AmazonElasticMapReduceforEC2Role: 11.
        let e = check(&want, &o, &p, DEFAULT_POLICIES_PER_ROLE).unwrap_err().to_string();
        assert!(e.starts_with("role EMR_EC2_DefaultRole has 9 managed policies attached and IAM allows 10"), "{e}");
        assert!(e.contains("acme-elasticsearch-all") && e.contains("would make 11"), "{e}");
        assert!(e.contains("--emr-ec2-role") && e.contains("Service Quotas"), "{e}");
        assert_eq!(common::error::exit_status(&check(&want, &o, &p, 10).unwrap_err()), 1, "a fact, not a typo");
        check(&want, &o, &p, 20).unwrap();
        nodes.attached.truncate(8);
        o.roles[2] = Some(nodes);
        let (p, _) = plan(&crate::fixtures::d(), &want, &o, false, false);
        check(&want, &o, &p, 10).unwrap();
        // A converged run attaches nothing: the quota is not even read.
        let (p, _) = plan(&crate::fixtures::d(), &want, &converged(&want), false, false);
        assert!(!attaches(&p));
    }

    #[test]
    fn a_refusal_at_the_quota_is_explained() {
        let arn = "arn:aws:iam::123456789012:policy/acme-elasticsearch-all";
        let why = "Cannot exceed quota for PoliciesPerRole: 10";
        let e = explain_refusal("EMR_EC2_DefaultRole", arn, Some("LimitExceeded"), why).unwrap().to_string();
        assert!(e.contains("acme-elasticsearch-all") && e.contains(why) && e.contains("--emr-ec2-role"), "{e}");
        assert!(explain_refusal("r", arn, Some("LimitExceeded"), "Cannot exceed quota for PolicySize").is_none());
        assert!(explain_refusal("r", arn, Some("NoSuchEntity"), why).is_none());
    }
}
