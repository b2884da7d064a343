//! `EmrVars`: an emr-vars.yml file, typed (emr-vars.md), read from the
//! rendered YAML. Scalars are read the way Ansible's module arguments were
//! converted: a number may be written as text (`"2"`), a boolean as
//! `yes`/`no`, and text may be written as a number (`bidprice: 0.10`).
//! Anything that is not such a value is an error naming its key path.

use std::fmt;

use serde::de::{self, DeserializeOwned, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer};

use crate::template::{self, EnvLookup};
use crate::yaml::{self, Node, UnknownKeys};
use common::error::bad_input;

/// Keys other playbooks of the old pipeline read; RunJobFlow has no place
/// for them.
pub const IGNORED_KEYS: [&str; 2] = ["user_info", "ec2_attributes"];

#[derive(Deserialize, Debug, Default)]
pub struct EmrVars {
    pub name: Option<Text>,
    pub region: Option<Text>,
    pub keypair_name: Option<Text>,
    pub vpc_subnet_id: Option<Subnets>,
    pub availability_zone: Option<Text>,
    pub log_uri: Option<Text>,
    pub role: Option<Text>,
    pub job_flow_role: Option<Text>,
    pub service_role: Option<Text>,
    pub release_label: Option<Text>,
    pub ami_version: Option<Text>,
    pub hadoop_version: Option<Text>,
    #[serde(default)]
    pub applications: Vec<ApplicationVar>,
    #[serde(default)]
    pub configurations: Vec<ConfigurationVar>,
    pub instance_groups: Option<Ordered<InstanceGroupVar>>,
    #[serde(default)]
    pub instance_fleets: Ordered<InstanceFleetVar>,
    pub ebs_root_volume_size: Option<Int>,
    pub emr_managed_master_security_group: Option<Text>,
    pub emr_managed_slave_security_group: Option<Text>,
    #[serde(default)]
    pub additional_master_security_groups: Vec<Text>,
    #[serde(default)]
    pub additional_slave_security_groups: Vec<Text>,
    #[serde(default)]
    pub bootstrap_actions: BootstrapActions,
    #[serde(default)]
    pub steps: Vec<StepVar>,
    #[serde(default)]
    pub tags: Tags,
    pub visible_to_all_users: Option<Flag>,
    // The old playbook's scalars, which fill in its default instance groups.
    pub master_instance_num: Option<Int>,
    pub master_instance_type: Option<Text>,
    pub master_instance_market: Option<Market>,
    pub master_instance_bid: Option<Text>,
    pub core_instance_num: Option<Int>,
    pub core_instance_type: Option<Text>,
    pub core_instance_market: Option<Market>,
    pub core_instance_bid: Option<Text>,
    pub task_instance_num: Option<Int>,
    pub task_instance_type: Option<Text>,
    pub task_instance_market: Option<Market>,
    pub task_instance_bid: Option<Text>,
}

/// What `--terminate` needs: the cluster's name, and where it runs.
#[derive(Deserialize, Debug, Default)]
pub struct ClusterRef {
    pub name: Option<Text>,
    pub region: Option<Text>,
}

#[derive(Deserialize, Debug, Default, Clone)]
pub struct InstanceGroupVar {
    pub num_instances: Option<Int>,
    #[serde(rename = "type")]
    pub instance_type: Option<Text>,
    pub market: Option<Market>,
    pub bidprice: Option<Text>,
    pub volume_size: Option<Int>,
    pub volume_type: Option<VolumeType>,
}

#[derive(Deserialize, Debug, Default)]
pub struct InstanceFleetVar {
    #[serde(default)]
    pub instance_types: Vec<InstanceTypeVar>,
    pub on_demand_capacity: Option<Int>,
    pub spot_capacity: Option<Int>,
    pub use_spot: Option<Flag>,
    pub on_demand_fallback: Option<Flag>,
    pub bid_timeout_after: Option<Int>,
    pub bid_price_pct: Option<Number>,
    pub volume_size: Option<Int>,
    pub volume_type: Option<VolumeType>,
}

#[derive(Deserialize, Debug)]
pub struct InstanceTypeVar {
    #[serde(rename = "type")]
    pub instance_type: Text,
    pub weight: Option<Int>,
    pub bid_price_pct: Option<Number>,
}

