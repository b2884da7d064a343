//! The shape of a converging plan ([`Converge`]): the common plan of
//! steps and ops, and what the run needs besides (the hosts the ops name by
//! slot, the key pairs for the outputs, associations left to a later run).
//! Pure data; `plan` fills it.

use crate::desired::{HostSpec, KeyPairSpec};
use crate::observed::{Address, Host, KeyPair};
use crate::op::{Launch, Op, Slot};

pub type Plan = common::Plan<Op>;
pub type Step = common::Step<Op>;

/// What the outputs need of a key pair once its step is done.
#[derive(Debug, Clone)]
pub struct KeyPairOutcome {
    pub spec: KeyPairSpec,
    pub existing: Option<KeyPair>,
    /// Whether the private key file in the secrets directory is this key
    /// pair's (and so named in the outputs).
    pub holds_private_key: bool,
}

/// A host of the plan, in [`Converge::hosts`]: one that exists, or one to
/// launch.
#[derive(Debug, Clone)]
pub struct HostSlot {
    pub spec: HostSpec,
    /// Its `Name` tag (else its id), or the name of the launch.
    pub name: String,
    pub existing: Option<Host>,
}

impl HostSlot {
    /// Whether the host will be running (or stopped: settled) once the hosts
    /// are launched and, if the run waits, waited for.
    pub fn settles(&self, waits: bool) -> bool {
        match &self.existing {
            None => waits,
            Some(h) => matches!(h.state.as_str(), "running" | "stopped") || (waits && h.state == "pending"),
        }
    }
}

/// An association left to a later run, since its host will not be running
/// by then (`--no-wait`, or a host stopping).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Deferred {
    Profile { slot: Slot, profile: String },
    Address { slot: Slot },
}

/// A converging run's plan, and what the run needs besides its steps.
#[derive(Debug, Clone, Default)]
pub struct Converge {
    pub plan: Plan,
    /// Missing prerequisites: fatal in a real run, warnings under dry-run.
    pub missing: Vec<String>,
    pub key_pairs: Vec<KeyPairOutcome>,
    /// The hosts the ops name by [`Slot`], in plan order.
    pub hosts: Vec<HostSlot>,
    /// The address used, when one exists.
    pub address: Option<Address>,
    pub deferred: Vec<Deferred>,
}

impl Converge {
    pub fn launches(&self) -> impl Iterator<Item = &Launch> {
        self.plan.steps.iter().flat_map(|s| &s.ops).filter_map(|op| match op {
            Op::Launch(l) => Some(&**l),
            _ => None,
        })
    }
}
