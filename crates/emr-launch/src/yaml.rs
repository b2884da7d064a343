//! YAML as emr-launch sees it: parsed once into an ordered, generic [`Node`]
//! (bootstrap actions run in file order, so maps keep their order), then,
//! after templating, read into typed structs by a serde deserializer that
//! knows where it is: a wrong type is reported with its key path
//! (`instance_groups.core.num_instances: expected an integer, got "abc"`),
//! and keys a struct does not know become warnings, not errors.

mod node;
mod typed;

use common::error::bad_input;

pub use node::Node;
pub use typed::{DeError, UnknownKeys, from_node, struct_fields};

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

#[cfg(test)]
mod tests {
    use serde::Deserialize;

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
