//! The forms a value may take in emr-vars.yml files, each read into one
//! type: an application as a name or `{name, args}`, bootstrap actions as
//! a map or a list, tags as `{Key, Value}` items or a map, one subnet or a
//! list, maps that keep their order; and the two serde visitors that read
//! "a scalar or a structure" and "a list or a map" without buffering, so
//! errors inside keep their key path.

use std::fmt;

use serde::de::{self, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer};

use super::scalars::Text;

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
