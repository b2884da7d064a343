//! YAML as emr-launch sees it: parsed once into an ordered, generic [`Node`]
//! (bootstrap actions run in file order, so maps keep their order), then,
//! after templating, read into typed structs by a serde deserializer that
//! knows where it is: a wrong type is reported with its key path
//! (`instance_groups.core.num_instances: expected an integer, got "abc"`),
//! and keys a struct does not know become warnings, not errors.

use std::cell::RefCell;
use std::fmt;

use serde::de::{self, DeserializeSeed, IntoDeserializer, MapAccess, SeqAccess, Visitor};
use serde::ser::{SerializeMap, SerializeSeq};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use common::error::bad_input;

/// A YAML value, maps in source order.
#[derive(Debug, Clone, PartialEq)]
pub enum Node {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Seq(Vec<Node>),
    Map(Vec<(String, Node)>),
}

impl Node {
    pub fn get(&self, key: &str) -> Option<&Node> {
        match self {
            Node::Map(entries) => entries.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// Sets a top-level key, replacing its value in place or appending it.
    pub fn set(&mut self, key: &str, value: Node) {
        if let Node::Map(entries) = self {
            match entries.iter_mut().find(|(k, _)| k == key) {
                Some((_, v)) => *v = value,
                None => entries.push((key.to_owned(), value)),
            }
        }
    }

    /// Every string in the tree (map keys included), depth first.
    pub fn strings(&self) -> Vec<&str> {
        let mut out = Vec::new();
        fn walk<'a>(n: &'a Node, out: &mut Vec<&'a str>) {
            match n {
                Node::Str(s) => out.push(s),
                Node::Seq(items) => items.iter().for_each(|i| walk(i, out)),
                Node::Map(entries) => entries.iter().for_each(|(k, v)| {
                    out.push(k);
                    walk(v, out);
                }),
                _ => {}
            }
        }
        walk(self, &mut out);
        out
    }

    fn describe(&self) -> String {
        match self {
            Node::Null => "null".into(),
            Node::Bool(b) => format!("boolean {b}"),
            Node::Int(i) => format!("integer {i}"),
            Node::Float(f) => format!("number {f}"),
            Node::Str(s) => format!("string {s:?}"),
            Node::Seq(_) => "a list".into(),
            Node::Map(_) => "a map".into(),
        }
    }
}

/// Parses a YAML document. Errors name the source, line and column:
/// `emr-vars.yml:3:7: ...`. An empty document is an empty map.
///
/// Only `true`/`false` are booleans (YAML 1.2): YAML 1.1 would also read
/// `n`, `no`, `off` as false, turning a key `n` or a value `no` into
/// something else. Fields that want a boolean accept `yes`/`no` strings
/// (see `vars::Flag`), as Ansible's modules did. Numbers with leading
/// zeros stay strings, so ids such as `0123` keep their digits.
pub fn parse(text: &str, source: &str) -> anyhow::Result<Node> {
    let options = serde_saphyr::options! {
        strict_booleans: true,
        leading_zero_numbers_as_strings: true,
    };
    let node: Option<Node> = serde_saphyr::from_str_with_options(text, options).map_err(|e| {
        let msg = e.without_snippet().to_string();
        // The crate ends its message with the position, which we put first,
        // and may add advice about its own options, which a user cannot set.
        let msg = msg.rsplit_once(" at line ").map_or(msg.as_str(), |(m, _)| m);
        let msg = msg.split(", set DuplicateKeyPolicy").next().unwrap_or(msg);
        match e.location() {
            Some(l) => bad_input(format!("{source}:{}:{}: invalid YAML: {}", l.line(), l.column(), msg.trim())),
            None => bad_input(format!("{source}: invalid YAML: {}", msg.trim())),
        }
    })?;
    Ok(node.unwrap_or(Node::Map(Vec::new())))
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Node;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any YAML value")
            }
            fn visit_unit<E>(self) -> Result<Node, E> {
                Ok(Node::Null)
            }
            fn visit_none<E>(self) -> Result<Node, E> {
                Ok(Node::Null)
            }
            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Node, D::Error> {
                Node::deserialize(d)
            }
            fn visit_bool<E>(self, v: bool) -> Result<Node, E> {
                Ok(Node::Bool(v))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Node, E> {
                Ok(Node::Int(v))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Node, E> {
                Ok(i64::try_from(v).map_or(Node::Float(v as f64), Node::Int))
            }
            fn visit_f64<E>(self, v: f64) -> Result<Node, E> {
                Ok(Node::Float(v))
            }
            fn visit_str<E>(self, v: &str) -> Result<Node, E> {
                Ok(Node::Str(v.to_owned()))
            }
            fn visit_string<E>(self, v: String) -> Result<Node, E> {
                Ok(Node::Str(v))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut a: A) -> Result<Node, A::Error> {
                let mut items = Vec::new();
                while let Some(i) = a.next_element()? {
                    items.push(i);
                }
                Ok(Node::Seq(items))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut a: A) -> Result<Node, A::Error> {
                let mut entries: Vec<(String, Node)> = Vec::new();
                while let Some((k, v)) = a.next_entry::<Node, Node>()? {
                    let key = match k {
                        Node::Str(s) => s,
                        Node::Int(i) => i.to_string(),
                        Node::Float(f) => f.to_string(),
                        Node::Bool(b) => b.to_string(),
                        Node::Null => "null".into(),
                        other => {
                            return Err(de::Error::custom(format!(
                                "map keys must be scalars, not {}",
                                other.describe()
                            )));
                        }
                    };
                    entries.push((key, v));
                }
                Ok(Node::Map(entries))
            }
        }
        d.deserialize_any(V)
    }
}

