//! Reading a typed value from a [`Node`]: a serde deserializer that knows
//! where it is, so a wrong type is reported with its key path, and that
//! collects the keys a struct does not know instead of failing on them.

use std::cell::RefCell;
use std::fmt;

use serde::de::{self, DeserializeSeed, IntoDeserializer, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer};

use super::node::Node;

/// A typed-reading error, with the key path where it happened.
#[derive(Debug)]
pub struct DeError {
    pub path: String,
    pub message: String,
}

impl DeError {
    fn at(mut self, path: &str) -> Self {
        if self.path.is_empty() {
            self.path = path.to_owned();
        }
        self
    }
}

impl fmt::Display for DeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() { f.write_str(&self.message) } else { write!(f, "{}: {}", self.path, self.message) }
    }
}

impl std::error::Error for DeError {}

impl de::Error for DeError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        DeError { path: String::new(), message: msg.to_string() }
    }

    fn invalid_type(unexp: de::Unexpected, exp: &dyn de::Expected) -> Self {
        // serde says "sequence"; YAML files and their authors say "list".
        let exp = exp.to_string().replace("a sequence", "a list");
        Self::custom(format_args!("expected {exp}, got {}", Unexpected(unexp)))
    }

    fn invalid_value(unexp: de::Unexpected, exp: &dyn de::Expected) -> Self {
        Self::custom(format_args!("expected {exp}, got {}", Unexpected(unexp)))
    }

    fn unknown_variant(variant: &str, expected: &'static [&'static str]) -> Self {
        Self::custom(format_args!("invalid value {variant:?} (expected one of {})", expected.join(", ")))
    }

    fn missing_field(field: &'static str) -> Self {
        Self::custom(format_args!("missing key `{field}`"))
    }
}

/// serde's own wording says `string "x"`; ours says the same for every kind.
struct Unexpected<'a>(de::Unexpected<'a>);

impl fmt::Display for Unexpected<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            de::Unexpected::Str(s) => write!(f, "{s:?}"),
            de::Unexpected::Signed(i) => write!(f, "{i}"),
            de::Unexpected::Unsigned(i) => write!(f, "{i}"),
            de::Unexpected::Float(x) => write!(f, "{x}"),
            de::Unexpected::Bool(b) => write!(f, "{b}"),
            de::Unexpected::Unit => f.write_str("null"),
            de::Unexpected::Seq => f.write_str("a list"),
            de::Unexpected::Map => f.write_str("a map"),
            other => write!(f, "{other}"),
        }
    }
}

/// Keys a struct did not know, as `path.key` strings.
#[derive(Debug, Default)]
pub struct UnknownKeys(RefCell<Vec<String>>);

impl UnknownKeys {
    pub fn into_inner(self) -> Vec<String> {
        self.0.into_inner()
    }
}

/// Reads a typed value from a node. `path` prefixes every reported key
/// path (empty at the top level).
pub fn from_node<T: de::DeserializeOwned>(node: &Node, path: &str, unknown: &UnknownKeys) -> Result<T, DeError> {
    T::deserialize(NodeDe { node, path: path.to_owned(), unknown }).map_err(|e| e.at(path))
}

/// The field names a derived struct declares (serde hands them to
/// `deserialize_struct`), so the list of known keys has one source.
pub fn struct_fields<'de, T: Deserialize<'de>>() -> &'static [&'static str] {
    struct Probe;
    #[derive(Debug)]
    struct Fields(&'static [&'static str]);
    impl fmt::Display for Fields {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("probe")
        }
    }
    impl std::error::Error for Fields {}
    impl de::Error for Fields {
        fn custom<M: fmt::Display>(_: M) -> Self {
            Fields(&[])
        }
    }
    impl<'de> Deserializer<'de> for Probe {
        type Error = Fields;
        fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Fields> {
            Err(Fields(&[]))
        }
        fn deserialize_struct<V: Visitor<'de>>(
            self,
            _: &'static str,
            fields: &'static [&'static str],
            _: V,
        ) -> Result<V::Value, Fields> {
            Err(Fields(fields))
        }
        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
            bytes byte_buf option unit unit_struct newtype_struct seq tuple
            tuple_struct map enum identifier ignored_any
        }
    }
    match T::deserialize(Probe) {
        Err(Fields(f)) => f,
        Ok(_) => &[],
    }
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() { key.to_owned() } else { format!("{path}.{key}") }
}