#[derive(Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Market {
    OnDemand,
    Spot,
}

impl Market {
    pub fn as_str(self) -> &'static str {
        match self {
            Market::OnDemand => "ON_DEMAND",
            Market::Spot => "SPOT",
        }
    }
}

#[derive(Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum VolumeType {
    Gp2,
    Gp3,
    Io1,
    Io2,
    St1,
    Sc1,
    Standard,
}

impl VolumeType {
    pub fn as_str(self) -> &'static str {
        match self {
            VolumeType::Gp2 => "gp2",
            VolumeType::Gp3 => "gp3",
            VolumeType::Io1 => "io1",
            VolumeType::Io2 => "io2",
            VolumeType::St1 => "st1",
            VolumeType::Sc1 => "sc1",
            VolumeType::Standard => "standard",
        }
    }
}

#[derive(Deserialize, Debug, Clone, Copy, PartialEq, Eq, Default)]
#[serde(rename_all = "snake_case")]
pub enum StepType {
    #[default]
    Jar,
    Script,
    Streaming,
    HiveInstall,
    PigInstall,
}

impl StepType {
    pub fn as_str(self) -> &'static str {
        match self {
            StepType::Jar => "jar",
            StepType::Script => "script",
            StepType::Streaming => "streaming",
            StepType::HiveInstall => "hive_install",
            StepType::PigInstall => "pig_install",
        }
    }
}

#[derive(Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ActionOnFailure {
    TerminateJobFlow,
    TerminateCluster,
    CancelAndWait,
    Continue,
}

impl ActionOnFailure {
    pub fn as_str(self) -> &'static str {
        match self {
            ActionOnFailure::TerminateJobFlow => "TERMINATE_JOB_FLOW",
            ActionOnFailure::TerminateCluster => "TERMINATE_CLUSTER",
            ActionOnFailure::CancelAndWait => "CANCEL_AND_WAIT",
            ActionOnFailure::Continue => "CONTINUE",
        }
    }
}

#[derive(Deserialize, Debug, Default)]
pub struct StepVar {
    #[serde(rename = "type", default)]
    pub step_type: StepType,
    pub name: Option<Text>,
    pub jar: Option<Text>,
    pub main_class: Option<Text>,
    #[serde(default)]
    pub step_args: Vec<Text>,
    #[serde(default)]
    pub properties: Pairs,
    pub action_on_failure: Option<ActionOnFailure>,
    pub hive_version: Option<Text>,
    pub hive_site: Option<Text>,
    pub pig_version: Option<Text>,
}

/// `{name, args?}`, or just the name.
#[derive(Debug, PartialEq)]
pub struct ApplicationVar {
    pub name: Text,
    pub args: Vec<Text>,
}

impl<'de> Deserialize<'de> for ApplicationVar {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        struct Full {
            name: Text,
            #[serde(default)]
            args: Vec<Text>,
        }
        d.deserialize_any(ScalarOr {
            scalar: |s| ApplicationVar { name: Text(s), args: vec![] },
            other: |f: Full| ApplicationVar { name: f.name, args: f.args },
            expecting: "an application: {name, args?} or a name",
        })
    }
}

#[derive(Deserialize, Debug)]
pub struct ConfigurationVar {
    pub classification: Text,
    #[serde(default)]
    pub properties: Ordered<Text>,
    #[serde(default)]
    pub configurations: Vec<ConfigurationVar>,
}

/// One bootstrap action: `name: path` or `name: {path, args}` in a map
/// (the documented form), or `{name, path, args}` in a list (older samples).
#[derive(Debug, PartialEq)]
pub struct BootstrapVar {
    pub name: String,
    pub path: Text,
    pub args: Vec<Text>,
}

#[derive(Debug, Default)]
pub struct BootstrapActions(pub Vec<BootstrapVar>);

#[derive(Deserialize)]
struct BootstrapSpec {
    path: Text,
    #[serde(default)]
    args: Vec<Text>,
}

struct PathOrSpec(BootstrapSpec);

impl<'de> Deserialize<'de> for PathOrSpec {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ScalarOr {
            scalar: |s| PathOrSpec(BootstrapSpec { path: Text(s), args: vec![] }),
            other: PathOrSpec,
            expecting: "a script path or {path, args}",
        })
    }
}