impl Serialize for Node {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Node::Null => s.serialize_unit(),
            Node::Bool(b) => s.serialize_bool(*b),
            Node::Int(i) => s.serialize_i64(*i),
            Node::Float(f) => s.serialize_f64(*f),
            Node::Str(v) => s.serialize_str(v),
            Node::Seq(items) => {
                let mut seq = s.serialize_seq(Some(items.len()))?;
                for i in items {
                    seq.serialize_element(i)?;
                }
                seq.end()
            }
            Node::Map(entries) => {
                let mut map = s.serialize_map(Some(entries.len()))?;
                for (k, v) in entries {
                    map.serialize_entry(k, v)?;
                }
                map.end()
            }
        }
    }
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_map_order_and_scalar_kinds() {
        let n = parse("b: 1\na: [x, 2.5, true, ~]\nc: {z: 1, y: 2}\n", "f.yml").unwrap();
        let Node::Map(e) = &n else { panic!() };
        assert_eq!(e.iter().map(|(k, _)| k.as_str()).collect::<Vec<_>>(), ["b", "a", "c"]);
        assert_eq!(
            n.get("a"),
            Some(&Node::Seq(vec![Node::Str("x".into()), Node::Float(2.5), Node::Bool(true), Node::Null]))
        );
        let Some(Node::Map(c)) = n.get("c") else { panic!() };
        assert_eq!(c[0].0, "z");
    }

    #[test]
    fn only_true_and_false_are_booleans() {
        let n = parse("n: no\ny: yes\nt: true\nid: 0123\n", "f.yml").unwrap();
        assert_eq!(n.get("n"), Some(&Node::Str("no".into())));
        assert_eq!(n.get("y"), Some(&Node::Str("yes".into())));
        assert_eq!(n.get("t"), Some(&Node::Bool(true)));
        assert_eq!(n.get("id"), Some(&Node::Str("0123".into())));
    }

    #[test]
    fn empty_document_is_an_empty_map() {
        assert_eq!(parse("", "f.yml").unwrap(), Node::Map(vec![]));
        assert_eq!(parse("# nothing\n", "f.yml").unwrap(), Node::Map(vec![]));
    }

    #[test]
    fn syntax_errors_name_file_line_and_column() {
        let e = parse("name: x\nsteps: [a, b\nregion: y\n", "emr-vars.yml").unwrap_err();
        let msg = e.to_string();
        assert!(msg.starts_with("emr-vars.yml:"), "{msg}");
        assert!(msg.contains("invalid YAML"), "{msg}");
        assert_eq!(common::error::exit_status(&e), 2);
        let e = parse("a: 1\n  b: 2\n", "x.yml").unwrap_err().to_string();
        assert!(e.starts_with("x.yml:2:"), "{e}");
    }

    #[test]
    fn duplicate_keys_are_errors() {
        let e = parse("a: 1\na: 2\n", "x.yml").unwrap_err().to_string();
        assert!(e.starts_with("x.yml:2:"), "{e}");
    }

    #[derive(Deserialize, Debug)]
    #[allow(dead_code)]
    struct Inner {
        n: i64,
    }
    #[derive(Deserialize, Debug)]
    #[allow(dead_code)]
    struct Outer {
        inner: Vec<Inner>,
        #[serde(default)]
        list: Vec<String>,
    }

    #[test]
    fn type_errors_carry_the_key_path_and_unknown_keys_are_collected() {
        let n = parse("inner: [{n: 1}, {n: abc, extra: 1}]\n", "f").unwrap();
        let unknown = UnknownKeys::default();
        let e = from_node::<Outer>(&n, "", &unknown).unwrap_err();
        assert_eq!(e.to_string(), "inner[1].n: expected i64, got \"abc\"");
        assert_eq!(unknown.into_inner(), ["inner[1].extra"]);
        let n = parse("inner: [{}]\nlist: {}\n", "f").unwrap();
        let e = from_node::<Outer>(&n, "", &UnknownKeys::default()).unwrap_err();
        assert_eq!(e.to_string(), "inner[0]: missing key `n`");
    }

    #[test]
    fn field_lists_come_from_the_struct() {
        assert_eq!(struct_fields::<Outer>(), ["inner", "list"]);
    }
}
