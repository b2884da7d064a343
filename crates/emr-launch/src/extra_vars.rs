//! `--extra-vars`, as Ansible's `-e` reads it: `KEY=VALUE` pairs (several in
//! one argument, separated by spaces, quotes allowed), `@FILE` (a YAML map),
//! or an inline YAML/JSON map. Later arguments win; each key replaces the
//! whole top-level value (no deep merge, as in Ansible).
//!
//! A `KEY=VALUE` value is text, except that `[...]` and `{...}` are read as
//! YAML, like Ansible. Numbers and booleans written as text are converted
//! where a number or boolean is expected (see `vars`).

use std::path::Path;

use common::error::bad_input;

use crate::yaml::{self, Node};

/// One `--extra-vars` argument as top-level overrides, in order.
/// `read` reads an `@FILE` (the file system, or a map in tests).
pub fn parse(arg: &str, read: impl Fn(&Path) -> std::io::Result<String>) -> anyhow::Result<Vec<(String, Node)>> {
    let arg = arg.trim();
    if let Some(path) = arg.strip_prefix('@') {
        let text =
            read(Path::new(path)).map_err(|e| bad_input(format!("--extra-vars @{path}: cannot read the file: {e}")))?;
        return map_entries(yaml::parse(&text, path)?, &format!("--extra-vars @{path}"));
    }
    if arg.starts_with('{') {
        return map_entries(yaml::parse(arg, "--extra-vars")?, "--extra-vars");
    }
    let mut out = Vec::new();
    for word in split_words(arg)? {
        let Some((key, value)) = word.split_once('=') else {
            return Err(bad_input(format!("--extra-vars {word:?}: expected KEY=VALUE, @FILE or a YAML map")));
        };
        let valid = key.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
            && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !valid {
            return Err(bad_input(format!("--extra-vars {word:?}: {key:?} is not a variable name")));
        }
        let node = if value.starts_with('[') || value.starts_with('{') {
            yaml::parse(value, &format!("--extra-vars {key}"))?
        } else {
            Node::Str(value.to_owned())
        };
        out.push((key.to_owned(), node));
    }
    if out.is_empty() {
        return Err(bad_input("--extra-vars is empty"));
    }
    Ok(out)
}

fn map_entries(node: Node, what: &str) -> anyhow::Result<Vec<(String, Node)>> {
    match node {
        Node::Map(entries) => Ok(entries),
        _ => Err(bad_input(format!("{what}: expected a map of variable names to values"))),
    }
}

/// Splits on whitespace outside quotes and brackets (`a=[x, y]` is one
/// word); '...' and "..." quote, and a backslash escapes the next
/// character inside double quotes and outside quotes.
fn split_words(s: &str) -> anyhow::Result<Vec<String>> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut depth = 0usize;
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match c {
            c if c.is_whitespace() && depth == 0 => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => word.push(c),
                        None => return Err(bad_input(format!("--extra-vars {s:?}: unclosed quote"))),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => word.extend(chars.next()),
                        Some(c) => word.push(c),
                        None => return Err(bad_input(format!("--extra-vars {s:?}: unclosed quote"))),
                    }
                }
            }
            '\\' => {
                in_word = true;
                word.extend(chars.next());
            }
            c => {
                in_word = true;
                match c {
                    '[' | '{' => depth += 1,
                    ']' | '}' => depth = depth.saturating_sub(1),
                    _ => {}
                }
                word.push(c);
            }
        }
    }
    if in_word {
        words.push(word);
    }
    Ok(words)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_files(_: &Path) -> std::io::Result<String> {
        Err(std::io::Error::from(std::io::ErrorKind::NotFound))
    }

    #[test]
    fn key_value_pairs_with_quotes() {
        let got = parse(r#"name=nightly  log_uri='s3://b/x y' note="a \"b\"" subnets=[s-1, s-2]"#, no_files).unwrap();
        assert_eq!(
            got,
            vec![
                ("name".into(), Node::Str("nightly".into())),
                ("log_uri".into(), Node::Str("s3://b/x y".into())),
                ("note".into(), Node::Str("a \"b\"".into())),
                ("subnets".into(), Node::Seq(vec![Node::Str("s-1".into()), Node::Str("s-2".into())])),
            ]
        );
        assert_eq!(parse("n=2", no_files).unwrap(), vec![("n".into(), Node::Str("2".into()))]);
        assert_eq!(parse("empty=", no_files).unwrap(), vec![("empty".into(), Node::Str("".into()))]);
    }

    #[test]
    fn files_and_inline_maps() {
        let read = |p: &Path| {
            assert_eq!(p, Path::new("over.yml"));
            Ok("region: eu-west-1\ntags: [{Key: a, Value: b}]\n".to_owned())
        };
        let got = parse("@over.yml", read).unwrap();
        assert_eq!(got[0], ("region".into(), Node::Str("eu-west-1".into())));
        assert_eq!(got.len(), 2);
        let got = parse(r#"{"name": "x", "n": 3}"#, no_files).unwrap();
        assert_eq!(got[1], ("n".into(), Node::Int(3)));
    }

    #[test]
    fn bad_arguments_are_bad_input() {
        for (arg, needle) in [
            ("novalue", "expected KEY=VALUE"),
            ("1x=2", "not a variable name"),
            ("a='open", "unclosed quote"),
            ("@missing.yml", "cannot read"),
            ("[1, 2]", "expected KEY=VALUE"),
            ("{a: [}", "invalid YAML"),
            ("", "empty"),
        ] {
            let e = parse(arg, no_files).unwrap_err();
            assert_eq!(common::error::exit_status(&e), 2, "{arg}");
            assert!(e.to_string().contains(needle), "{arg}: {e}");
        }
    }
}