struct NodeDe<'a> {
    node: &'a Node,
    path: String,
    unknown: &'a UnknownKeys,
}

impl<'a> NodeDe<'a> {
    fn seq(&self, items: &'a [Node]) -> Seq<'a> {
        Seq { path: self.path.clone(), unknown: self.unknown, items: items.iter().enumerate() }
    }

    fn map(&self, entries: &'a [(String, Node)]) -> Map<'a> {
        Map { path: self.path.clone(), unknown: self.unknown, entries: entries.iter(), value: None }
    }
}

struct Seq<'a> {
    path: String,
    unknown: &'a UnknownKeys,
    items: std::iter::Enumerate<std::slice::Iter<'a, Node>>,
}

impl<'de> SeqAccess<'de> for Seq<'de> {
    type Error = DeError;
    fn next_element_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<Option<T::Value>, DeError> {
        match self.items.next() {
            None => Ok(None),
            Some((i, node)) => {
                let path = format!("{}[{i}]", self.path);
                let de = NodeDe { node, path: path.clone(), unknown: self.unknown };
                seed.deserialize(de).map(Some).map_err(|e| e.at(&path))
            }
        }
    }
}

struct Map<'a> {
    path: String,
    unknown: &'a UnknownKeys,
    entries: std::slice::Iter<'a, (String, Node)>,
    value: Option<(&'a String, &'a Node)>,
}

impl<'de> MapAccess<'de> for Map<'de> {
    type Error = DeError;
    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>, DeError> {
        match self.entries.next() {
            None => Ok(None),
            Some((k, v)) => {
                self.value = Some((k, v));
                let key: de::value::BorrowedStrDeserializer<'de, DeError> = de::value::BorrowedStrDeserializer::new(k);
                seed.deserialize(key).map(Some)
            }
        }
    }
    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, DeError> {
        let (k, node) = self.value.take().expect("value after key");
        let path = join(&self.path, k);
        let de = NodeDe { node, path: path.clone(), unknown: self.unknown };
        seed.deserialize(de).map_err(|e| e.at(&path))
    }
}

impl<'de> Deserializer<'de> for NodeDe<'de> {
    type Error = DeError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match self.node {
            Node::Null => visitor.visit_unit(),
            Node::Bool(b) => visitor.visit_bool(*b),
            Node::Int(i) => visitor.visit_i64(*i),
            Node::Float(f) => visitor.visit_f64(*f),
            Node::Str(s) => visitor.visit_borrowed_str(s),
            Node::Seq(items) => visitor.visit_seq(self.seq(items)),
            Node::Map(entries) => visitor.visit_map(self.map(entries)),
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match self.node {
            Node::Null => visitor.visit_none(),
            _ => visitor.visit_some(self),
        }
    }

    /// Ansible files often write an empty list as `{}` (`steps: {}`).
    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match self.node {
            Node::Map(entries) if entries.is_empty() => visitor.visit_seq(self.seq(&[])),
            Node::Null => visitor.visit_seq(self.seq(&[])),
            _ => self.deserialize_any(visitor),
        }
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        if let Node::Map(entries) = self.node {
            let mut unknown = self.unknown.0.borrow_mut();
            for (k, _) in entries.iter().filter(|(k, _)| !fields.contains(&k.as_str())) {
                unknown.push(join(&self.path, k));
            }
        }
        self.deserialize_any(visitor)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        match self.node {
            Node::Str(s) => visitor.visit_enum(s.as_str().into_deserializer()),
            other => Err(de::Error::custom(format_args!("expected a string, got {}", other.describe()))),
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(self, _name: &'static str, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_unit()
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf unit unit_struct tuple tuple_struct map identifier
    }
}
