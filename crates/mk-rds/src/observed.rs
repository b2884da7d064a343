//! What exists of what mk-rds manages, as [`crate::observe`] reads it and
//! [`crate::plan`] compares it, and the pure judgements made on it while
//! applying and waiting: is the instance ready, is a resource found after a
//! lost answer the one our create made, is a deletion under way.

use common::wait::WaitState;

/// The VPC the instance lives in, as read from EC2.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Network {
    pub vpc_id: String,
    /// `(subnet id, availability zone)`.
    pub subnets: Vec<(String, String)>,
    /// Id of the `<c>-emr-rds` group in this VPC.
    pub emr_rds_group: Option<String>,
    /// Id of the VPC's `default` group.
    pub default_group: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ObservedSubnetGroup {
    pub arn: String,
    pub vpc_id: String,
    pub subnet_ids: Vec<String>,
    pub tags: Vec<(String, String)>,
}

/// An instance as read from RDS. Class, storage and backup days are the
/// values it is headed for (a pending modification counts as done).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ObservedInstance {
    pub arn: String,
    pub status: String,
    pub engine: String,
    pub engine_version: String,
    pub class: String,
    pub storage_gb: i32,
    pub storage_type: String,
    pub encrypted: bool,
    pub public: bool,
    pub backup_days: i32,
    /// VPC security groups it is (or is becoming) a member of.
    pub groups: Vec<String>,
    pub vpc_id: Option<String>,
    pub subnet_group: Option<String>,
    pub master_username: String,
    pub endpoint: Option<(String, i32)>,
    pub tags: Vec<(String, String)>,
    /// A change to class, storage or backups is still pending.
    pub pending: bool,
    /// `EngineLifecycleSupport` as RDS reports it (the emulator does not).
    pub lifecycle: Option<String>,
}

/// An instance that should join the EMR-RDS group (`--join-sg`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ObservedJoin {
    pub id: String,
    pub vpc_id: Option<String>,
    /// Groups it is or is becoming a member of (`adding` counts: a change
    /// RDS is applying is not sent again).
    pub groups: Vec<String>,
    /// The EMR-RDS group of the instance's VPC, if it has one.
    pub emr_rds_group: Option<String>,
    pub engine: String,
    pub engine_version: String,
    pub lifecycle: Option<String>,
    /// `PreferredMaintenanceWindow`, e.g. `wed:06:38-wed:07:08` (UTC).
    pub maintenance_window: Option<String>,
    /// Its `PendingModifiedValues`, in words (`instance class db.m5.large`):
    /// what ApplyImmediately=true would apply now.
    pub pending: Vec<String>,
}

/// What exists, for [`crate::ensure::plan_ensure`] and
/// [`crate::destroy::plan_destroy`] (the network is not read on destroy).
#[derive(Debug, Default)]
pub struct Observed {
    pub network: Network,
    pub instance: Option<ObservedInstance>,
    pub subnet_group: Option<ObservedSubnetGroup>,
    pub joins: Vec<ObservedJoin>,
}

/// Statuses from which waiting will not bring `available`.
const HOPELESS: [&str; 10] = [
    "failed",
    "deleting",
    "incompatible-network",
    "incompatible-option-group",
    "incompatible-parameters",
    "incompatible-restore",
    "inaccessible-encryption-credentials",
    "restore-error",
    "storage-full",
    "stopped",
];

/// Statuses in which the instance serves queries: `available`, and
/// `storage-optimization`, which follows the creation (or a storage change)
/// for minutes to hours while RDS optimizes the volume; only another
/// storage change must wait for it to end.
const USABLE: [&str; 2] = ["available", "storage-optimization"];

/// Ready when usable with no change of ours pending; `creating`,
/// `backing-up`, `modifying` and the like are not ready yet.
pub fn readiness(status: &str, pending: bool) -> WaitState<()> {
    match status {
        s if USABLE.contains(&s) && !pending => WaitState::Ready(()),
        s if USABLE.contains(&s) => WaitState::Pending(format!("{s}, applying a modification")),
        s if HOPELESS.contains(&s) => WaitState::Failed(format!("its status is {s}")),
        s => WaitState::Pending(s.to_owned()),
    }
}