impl<'de> Deserialize<'de> for BootstrapActions {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        struct Named {
            name: Text,
            path: Text,
            #[serde(default)]
            args: Vec<Text>,
        }
        d.deserialize_any(SeqOrMap {
            list: |items: Vec<Named>| {
                BootstrapActions(
                    items.into_iter().map(|n| BootstrapVar { name: n.name.0, path: n.path, args: n.args }).collect(),
                )
            },
            map: |entries: Ordered<PathOrSpec>| {
                BootstrapActions(
                    entries
                        .0
                        .into_iter()
                        .map(|(name, s)| BootstrapVar { name, path: s.0.path, args: s.0.args })
                        .collect(),
                )
            },
            expecting: "a map of name to script path (or to {path, args})",
        })
    }
}

/// Tags: a list of `{Key, Value}` (the documented form) or a map.
#[derive(Debug, Default, PartialEq)]
pub struct Tags(pub Vec<(String, String)>);

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct KeyValueVar {
    key: Text,
    #[serde(default)]
    value: Option<Text>,
}

impl<'de> Deserialize<'de> for Tags {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(SeqOrMap {
            list: |items: Vec<KeyValueVar>| {
                Tags(items.into_iter().map(|kv| (kv.key.0, kv.value.map(|v| v.0).unwrap_or_default())).collect())
            },
            map: |m: Ordered<Text>| Tags(m.0.into_iter().map(|(k, v)| (k, v.0)).collect()),
            expecting: "a list of {Key, Value}",
        })
    }
}

/// Step properties: a map, or a list of `{Key, Value}` as the API has them.
#[derive(Debug, Default, PartialEq)]
pub struct Pairs(pub Vec<(String, String)>);

impl<'de> Deserialize<'de> for Pairs {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Tags::deserialize(d).map(|t| Pairs(t.0))
    }
}

/// `vpc_subnet_id`: one subnet, or a list of them.
#[derive(Debug, Clone, PartialEq)]
pub enum Subnets {
    One(String),
    Many(Vec<String>),
}

impl<'de> Deserialize<'de> for Subnets {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ScalarOr {
            scalar: Subnets::One,
            other: |v: Vec<Text>| Subnets::Many(v.into_iter().map(|t| t.0).collect()),
            expecting: "a subnet id or a list of them",
        })
    }
}

/// A map that keeps its order (bootstrap actions run in file order).
#[derive(Debug)]
pub struct Ordered<T>(pub Vec<(String, T)>);

impl<T> Default for Ordered<T> {
    fn default() -> Self {
        Ordered(Vec::new())
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Ordered<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(std::marker::PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
            type Value = Ordered<T>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a map")
            }
            fn visit_unit<E>(self) -> Result<Self::Value, E> {
                Ok(Ordered(Vec::new()))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut a: A) -> Result<Self::Value, A::Error> {
                let mut out = Vec::new();
                while let Some(k) = a.next_key::<String>()? {
                    out.push((k, a.next_value()?));
                }
                Ok(Ordered(out))
            }
        }
        d.deserialize_map(V(std::marker::PhantomData))
    }
}

/// Text; numbers and booleans written unquoted are taken as their text.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Text(pub String);

impl Text {
    /// `None` when empty: Ansible files write "unset" as `''`.
    pub fn present(t: &Option<Text>) -> Option<&str> {
        t.as_ref().map(|t| t.0.as_str()).filter(|s| !s.is_empty())
    }
}

impl fmt::Display for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Text {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Text;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_str<E>(self, v: &str) -> Result<Text, E> {
                Ok(Text(v.to_owned()))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Text, E> {
                Ok(Text(v.to_string()))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Text, E> {
                Ok(Text(v.to_string()))
            }
            fn visit_f64<E>(self, v: f64) -> Result<Text, E> {
                Ok(Text(v.to_string()))
            }
            fn visit_bool<E>(self, v: bool) -> Result<Text, E> {
                Ok(Text(v.to_string()))
            }
        }
        d.deserialize_any(V)
    }
}

/// An integer, or text that is one (`"2"`); `''` reads as unset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Int(pub Option<i64>);

