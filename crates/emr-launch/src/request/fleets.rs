//! Instance fleets: the file's `instance_fleets` map, each fleet's
//! capacities, instance types and spot settings.

use common::error::bad_input;

use super::types::{EbsConfiguration, InstanceFleet, InstanceTypeConfig, LaunchSpecifications, SpotSpecification};
use super::values::{Notes, ebs, int32, role};
use crate::vars::{EmrVars, Flag, InstanceFleetVar, Int};

/// The request's instance fleets; a master fleet is required.
pub fn instance_fleets(vars: &EmrVars, notes: &mut Notes) -> anyhow::Result<Vec<InstanceFleet>> {
    let mut fleets = Vec::new();
    let mut seen = Vec::new();
    for (key, f) in &vars.instance_fleets.0 {
        let r = role(key, "instance_fleets")?;
        if seen.contains(&r) {
            return Err(bad_input(format!("instance_fleets.{key}: the {r} fleet is given twice")));
        }
        seen.push(r);
        if let Some(fleet) = instance_fleet(r, f, notes)? {
            fleets.push(fleet);
        }
    }
    if !fleets.iter().any(|f| f.instance_fleet_type == "MASTER") {
        return Err(bad_input("instance_fleets: a master fleet with a capacity of at least 1 is required"));
    }
    Ok(fleets)
}

/// One role's fleet; `None` for a fleet of zero capacity (left out).
fn instance_fleet(r: &str, f: &InstanceFleetVar, notes: &mut Notes) -> anyhow::Result<Option<InstanceFleet>> {
    let key = format!("instance_fleets.{r}");
    let mut on_demand = int32(Int::value(&f.on_demand_capacity).unwrap_or(0), &format!("{key}.on_demand_capacity"), 0)?;
    let mut spot = int32(Int::value(&f.spot_capacity).unwrap_or(0), &format!("{key}.spot_capacity"), 0)?;
    // use_spot: false keeps the fleet's size but buys all of it on demand.
    if !Flag::value(&f.use_spot, true) && spot > 0 {
        notes.info(format!("{key}: use_spot is false, so its spot capacity ({spot}) is bought on demand"));
        on_demand += spot;
        spot = 0;
    }
    if on_demand + spot == 0 {
        return Ok(None);
    }
    if f.instance_types.is_empty() {
        return Err(bad_input(format!("{key}.instance_types: at least one instance type is required")));
    }
    let ebs = ebs(Int::value(&f.volume_size), f.volume_type, &key)?;
    let instance_type_configs = instance_type_configs(f, &key, spot > 0, ebs.as_ref())?;
    let launch_specifications = (spot > 0).then(|| launch_specifications(f, &key)).transpose()?;
    Ok(Some(InstanceFleet {
        name: r.to_owned(),
        instance_fleet_type: r.to_ascii_uppercase(),
        target_on_demand_capacity: on_demand,
        target_spot_capacity: spot,
        instance_type_configs,
        launch_specifications,
    }))
}

/// The fleet's instance types; with spot capacity, each with its bid as a
/// percentage of the on-demand price (the fleet's, default 25).
fn instance_type_configs(
    f: &InstanceFleetVar,
    key: &str,
    spot: bool,
    ebs: Option<&EbsConfiguration>,
) -> anyhow::Result<Vec<InstanceTypeConfig>> {
    let pct = f.bid_price_pct.map_or(25.0, |p| p.0);
    let mut configs = Vec::new();
    for (i, t) in f.instance_types.iter().enumerate() {
        let tkey = format!("{key}.instance_types[{i}]");
        if t.instance_type.0.is_empty() {
            return Err(bad_input(format!("{tkey}.type is empty")));
        }
        let pct = t.bid_price_pct.map_or(pct, |p| p.0);
        if spot && !(pct > 0.0 && pct <= 1000.0) {
            return Err(bad_input(format!("{tkey}: bid_price_pct {pct} is out of range (0 to 1000)")));
        }
        configs.push(InstanceTypeConfig {
            instance_type: t.instance_type.0.clone(),
            weighted_capacity: Int::value(&t.weight).map(|w| int32(w, &format!("{tkey}.weight"), 1)).transpose()?,
            bid_price_as_percentage_of_on_demand_price: spot.then_some(pct),
            ebs_configuration: ebs.cloned(),
        });
    }
    Ok(configs)
}

/// How long to wait for spot capacity (default 15 minutes), and then
/// either fall back to on demand or give up on the cluster.
fn launch_specifications(f: &InstanceFleetVar, key: &str) -> anyhow::Result<LaunchSpecifications> {
    let timeout = Int::value(&f.bid_timeout_after).unwrap_or(15);
    Ok(LaunchSpecifications {
        spot_specification: SpotSpecification {
            timeout_duration_minutes: int32(timeout, &format!("{key}.bid_timeout_after"), 5)?,
            timeout_action: if Flag::value(&f.on_demand_fallback, false) {
                "SWITCH_TO_ON_DEMAND"
            } else {
                "TERMINATE_CLUSTER"
            }
            .to_owned(),
        },
    })
}