/// One poll of the wait for the instance: `found` is its status and
/// whether a change of ours is pending, `None` when DescribeDBInstances
/// answered not found. Right after CreateDBInstance RDS may not list the
/// new instance yet: until it has been `seen` once, not found means "not
/// yet"; after that, it was deleted.
pub fn poll_readiness(found: Option<(&str, bool)>, seen: bool) -> WaitState<()> {
    match found {
        None if seen => WaitState::Failed("it no longer exists".into()),
        None => WaitState::Pending("not listed yet (just created)".into()),
        Some((status, pending)) => readiness(status, pending),
    }
}

/// Whether the instance is ready now, as observed.
pub fn is_ready(i: &ObservedInstance) -> bool {
    matches!(readiness(&i.status, i.pending), WaitState::Ready(()))
}

/// Whether a subnet group or instance found after a create whose answer
/// was lost (or that answered "already exists") is the one this run's
/// create made: it carries every tag the create sent, the client's among
/// them. Anyone else's of that name is not taken as created.
pub fn made_by_our_create(found_tags: &[(String, String)], sent_tags: &[(String, String)]) -> bool {
    sent_tags.iter().all(|t| found_tags.contains(t))
}

/// Whether an instance whose DeleteDBInstance answered "invalid state" is
/// being deleted already (`None`: gone; `Some(status)`), as after the SDK's
/// retry of a delete whose answer was lost.
pub fn deletion_under_way(instance: Option<Option<&str>>) -> bool {
    matches!(instance, None | Some(Some("deleting")))
}

#[cfg(test)]
mod tests {
    use common::deployment::{TAG_CLIENT, TAG_MANAGED_BY};

    use super::*;

    #[test]
    fn ready_when_available_and_nothing_pending() {
        assert!(matches!(readiness("available", false), WaitState::Ready(())));
        assert!(matches!(readiness("available", true), WaitState::Pending(_)));
        for s in ["creating", "backing-up", "modifying", "configuring-enhanced-monitoring", "rebooting"] {
            assert!(matches!(readiness(s, false), WaitState::Pending(_)), "{s}");
        }
        assert!(matches!(readiness("storage-optimization", false), WaitState::Ready(())), "usable");
        assert!(matches!(readiness("storage-optimization", true), WaitState::Pending(_)));
        for s in ["failed", "incompatible-parameters", "storage-full", "deleting"] {
            assert!(matches!(readiness(s, false), WaitState::Failed(_)), "{s}");
        }
    }

    #[test]
    fn not_found_right_after_the_create_is_waited_out_until_seen() {
        assert!(matches!(poll_readiness(None, false), WaitState::Pending(_)), "not listed yet");
        assert!(matches!(poll_readiness(None, true), WaitState::Failed(_)), "deleted meanwhile");
        assert!(matches!(poll_readiness(Some(("creating", false)), false), WaitState::Pending(_)));
        assert!(matches!(poll_readiness(Some(("storage-optimization", false)), true), WaitState::Ready(())));
    }

    #[test]
    fn a_found_resource_is_our_create_only_with_every_tag_it_sent() {
        let sent: Vec<(String, String)> =
            [(TAG_CLIENT, "acme"), (TAG_MANAGED_BY, "mk-rds")].map(|(k, v)| (k.to_owned(), v.to_owned())).into();
        assert!(made_by_our_create(&sent, &sent));
        let mut more = sent.clone();
        more.push(("team".into(), "data".into()));
        assert!(made_by_our_create(&more, &sent), "tags added since are fine");
        let other = vec![(TAG_CLIENT.to_owned(), "other".to_owned())];
        assert!(!made_by_our_create(&other, &sent), "another client's of that name");
        assert!(!made_by_our_create(&[], &sent), "an untagged one");
        assert!(!made_by_our_create(&sent[..1], &sent), "some of the tags only");
    }

    #[test]
    fn a_repeated_delete_is_done_only_when_the_instance_is_going() {
        assert!(deletion_under_way(None), "gone");
        assert!(deletion_under_way(Some(Some("deleting"))));
        assert!(!deletion_under_way(Some(Some("backing-up"))), "a real invalid state");
        assert!(!deletion_under_way(Some(Some("available"))));
        assert!(!deletion_under_way(Some(None)));
    }
}