impl Int {
    pub fn value(i: &Option<Int>) -> Option<i64> {
        i.and_then(|i| i.0)
    }
}

impl<'de> Deserialize<'de> for Int {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Int;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an integer")
            }
            fn visit_i64<E>(self, v: i64) -> Result<Int, E> {
                Ok(Int(Some(v)))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Int, E> {
                i64::try_from(v).map(|v| Int(Some(v))).map_err(|_| E::invalid_value(de::Unexpected::Unsigned(v), &self))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Int, E> {
                if v.fract() == 0.0 && v.abs() < 9.0e15 {
                    #[expect(clippy::cast_possible_truncation, reason = "a whole number below 2^53: exact")]
                    Ok(Int(Some(v as i64)))
                } else {
                    Err(E::invalid_value(de::Unexpected::Float(v), &self))
                }
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Int, E> {
                match v.trim() {
                    "" => Ok(Int(None)),
                    t => t.parse().map(|i| Int(Some(i))).map_err(|_| E::invalid_value(de::Unexpected::Str(v), &self)),
                }
            }
        }
        d.deserialize_any(V)
    }
}

/// A number (integer or decimal), or text that is one.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Number(pub f64);

impl<'de> Deserialize<'de> for Number {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Number;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a number")
            }
            fn visit_i64<E>(self, v: i64) -> Result<Number, E> {
                Ok(Number(v as f64))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Number, E> {
                Ok(Number(v as f64))
            }
            fn visit_f64<E>(self, v: f64) -> Result<Number, E> {
                Ok(Number(v))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Number, E> {
                v.trim()
                    .parse::<f64>()
                    .ok()
                    .filter(|f| f.is_finite())
                    .map(Number)
                    .ok_or_else(|| E::invalid_value(de::Unexpected::Str(v), &self))
            }
        }
        d.deserialize_any(V)
    }
}

/// A boolean, or `yes`/`no`, `on`/`off`, `true`/`false`, `1`/`0` (any case).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Flag(pub bool);

impl Flag {
    pub fn value(f: &Option<Flag>, default: bool) -> bool {
        f.map_or(default, |f| f.0)
    }
}

impl<'de> Deserialize<'de> for Flag {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Flag;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a boolean (true/false, yes/no)")
            }
            fn visit_bool<E>(self, v: bool) -> Result<Flag, E> {
                Ok(Flag(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Flag, E> {
                match v {
                    0 | 1 => Ok(Flag(v == 1)),
                    _ => Err(E::invalid_value(de::Unexpected::Signed(v), &self)),
                }
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Flag, E> {
                match v.trim().to_ascii_lowercase().as_str() {
                    "yes" | "on" | "true" | "1" | "y" => Ok(Flag(true)),
                    "no" | "off" | "false" | "0" | "n" => Ok(Flag(false)),
                    _ => Err(E::invalid_value(de::Unexpected::Str(v), &self)),
                }
            }
        }
        d.deserialize_any(V)
    }
}

/// Reads a value written either as a scalar (taken as text) or as a map or
/// list, without buffering, so errors inside keep their key path.
struct ScalarOr<B, T> {
    scalar: fn(String) -> T,
    other: fn(B) -> T,
    expecting: &'static str,
}

impl<'de, B: Deserialize<'de>, T> Visitor<'de> for ScalarOr<B, T> {
    type Value = T;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(self.expecting)
    }
    fn visit_str<E>(self, v: &str) -> Result<T, E> {
        Ok((self.scalar)(v.to_owned()))
    }
    fn visit_i64<E>(self, v: i64) -> Result<T, E> {
        Ok((self.scalar)(v.to_string()))
    }
    fn visit_f64<E>(self, v: f64) -> Result<T, E> {
        Ok((self.scalar)(v.to_string()))
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
        B::deserialize(de::value::MapAccessDeserializer::new(map)).map(self.other)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<T, A::Error> {
        B::deserialize(de::value::SeqAccessDeserializer::new(seq)).map(self.other)
    }
}

/// Reads a value written either as a list or as a map; null is empty.
struct SeqOrMap<L, M, T> {
    list: fn(L) -> T,
    map: fn(M) -> T,
    expecting: &'static str,
}

