//! What an apply works with: the clients and what observe read ([`Ctx`]),
//! and what the run has made so far ([`Ledger`]): a key pair's id is
//! needed by the launch after it, a launched host's id by the associations
//! after that, and all of it by the outputs.

use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use aws_sdk_ec2::Client;
use common::{Deployment, SecretsDir};

use crate::converge::Converge;
use crate::desired::Role;
use crate::observed::{Address, Host, Observed};
use crate::op::Slot;

/// A key pair's id and fingerprint, as EC2 last told them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyPairIds {
    pub id: Option<String>,
    pub fingerprint: Option<String>,
}

/// Filled from the plan (what exists), then by the ops as they make
/// things. The ops of one phase run concurrently: each lock is held only
/// between awaits.
#[derive(Debug, Default)]
pub struct Ledger {
    key_pairs: Mutex<BTreeMap<Role, KeyPairIds>>,
    /// By slot; `None` until launched.
    hosts: Mutex<Vec<Option<Host>>>,
    address: Mutex<Option<Address>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Ledger {
    pub fn new(c: &Converge) -> Ledger {
        let key_pairs = c
            .key_pairs
            .iter()
            .map(|k| {
                let e = k.existing.as_ref();
                let ids =
                    KeyPairIds { id: e.and_then(|e| e.id.clone()), fingerprint: e.and_then(|e| e.fingerprint.clone()) };
                (k.spec.role, ids)
            })
            .collect();
        Ledger {
            key_pairs: Mutex::new(key_pairs),
            hosts: Mutex::new(c.hosts.iter().map(|h| h.existing.clone()).collect()),
            address: Mutex::new(c.address.clone()),
        }
    }

    pub fn key_pair(&self, role: Role) -> KeyPairIds {
        lock(&self.key_pairs).get(&role).cloned().unwrap_or_default()
    }

    pub fn set_key_pair(&self, role: Role, ids: KeyPairIds) {
        lock(&self.key_pairs).insert(role, ids);
    }

    /// The host in `slot`; an error when it was never launched.
    pub fn host(&self, slot: Slot) -> anyhow::Result<Host> {
        lock(&self.hosts)
            .get(slot)
            .cloned()
            .flatten()
            .ok_or_else(|| anyhow::anyhow!("host {slot} of the plan was not launched"))
    }

    pub fn set_host(&self, slot: Slot, host: Host) {
        if let Some(h) = lock(&self.hosts).get_mut(slot) {
            *h = Some(host);
        }
    }

    /// The hosts that exist, in plan order.
    pub fn hosts(&self) -> Vec<Host> {
        lock(&self.hosts).iter().flatten().cloned().collect()
    }

    /// Takes what DescribeInstances tells now, keeping a `Name` it does
    /// not show yet.
    pub fn refresh(&self, fresh: Vec<Host>) {
        for h in lock(&self.hosts).iter_mut().flatten() {
            if let Some(f) = fresh.iter().find(|f| f.id == h.id) {
                *h = Host { name: h.name.clone().or(f.name.clone()), ..f.clone() };
            }
        }
    }

    pub fn address(&self) -> Option<Address> {
        lock(&self.address).clone()
    }

    pub fn set_address(&self, a: Address) {
        *lock(&self.address) = Some(a);
    }
}

/// Everything an op is sent with.
pub struct Ctx<'a> {
    pub ec2: &'a Client,
    pub d: &'a Deployment,
    pub o: &'a Observed,
    pub secrets: &'a SecretsDir,
    /// `None` under `--no-wait`.
    pub wait: Option<Duration>,
    pub ledger: Ledger,
}
