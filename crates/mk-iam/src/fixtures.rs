//! Hand-made desired and observed states for the plan's unit tests.

use common::{ClientName, Deployment};

use crate::desired::{AccountInfo, Desired};
use crate::keys::AwsKey;
use crate::names::{Names, UserKind};
use crate::observed::{Observed, ObservedPolicy, ObservedProfile, ObservedRole, ObservedUser};
use crate::op::{Plan, Step};

pub fn d() -> Deployment {
    Deployment { client: ClientName::parse("acme").unwrap(), tool: "mk-iam", extra_tags: vec![] }
}

pub fn desired(reports: bool) -> Desired {
    desired_named(names(reports))
}

pub fn desired_named(names: Names) -> Desired {
    Desired::new(&names, &AccountInfo::new("123456789012", "arn:aws:iam::123456789012:root"))
}

pub fn names(reports: bool) -> Names {
    let mut users = vec![(UserKind::Elasticsearch, "acme-analytics-elasticsearch".to_owned())];
    if reports {
        users.push((UserKind::Reports, "acme-analytics-reports".to_owned()));
    }
    Names {
        provision_policy: "acme-provision-emr-clusters".into(),
        elasticsearch_policy: "acme-elasticsearch-all".into(),
        role: "acme-edxanalytics".into(),
        emr_role: "EMR_DefaultRole".into(),
        emr_ec2_role: "EMR_EC2_DefaultRole".into(),
        users,
        reports_policy: "s3-read-analytics-reports".into(),
        reports_bucket: reports.then(|| "acme-analytics-api-reports".to_owned()),
        es_domain_arn: None,
    }
}

pub fn empty(want: &Desired) -> Observed {
    Observed {
        policies: vec![None; want.policies.len()],
        roles: vec![None; want.roles.len()],
        profiles: vec![None; want.profiles.len()],
        users: vec![None; want.users.len()],
        stored_keys: vec![None; want.users.len()],
        pending_keys: vec![None; want.users.len()],
    }
}

/// What a converged account looks like.
pub fn converged(want: &Desired) -> Observed {
    let tags = d().tags();
    Observed {
        policies: want
            .policies
            .iter()
            .map(|p| {
                Some(ObservedPolicy { tags: tags.clone(), document: Some(p.document.clone()), other_versions: vec![] })
            })
            .collect(),
        roles: want
            .roles
            .iter()
            .map(|r| {
                Some(ObservedRole {
                    arn: r.arn.clone(),
                    tags: if r.shared { vec![] } else { tags.clone() },
                    trust: r.trust.clone(),
                    attached: r.policies.iter().map(|p| want.resolve(p).0).collect(),
                    inline: vec![],
                })
            })
            .collect(),
        profiles: want
            .profiles
            .iter()
            .map(|p| {
                Some(ObservedProfile {
                    arn: p.arn.clone(),
                    tags: if p.shared { vec![] } else { tags.clone() },
                    roles: vec![p.role.clone()],
                })
            })
            .collect(),
        users: want
            .users
            .iter()
            .enumerate()
            .map(|(i, u)| {
                Some(ObservedUser {
                    arn: u.arn.clone(),
                    tags: tags.clone(),
                    keys: vec![AwsKey { id: format!("AK{i}"), active: true, created: 1 }],
                    inline: u.inline.as_ref().map(|p| p.document.clone()),
                    inline_names: u.inline.iter().map(|p| p.name.clone()).collect(),
                    attached: vec![],
                })
            })
            .collect(),
        stored_keys: (0..want.users.len()).map(|i| Some(format!("AK{i}"))).collect(),
        pending_keys: vec![None; want.users.len()],
    }
}

pub fn find<'a>(p: &'a Plan, kind: &str, name: &str) -> &'a Step {
    p.steps
        .iter()
        .find(|s| s.change().kind == kind && s.change().name == name)
        .unwrap_or_else(|| panic!("no step {kind} {name}"))
}

pub fn mutating_ops(p: &Plan) -> usize {
    p.steps.iter().map(|s| s.ops.len()).sum()
}
