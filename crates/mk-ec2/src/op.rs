//! The calls mk-ec2 makes, one [`Op`] each, the kinds of resource its
//! changes name, and the phases that order its steps. Pure data.

use crate::desired::{HostSpec, KeyPairSpec};
use crate::observed::Tags;

pub const KIND_KEY_PAIR: &str = "ec2-key-pair";
pub const KIND_INSTANCE: &str = "ec2-instance";
pub const KIND_ADDRESS: &str = "elastic-ip";
pub const KIND_PROFILE: &str = "iam-instance-profile-association";

/// Phases of a converging run; each needs what the ones before made.
/// The launches name the key pairs.
pub const KEY_PAIRS: u8 = 0;
pub const HOSTS: u8 = 1;
/// Waiting for the hosts just started: profiles and the address go on
/// running hosts.
pub const WAIT_RUNNING: u8 = 2;
pub const PROFILES: u8 = 3;
pub const ADDRESS: u8 = 4;

/// Phases of a destroy, the reverse: the address leaves the host before it
/// is terminated, and key pairs go once no host uses them.
pub const RELEASE: u8 = 0;
pub const TERMINATE: u8 = 1;
pub const WAIT_TERMINATED: u8 = 2;
pub const DELETE_KEY_PAIRS: u8 = 3;
pub const STALE_FILES: u8 = 4;

/// A host of a converging plan, by its place in the plan's list of hosts
/// (`Converge::hosts`): a host to launch has no id until
/// it is launched, so later ops name it by its slot.
pub type Slot = usize;

/// One RunInstances.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Launch {
    pub slot: Slot,
    pub spec: HostSpec,
    pub index: u32,
    pub name: String,
    pub tags: Tags,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    /// Generate a key here, write its private key file, then import its
    /// public key, tagged so.
    GenerateKey {
        spec: KeyPairSpec,
        tags: Tags,
    },
    /// Import this public key line: the operator's `--public-key`, or that
    /// of the private key file already in the secrets directory.
    ImportKeyPair {
        spec: KeyPairSpec,
        public_key: String,
        tags: Tags,
    },
    DeleteKeyPair {
        name: String,
    },
    /// Tags on an existing key pair (`None`: EC2 gave it no id).
    TagKeyPair {
        name: String,
        id: Option<String>,
        tags: Tags,
    },
    /// Tags on an existing instance or address.
    Tag {
        id: String,
        tags: Tags,
    },
    RequireImdsv2 {
        id: String,
        label: String,
    },
    Launch(Box<Launch>),
    /// Waits until the hosts that are starting run. Sends only reads.
    WaitRunning,
    AssociateProfile {
        slot: Slot,
        profile: String,
    },
    /// The instance profile a launch carried: sends nothing, gives its ARN
    /// as the association's id.
    ProfileOfLaunch {
        slot: Slot,
    },
    AllocateAddress {
        tags: Tags,
    },
    AssociateAddress {
        slot: Slot,
    },
    DisassociateAddress {
        association_id: String,
        public_ip: String,
    },
    ReleaseAddress {
        allocation_id: String,
        public_ip: String,
    },
    Terminate {
        ids: Vec<String>,
    },
    /// Waits until these hosts are terminated. Sends only reads.
    WaitTerminated {
        ids: Vec<String>,
    },
    /// Removes a private key file from the secrets directory.
    RemoveKeyFile {
        file: String,
    },
}

impl Op {
    /// Whether it changes anything (and so the hosts are read again for
    /// the outputs).
    pub fn mutates(&self) -> bool {
        !matches!(self, Op::WaitRunning | Op::ProfileOfLaunch { .. } | Op::WaitTerminated { .. })
    }
}
