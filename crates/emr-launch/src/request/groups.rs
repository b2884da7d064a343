//! Instance groups: the file's `instance_groups` map, filled in from the
//! old playbook's scalar variables (`core_instance_num`, ...) and, when the
//! map is not set at all, from the playbook's default groups.

use common::error::bad_input;

use super::types::InstanceGroup;
use super::values::{Notes, ROLES, ebs, int32, role};
use crate::vars::{EmrVars, InstanceGroupVar, Int, Market, Text};

/// A group's settings from the old playbook's scalar variables
/// (`core_instance_num`, `task_instance_bid`, ...).
fn scalars(vars: &EmrVars, role: &str) -> InstanceGroupVar {
    let (num, ty, market, bid) = match role {
        "master" => (
            vars.master_instance_num,
            &vars.master_instance_type,
            vars.master_instance_market,
            &vars.master_instance_bid,
        ),
        "core" => {
            (vars.core_instance_num, &vars.core_instance_type, vars.core_instance_market, &vars.core_instance_bid)
        }
        _ => (vars.task_instance_num, &vars.task_instance_type, vars.task_instance_market, &vars.task_instance_bid),
    };
    InstanceGroupVar {
        num_instances: num,
        instance_type: ty.clone(),
        market,
        bidprice: bid.clone(),
        ..Default::default()
    }
}

/// The old playbook's (provision.yml) default groups: one m1.medium each,
/// the task group on spot at 0.03.
fn playbook_default(role: &str) -> InstanceGroupVar {
    let spot = role == "task";
    InstanceGroupVar {
        num_instances: Some(Int(Some(1))),
        instance_type: Some(Text("m1.medium".into())),
        market: Some(if spot { Market::Spot } else { Market::OnDemand }),
        bidprice: spot.then(|| Text("0.03".into())),
        ..Default::default()
    }
}

/// `group`, with what it leaves out (or leaves empty) taken from `fallback`.
fn fill(group: &InstanceGroupVar, fallback: &InstanceGroupVar) -> InstanceGroupVar {
    let text = |t: &Option<Text>, f: &Option<Text>| t.clone().filter(|t| !t.0.is_empty()).or_else(|| f.clone());
    InstanceGroupVar {
        num_instances: group.num_instances.filter(|n| n.0.is_some()).or(fallback.num_instances),
        instance_type: text(&group.instance_type, &fallback.instance_type),
        market: group.market.or(fallback.market),
        bidprice: text(&group.bidprice, &fallback.bidprice),
        volume_size: group.volume_size.or(fallback.volume_size),
        volume_type: group.volume_type.or(fallback.volume_type),
    }
}

/// Each role's settings, filled in, in the file's order (or master, core,
/// task for the playbook's defaults).
fn group_vars(vars: &EmrVars, notes: &mut Notes) -> anyhow::Result<Vec<(&'static str, InstanceGroupVar)>> {
    match &vars.instance_groups {
        Some(groups) if !groups.0.is_empty() => {
            let mut specs: Vec<(&'static str, InstanceGroupVar)> = Vec::new();
            for (key, g) in &groups.0 {
                let r = role(key, "instance_groups")?;
                if specs.iter().any(|(seen, _)| *seen == r) {
                    return Err(bad_input(format!("instance_groups.{key}: the {r} group is given twice")));
                }
                specs.push((r, fill(g, &scalars(vars, r))));
            }
            Ok(specs)
        }
        _ => {
            notes.info(
                "instance_groups not set: using the old playbook's default groups and its *_instance_* variables"
                    .into(),
            );
            Ok(ROLES.iter().map(|r| (*r, fill(&scalars(vars, r), &playbook_default(r)))).collect())
        }
    }
}

/// One role's group; `None` for a group of 0 instances (left out).
fn instance_group(r: &str, g: &InstanceGroupVar, notes: &mut Notes) -> anyhow::Result<Option<InstanceGroup>> {
    let key = format!("instance_groups.{r}");
    let count = Int::value(&g.num_instances)
        .ok_or_else(|| bad_input(format!("{key}.num_instances is required (or {r}_instance_num)")))?;
    let count = int32(count, &format!("{key}.num_instances"), 0)?;
    if count == 0 {
        return Ok(None);
    }
    let instance_type = Text::present(&g.instance_type)
        .ok_or_else(|| bad_input(format!("{key}.type is required (or {r}_instance_type)")))?
        .to_owned();
    let bid_price = match (g.market, Text::present(&g.bidprice)) {
        (Some(_), Some(bid)) => {
            if !bid.parse::<f64>().is_ok_and(|b| b > 0.0) {
                return Err(bad_input(format!("{key}.bidprice: {bid:?} is not a price in USD such as 0.10")));
            }
            Some(bid.to_owned())
        }
        (None, Some(_)) => {
            notes.warn(format!("{key}.bidprice ignored: it needs market: SPOT"));
            None
        }
        _ => None,
    };
    Ok(Some(InstanceGroup {
        name: r.to_owned(),
        market: g.market.map(|m| m.as_str().to_owned()),
        instance_role: r.to_ascii_uppercase(),
        bid_price,
        instance_type,
        instance_count: count,
        ebs_configuration: ebs(Int::value(&g.volume_size), g.volume_type, &key)?,
    }))
}

/// The request's instance groups; a master group is required.
pub fn instance_groups(vars: &EmrVars, notes: &mut Notes) -> anyhow::Result<Vec<InstanceGroup>> {
    let mut groups = Vec::new();
    for (r, g) in group_vars(vars, notes)? {
        groups.extend(instance_group(r, &g, notes)?);
    }
    if !groups.iter().any(|g| g.instance_role == "MASTER") {
        return Err(bad_input("instance_groups: a master group with num_instances of at least 1 is required"));
    }
    Ok(groups)
}
