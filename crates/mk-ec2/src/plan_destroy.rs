//! What destroy removes, in order: the address (disassociated, then
//! released), the hosts (terminated together, then waited for), the key
//! pairs with their private key files, then private key files whose key
//! pair is already gone. Only what carries this deployment's tag. Pure.

use common::{Action, Change, Deployment, Finding};

use crate::converge::{Plan, Step};
use crate::desired::Desired;
use crate::observed::{Host, Observed, pairs};
use crate::op::{
    DELETE_KEY_PAIRS, KIND_ADDRESS, KIND_INSTANCE, KIND_KEY_PAIR, Op, RELEASE, STALE_FILES, TERMINATE, WAIT_TERMINATED,
};

/// The destroy plan; `waits` when the run waits for the hosts to be
/// terminated (no `--no-wait`).
pub fn plan_destroy(d: &Deployment, w: &Desired, o: &Observed, waits: bool) -> Plan {
    let mut p = Plan::default();
    for a in o.addresses.iter().filter(|a| d.owns(pairs(&a.tags))) {
        let name = a.tags.iter().find(|(k, _)| k == "Name").map(|(_, v)| v.clone()).unwrap_or(a.public_ip.clone());
        let mut ops = Vec::new();
        if let Some(assoc) = &a.association_id {
            ops.push(Op::DisassociateAddress { association_id: assoc.clone(), public_ip: a.public_ip.clone() });
        }
        ops.push(Op::ReleaseAddress { allocation_id: a.allocation_id.clone(), public_ip: a.public_ip.clone() });
        let change = Change::new(KIND_ADDRESS, name, Action::Delete).with_id(&a.allocation_id);
        p.step(Step::new(change, ops).in_phase(RELEASE));
    }
    let mut hosts: Vec<&Host> = o.hosts.iter().filter(|h| d.owns(pairs(&h.tags))).collect();
    hosts.sort_by_key(|h| (h.role, h.sort_key()));
    if !hosts.is_empty() {
        let ids: Vec<String> = hosts.iter().map(|h| h.id.clone()).collect();
        let changes =
            hosts.iter().map(|h| Change::new(KIND_INSTANCE, h.label(), Action::Delete).with_id(&h.id)).collect();
        p.step(Step::batch(changes, vec![Op::Terminate { ids: ids.clone() }]).in_phase(TERMINATE));
        if waits {
            // Changes nothing itself: the key pairs go once no host runs.
            p.step(Step::ops_only(vec![Op::WaitTerminated { ids }]).in_phase(WAIT_TERMINATED));
        }
    }
    let mut stale = Vec::new();
    for spec in &w.key_pairs {
        match o.key_pairs.iter().find(|k| k.name == spec.name) {
            Some(k) if d.owns(pairs(&k.tags)) => {
                let mut c = Change::new(KIND_KEY_PAIR, &spec.name, Action::Delete);
                if let Some(id) = &k.id {
                    c = c.with_id(id);
                }
                let ops =
                    vec![Op::DeleteKeyPair { name: spec.name.clone() }, Op::RemoveKeyFile { file: spec.file_name() }];
                p.step(Step::new(c, ops).in_phase(DELETE_KEY_PAIRS));
            }
            Some(_) => p.finding(
                Finding::info(format!("key pair {} was not created by mk-ec2 for {}: left alone", spec.name, d.client))
                    .with_code("foreign-resource")
                    .about(&spec.name),
            ),
            None if o.private_key_files.contains_key(&spec.file_name()) => {
                stale.push(Op::RemoveKeyFile { file: spec.file_name() });
            }
            None => {}
        }
    }
    if !stale.is_empty() {
        // Changes no resource: files whose key pair no longer exists.
        p.step(Step::ops_only(stale).in_phase(STALE_FILES));
    }
    p
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::desired::Role;
    use crate::fixtures::{converged, dep, host, pem, want};

    #[test]
    fn destroy_takes_only_ours() {
        let mut o = converged();
        o.key_pairs[1].tags.clear();
        o.private_key_files = [pem("acme-analytics")].into();
        let mut foreign = host(Role::Analytics, 1, "i-other");
        foreign.tags = vec![("analytics:client".into(), "other".into())];
        o.hosts.push(foreign);
        let p = plan_destroy(&dep(), &want(1, true), &o, true);
        let names: Vec<String> = p.changes().map(|c| format!("{} {}", c.kind, c.name)).collect();
        assert_eq!(
            names,
            [
                "elastic-ip acme-analytics",
                "ec2-instance analytics-1",
                "ec2-instance director-1",
                "ec2-key-pair acme-analytics"
            ]
        );
        assert!(p.changes().all(|c| c.action == Action::Delete));
        assert!(p.findings[0].message.contains("acme-director was not created by mk-ec2"));
        let ops: Vec<(u8, &Op)> = p.steps.iter().flat_map(|s| s.ops.iter().map(move |op| (s.phase, op))).collect();
        assert_eq!(
            ops,
            [
                (
                    RELEASE,
                    &Op::DisassociateAddress { association_id: "eipassoc-1".into(), public_ip: "203.0.113.7".into() }
                ),
                (RELEASE, &Op::ReleaseAddress { allocation_id: "eipalloc-1".into(), public_ip: "203.0.113.7".into() }),
                (TERMINATE, &Op::Terminate { ids: vec!["i-a1".into(), "i-d1".into()] }),
                (WAIT_TERMINATED, &Op::WaitTerminated { ids: vec!["i-a1".into(), "i-d1".into()] }),
                (DELETE_KEY_PAIRS, &Op::DeleteKeyPair { name: "acme-analytics".into() }),
                (DELETE_KEY_PAIRS, &Op::RemoveKeyFile { file: "acme-analytics.pem".into() }),
            ],
            "only the foreign host is spared"
        );
        // Without waiting, and with a file whose key pair is gone.
        o.key_pairs.clear();
        let p = plan_destroy(&dep(), &want(1, true), &o, false);
        assert!(!p.steps.iter().any(|s| s.ops.iter().any(|op| matches!(op, Op::WaitTerminated { .. }))));
        let last = p.steps.last().unwrap();
        assert_eq!(
            (last.phase, &last.ops[..]),
            (STALE_FILES, &[Op::RemoveKeyFile { file: "acme-analytics.pem".into() }][..])
        );
        assert!(last.changes.is_empty(), "a stale file is no resource");
    }
}