impl<'de, L: Deserialize<'de>, M: Deserialize<'de>, T: Default> Visitor<'de> for SeqOrMap<L, M, T> {
    type Value = T;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(self.expecting)
    }
    fn visit_unit<E>(self) -> Result<T, E> {
        Ok(T::default())
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
        M::deserialize(de::value::MapAccessDeserializer::new(map)).map(self.map)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<T, A::Error> {
        L::deserialize(de::value::SeqAccessDeserializer::new(seq)).map(self.list)
    }
}

/// Renders the keys of `T` found in `vars` (with what they refer to) and
/// reads them as a `T`. Returns the keys nobody reads, as warnings: at the
/// top level when `warn_top_level` (files carry variables for other
/// playbooks), and anywhere inside the keys read.
pub fn load<T: DeserializeOwned>(
    vars: &Node,
    env: EnvLookup,
    warn_top_level: bool,
) -> anyhow::Result<(T, Vec<String>)> {
    let fields = yaml::struct_fields::<T>();
    let mut warnings = Vec::new();
    if let (Node::Map(entries), true) = (vars, warn_top_level) {
        for (k, _) in entries {
            if !fields.contains(&k.as_str()) && !IGNORED_KEYS.contains(&k.as_str()) {
                warnings.push(format!("unknown key `{k}` ignored"));
            }
        }
    }
    let rendered = template::render(vars, fields, env)?;
    let unknown = UnknownKeys::default();
    let typed = yaml::from_node(&rendered, "", &unknown).map_err(|e| bad_input(e.to_string()))?;
    warnings.extend(unknown.into_inner().into_iter().map(|k| format!("unknown key `{k}` ignored")));
    Ok((typed, warnings))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::template::fixed_env;

    fn read(yaml: &str) -> Result<(EmrVars, Vec<String>), String> {
        load::<EmrVars>(&yaml::parse(yaml, "t.yml").unwrap(), fixed_env([]), true).map_err(|e| e.to_string())
    }

    #[test]
    fn scalars_are_read_as_ansible_converted_them() {
        let (v, _) = read(
            "core_instance_num: \"3\"\ntask_instance_bid: 0.25\nvisible_to_all_users: \"no\"\nebs_root_volume_size: ''\nname: 42\n",
        )
        .unwrap();
        assert_eq!(v.core_instance_num, Some(Int(Some(3))));
        assert_eq!(v.task_instance_bid, Some(Text("0.25".into())));
        assert_eq!(v.visible_to_all_users, Some(Flag(false)));
        assert_eq!(Int::value(&v.ebs_root_volume_size), None);
        assert_eq!(v.name, Some(Text("42".into())));
        assert_eq!(read("core_instance_num: 2.5\n").unwrap_err(), "core_instance_num: expected an integer, got 2.5");
        assert_eq!(read("name: [a]\n").unwrap_err(), "name: expected a string, got a list");
    }

    #[test]
    fn either_forms_of_bootstrap_actions_tags_and_applications() {
        let (v, _) = read(
            "bootstrap_actions: [{name: a, path: s3://b/a}]\ntags: {team: data}\napplications: [Hive, {name: Spark, args: [x]}]\n",
        )
        .unwrap();
        assert_eq!(
            v.bootstrap_actions.0,
            [BootstrapVar { name: "a".into(), path: Text("s3://b/a".into()), args: vec![] }]
        );
        assert_eq!(v.tags, Tags(vec![("team".into(), "data".into())]));
        assert_eq!(v.applications[1], ApplicationVar { name: Text("Spark".into()), args: vec![Text("x".into())] });
        let e = read("bootstrap_actions: {a: {path: s3://b/a, args: [1, [2]]}}\n").unwrap_err();
        assert_eq!(e, "bootstrap_actions.a.args[1]: expected a string, got a list");
    }

    #[test]
    fn unknown_keys_are_warnings_at_any_depth() {
        let (_, warnings) =
            read("name: x\nother_playbook_var: 1\nuser_info: []\ninstance_groups: {core: {num_instance: 2}}\n")
                .unwrap();
        assert_eq!(
            warnings,
            ["unknown key `other_playbook_var` ignored", "unknown key `instance_groups.core.num_instance` ignored"]
        );
    }
}
