//! Comparing the instance, subnet group and memberships we want with what
//! exists: a `common::Plan` of RDS calls ([`Op`]), by pure code.
//! Converging is planned in [`crate::ensure`], destroying in
//! [`crate::destroy`]; the calls, kinds and phases they share are in
//! [`crate::op`].
//!
//! The phases: converging, the subnet group, then the instance created in
//! it (or its one modification), then the other instances' memberships;
//! destroying, the reverse: memberships, the instance, the subnet group.

use common::Deployment;

use crate::desired::DesiredInstance;
pub use crate::destroy::DestroyOptions;
use crate::observed::Observed;
pub use crate::op::{Op, Plan, Step};

/// Plans the run: converge (on `today`: it dates the support findings), or
/// (with `destroy`) remove what is the client's.
pub fn plan(
    d: &Deployment,
    want: &DesiredInstance,
    o: &Observed,
    today: time::Date,
    destroy: Option<DestroyOptions>,
) -> anyhow::Result<Plan> {
    match destroy {
        Some(opts) => Ok(crate::destroy::plan_destroy(d, want, o, opts)),
        None => crate::ensure::plan_ensure(d, want, o, today),
    }
}

#[cfg(test)]
mod tests {
    use common::Action;

    use super::*;
    use crate::fixtures::{actions, converged, d, net, today, want};
    use crate::op::{KIND_INSTANCE, KIND_SUBNET_GROUP};

    #[test]
    fn a_plan_from_a_hand_made_account() {
        let empty = Observed { network: net(), ..Default::default() };
        let p = plan(&d(), &want(), &empty, today(), None).unwrap();
        assert_eq!(
            actions(&p),
            [(KIND_SUBNET_GROUP, "acme-analytics", Action::Create), (KIND_INSTANCE, "acme-analytics", Action::Create)]
        );
        assert!(matches!(p.steps[1].ops[..], [Op::CreateInstance(_)]));
        assert_eq!(p.totals().create, 2);

        let now = time::OffsetDateTime::UNIX_EPOCH;
        let opts = DestroyOptions { skip_final_snapshot: true, waits: true, now };
        let p = plan(&d(), &want(), &converged(), today(), Some(opts)).unwrap();
        assert_eq!(
            actions(&p),
            [(KIND_INSTANCE, "acme-analytics", Action::Delete), (KIND_SUBNET_GROUP, "acme-analytics", Action::Delete)]
        );
        assert_eq!(p.steps[1].ops, [Op::DeleteSubnetGroup { name: "acme-analytics".into() }]);
    }
}
