//! Hand-made desired and observed states for the plan's unit tests.

use common::{Action, ClientName, Deployment};
use time::{Date, Month};

use crate::desired::DesiredInstance;
use crate::observed::{Network, Observed, ObservedInstance, ObservedSubnetGroup};
use crate::op::Plan;

pub fn d() -> Deployment {
    Deployment { client: ClientName::parse("acme").unwrap(), tool: "mk-rds", extra_tags: vec![] }
}

pub fn want() -> DesiredInstance {
    DesiredInstance {
        id: "acme-analytics".into(),
        engine_version: "8.4".into(),
        class: "db.t3.medium".into(),
        storage_gb: 20,
        backup_days: 7,
        master_username: "admin".into(),
        subnet_group: "acme-analytics".into(),
        emr_rds_group: "acme-emr-rds".into(),
        vpc_id: None,
        join: vec![],
        apply_immediately: false,
    }
}

/// The day the plans are made: MySQL 8.0 is past RDS standard support.
pub fn today() -> Date {
    Date::from_calendar_date(2026, Month::December, 3).unwrap()
}

pub fn net() -> Network {
    Network {
        vpc_id: "vpc-1".into(),
        subnets: vec![("subnet-a".into(), "us-east-1a".into()), ("subnet-b".into(), "us-east-1b".into())],
        emr_rds_group: Some("sg-emr".into()),
        default_group: Some("sg-default".into()),
    }
}

pub fn our_instance() -> ObservedInstance {
    ObservedInstance {
        arn: "arn:aws:rds:us-east-1:1:db:acme-analytics".into(),
        status: "available".into(),
        engine: "mysql".into(),
        engine_version: "8.4.3".into(),
        class: "db.t3.medium".into(),
        storage_gb: 20,
        storage_type: "gp3".into(),
        encrypted: true,
        public: false,
        backup_days: 7,
        groups: vec!["sg-emr".into(), "sg-default".into()],
        vpc_id: Some("vpc-1".into()),
        subnet_group: Some("acme-analytics".into()),
        master_username: "admin".into(),
        endpoint: Some(("acme-analytics.x.rds.amazonaws.com".into(), 3306)),
        tags: d().tags(),
        pending: false,
        lifecycle: Some("open-source-rds-extended-support-disabled".into()),
    }
}

pub fn our_subnet_group() -> ObservedSubnetGroup {
    ObservedSubnetGroup {
        arn: "arn:aws:rds:us-east-1:1:subgrp:acme-analytics".into(),
        vpc_id: "vpc-1".into(),
        subnet_ids: vec!["subnet-a".into(), "subnet-b".into()],
        tags: d().tags(),
    }
}

/// Everything as mk-rds made it.
pub fn converged() -> Observed {
    Observed { network: net(), instance: Some(our_instance()), subnet_group: Some(our_subnet_group()), joins: vec![] }
}

/// Each step's (kind, name, action).
pub fn actions(p: &Plan) -> Vec<(&str, &str, Action)> {
    p.steps.iter().map(|s| (s.change().kind, s.change().name.as_str(), s.change().action)).collect()
}
