//! The five groups by what each is for: their default names and the
//! descriptions they are created with.

use common::Deployment;

/// What a group is for; also its key under `outputs.security_groups`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum GroupRole {
    Director,
    Analytics,
    EmrMaster,
    EmrSlave,
    EmrRds,
}

impl GroupRole {
    /// In creation order.
    pub const ALL: [GroupRole; 5] =
        [GroupRole::Director, GroupRole::Analytics, GroupRole::EmrMaster, GroupRole::EmrSlave, GroupRole::EmrRds];

    pub fn key(self) -> &'static str {
        match self {
            GroupRole::Director => "director",
            GroupRole::Analytics => "analytics",
            GroupRole::EmrMaster => "emr_master",
            GroupRole::EmrSlave => "emr_slave",
            GroupRole::EmrRds => "emr_rds",
        }
    }

    /// EMR's own two groups: one pair per VPC, shared by every deployment
    /// in it (EMR adopts groups of these names).
    pub fn is_shared(self) -> bool {
        matches!(self, GroupRole::EmrMaster | GroupRole::EmrSlave)
    }

    pub fn default_name(self, d: &Deployment) -> String {
        match self {
            GroupRole::Director => d.name("director"),
            GroupRole::Analytics => d.name("analytics"),
            GroupRole::EmrMaster => "ElasticMapReduce-master".into(),
            GroupRole::EmrSlave => "ElasticMapReduce-slave".into(),
            GroupRole::EmrRds => d.name("emr-rds"),
        }
    }

    /// The group's description, given at creation (AWS cannot change it).
    pub fn description(self, d: &Deployment) -> String {
        match self {
            GroupRole::Director => format!("{}: director host, SSH from the admins (mk-sg)", d.client),
            GroupRole::Analytics => format!("{}: Insights, Analytics API and Jenkins host (mk-sg)", d.client),
            GroupRole::EmrMaster => "Master group for Elastic MapReduce (created by mk-sg)".into(),
            GroupRole::EmrSlave => "Slave group for Elastic MapReduce (created by mk-sg)".into(),
            GroupRole::EmrRds => format!("{}: MySQL from the EMR clusters and the director (mk-sg)", d.client),
        }
    }
}
