//! Templating: the Jinja subset that emr-vars.yml files use (emr-vars.md,
//! "Templating"), evaluated by minijinja with nothing else registered:
//!
//! - `lookup('env', 'NAME')`: an environment variable; unset is undefined,
//!   so `default(...)` can replace it and, without one, the run stops naming
//!   the variable (an empty string never reaches AWS);
//! - filters `default(V)` / `default(V, true)` (alias `d`), `int`, `bool`,
//!   `string`;
//! - references to other top-level keys (`{{ name }}`), rendered first, in
//!   dependency order, with cycles reported;
//! - text around expressions (`"{{ name }}-logs"`) and Jinja's own operators.
//!
//! Any other filter, function, test or statement is an error naming the
//! expression. A value that is exactly one `{{ ... }}` keeps the type the
//! expression gives (`"{{ x | int }}"` is a number), like Ansible's native
//! types; anything else renders to a string.
//!
//! Only the keys emr-launch uses are rendered (plus what they refer to):
//! variables meant for other playbooks may use lookups that only work there.

mod jinja;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use minijinja::value::ValueKind;
use minijinja::{Environment, Error, ErrorKind, Value};

use crate::yaml::Node;
use common::error::bad_input;

pub use jinja::{EnvLookup, fixed_env, process_env};
use jinja::{FILTERS, FUNCTIONS, environment};

/// Renders the top-level `keys` of `vars` (those present), and whatever
/// they refer to. Returns a map of the rendered keys, in file order.
pub fn render(vars: &Node, keys: &[&str], env: EnvLookup) -> anyhow::Result<Node> {
    let Node::Map(entries) = vars else {
        return Err(bad_input("the variables file must be a YAML map of keys to values"));
    };
    let unset = Arc::new(Mutex::new(Vec::new()));
    let mut r = Renderer {
        entries,
        jinja: environment(env, unset.clone()),
        unset,
        done: BTreeMap::new(),
        resolving: Vec::new(),
    };
    let mut out = Vec::new();
    for (k, _) in entries.iter().filter(|(k, _)| keys.contains(&k.as_str())) {
        out.push((k.clone(), r.resolve(k)?));
    }
    Ok(Node::Map(out))
}

struct Renderer<'a> {
    entries: &'a [(String, Node)],
    jinja: Environment<'static>,
    unset: Arc<Mutex<Vec<String>>>,
    done: BTreeMap<String, Node>,
    resolving: Vec<String>,
}

fn has_template(s: &str) -> bool {
    s.contains("{{") || s.contains("{%") || s.contains("{#")
}

/// The expression of a value that is exactly one `{{ ... }}`.
fn single_expression(s: &str) -> Option<&str> {
    let inner = s.strip_prefix("{{")?.strip_suffix("}}")?;
    if inner.contains("{{") || inner.contains("}}") || inner.contains("{%") || inner.contains("{#") {
        return None;
    }
    let inner = inner.strip_prefix('-').unwrap_or(inner);
    Some(inner.strip_suffix('-').unwrap_or(inner))
}

fn child(path: &str, key: &str) -> String {
    format!("{path}.{key}")
}

impl Renderer<'_> {
    fn resolve(&mut self, key: &str) -> anyhow::Result<Node> {
        if let Some(n) = self.done.get(key) {
            return Ok(n.clone());
        }
        if let Some(at) = self.resolving.iter().position(|k| k == key) {
            let mut cycle = self.resolving[at..].to_vec();
            cycle.push(key.to_owned());
            return Err(bad_input(format!("these keys refer to each other in a cycle: {}", cycle.join(" -> "))));
        }
        let raw = self.entries.iter().find(|(k, _)| k == key).map(|(_, v)| v).expect("resolve only existing keys");
        self.resolving.push(key.to_owned());
        let rendered = self.render_node(raw, key);
        self.resolving.pop();
        let rendered = rendered?;
        self.done.insert(key.to_owned(), rendered.clone());
        Ok(rendered)
    }

    fn render_node(&mut self, node: &Node, path: &str) -> anyhow::Result<Node> {
        Ok(match node {
            Node::Str(s) if has_template(s) => self.render_str(s, path)?,
            Node::Seq(items) => Node::Seq(
                items
                    .iter()
                    .enumerate()
                    .map(|(i, n)| self.render_node(n, &format!("{path}[{i}]")))
                    .collect::<anyhow::Result<_>>()?,
            ),
            Node::Map(entries) => {
                let mut out = Vec::with_capacity(entries.len());
                for (k, v) in entries {
                    if has_template(k) {
                        return Err(bad_input(format!(
                            "{}: keys are not templated; {k:?} would reach AWS as it is",
                            child(path, k)
                        )));
                    }
                    out.push((k.clone(), self.render_node(v, &child(path, k))?));
                }
                Node::Map(out)
            }
            other => other.clone(),
        })
    }

    fn render_str(&mut self, source: &str, path: &str) -> anyhow::Result<Node> {
        let fail = |msg: String| bad_input(format!("{path}: {source:?}: {msg}"));
        if source.contains("{%") {
            return Err(fail("statements ({% ... %}) are not supported; only {{ expressions }}".into()));
        }
        // Compile first: a syntax error or an unknown filter is reported as such.
        let expression = single_expression(source);
        let names = {
            let jinja = &self.jinja;
            match expression {
                Some(e) => jinja.compile_expression(e).map(|x| x.undeclared_variables(false)),
                None => jinja.template_from_str(source).map(|t| t.undeclared_variables(false)),
            }
            .map_err(|e| fail(describe(&e, &[])))?
        };
        let mut ctx = BTreeMap::new();
        let mut names: Vec<String> = names.into_iter().filter(|n| !FUNCTIONS.contains(&n.as_str())).collect();
        names.sort();
        for name in names {
            if !self.entries.iter().any(|(k, _)| *k == name) {
                return Err(fail(format!(
                    "`{name}` is not defined: not a key of the file nor an --extra-vars (and the only function is lookup)"
                )));
            }
            let value = self.resolve(&name)?;
            ctx.insert(name, Value::from_serialize(&value));
        }

        self.unset.lock().expect("unset lock").clear();
        let result = match expression {
            Some(e) => self.jinja.compile_expression(e).and_then(|x| x.eval(&ctx)),
            None => self.jinja.template_from_str(source).and_then(|t| t.render(&ctx)).map(Value::from),
        };
        let unset: Vec<String> = std::mem::take(&mut *self.unset.lock().expect("unset lock"));
        let value = result.map_err(|e| fail(describe(&e, &unset)))?;
        if value.is_undefined() {
            return Err(fail(undefined_message(&unset, "the expression is undefined")));
        }
        let node = to_node(&value).map_err(|m| fail(m.to_owned()))?;
        if let Some(left) = node.strings().into_iter().find(|s| s.contains("{{") || s.contains("{%")) {
            return Err(fail(format!(
                "the rendered value still holds a template ({left:?}); it would reach AWS as it is"
            )));
        }
        Ok(node)
    }
}

fn undefined_message(unset: &[String], otherwise: &str) -> String {
    match unset {
        [] => otherwise.to_owned(),
        [one] => format!("environment variable {one} is not set and the expression gives no default"),
        many => format!("environment variables {} are not set and the expression gives no default", many.join(", ")),
    }
}

/// One line for a template error, naming what is outside the subset.
fn describe(e: &Error, unset: &[String]) -> String {
    let detail = e.detail().unwrap_or_default();
    match e.kind() {
        ErrorKind::UndefinedError => undefined_message(unset, format!("undefined value {detail}").trim()),
        ErrorKind::UnknownFilter => format!("{detail}: only the filters {FILTERS} are supported"),
        ErrorKind::UnknownTest => format!("{detail}: tests (`is ...`) are not supported"),
        ErrorKind::UnknownFunction => format!("{detail}: only the function lookup('env', NAME) is supported"),
        ErrorKind::UnknownMethod => format!("{detail}: methods are not supported"),
        ErrorKind::SyntaxError => format!("template syntax error: {detail}"),
        _ if detail.is_empty() => e.kind().to_string(),
        _ => detail.to_owned(),
    }
}

fn to_node(v: &Value) -> Result<Node, &'static str> {
    Ok(match v.kind() {
        ValueKind::Undefined => return Err("part of the value is undefined"),
        ValueKind::None => Node::Null,
        ValueKind::Bool => Node::Bool(v.is_true()),
        ValueKind::Number => match i64::try_from(v.clone()) {
            Ok(i) => Node::Int(i),
            Err(_) => Node::Float(f64::try_from(v.clone()).map_err(|_| "a number out of range")?),
        },
        ValueKind::String => Node::Str(v.as_str().unwrap_or_default().to_owned()),
        ValueKind::Map => {
            let mut entries = Vec::new();
            for k in v.try_iter().map_err(|_| "a map that cannot be read")? {
                let item = v.get_item(&k).map_err(|_| "a map that cannot be read")?;
                entries.push((k.to_string(), to_node(&item)?));
            }
            Node::Map(entries)
        }
        ValueKind::Seq | ValueKind::Iterable => Node::Seq(
            v.try_iter().map_err(|_| "a list that cannot be read")?.map(|i| to_node(&i)).collect::<Result<_, _>>()?,
        ),
        _ => Node::Str(v.to_string()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::yaml::parse;
    use std::collections::HashSet;

    /// Names of top-level keys a string refers to.
    fn references(source: &str) -> HashSet<String> {
        let env = environment(fixed_env([]), Arc::default());
        match single_expression(source) {
            Some(e) => env.compile_expression(e).unwrap().undeclared_variables(false),
            None => env.template_from_str(source).unwrap().undeclared_variables(false),
        }
    }

    fn go(yaml: &str, env: EnvLookup) -> anyhow::Result<Node> {
        let vars = parse(yaml, "t.yml").unwrap();
        let Node::Map(e) = &vars else { unreachable!() };
        let keys: Vec<&str> = e.iter().map(|(k, _)| k.as_str()).collect();
        render(&vars, &keys, env)
    }

    fn err(yaml: &str, env: EnvLookup) -> String {
        let e = go(yaml, env).unwrap_err();
        eprintln!("{e}");
        assert_eq!(common::error::exit_status(&e), 2, "{e}");
        e.to_string()
    }

    #[test]
    fn env_lookups_defaults_and_casts() {
        let env = fixed_env([("CLUSTER_NAME", "nightly"), ("EMPTY", ""), ("N", "3"), ("SPOT", "yes")]);
        let out = go(
            r#"
a: "{{ lookup('env', 'CLUSTER_NAME') }}"
b: "{{ lookup('env', 'UNSET') | default('fallback') }}"
c: "{{ lookup('env', 'EMPTY') | default('x') }}"
d: "{{ lookup('env', 'EMPTY') | default('y', true) }}"
e: "{{ lookup('env', 'N') | int }}"
f: "{{ lookup('env', 'UNSET') | default(2, true) | int }}"
g: "{{ lookup('env', 'SPOT') | bool }}"
h: "{{ 5 | string }}"
i: "{{ lookup('env', 'N') }}"
j: "{{ lookup('env', 'UNSET') | d('z') }}"
"#,
            env,
        )
        .unwrap();
        let get = |k| out.get(k).unwrap().clone();
        assert_eq!(get("a"), Node::Str("nightly".into()));
        assert_eq!(get("b"), Node::Str("fallback".into()));
        assert_eq!(get("c"), Node::Str("".into()));
        assert_eq!(get("d"), Node::Str("y".into()));
        assert_eq!(get("e"), Node::Int(3));
        assert_eq!(get("f"), Node::Int(2));
        assert_eq!(get("g"), Node::Bool(true));
        assert_eq!(get("h"), Node::Str("5".into()));
        assert_eq!(get("i"), Node::Str("3".into()), "an env var is text until cast");
        assert_eq!(get("j"), Node::Str("z".into()));
    }

    #[test]
    fn references_to_other_keys_render_those_first() {
        let env = fixed_env([("JOB", "daily")]);
        let out = go(
            r#"
log_uri: "s3://logs/{{ name }}/"
name: "{{ prefix }}-{{ lookup('env', 'JOB') }}"
prefix: analytics
nested:
  - "{{ name }}"
  - {inner: "{{ groups.core.count + 1 }}"}
groups: {core: {count: 2}}
"#,
            env,
        )
        .unwrap();
        assert_eq!(out.get("log_uri"), Some(&Node::Str("s3://logs/analytics-daily/".into())));
        assert_eq!(
            out.get("nested"),
            Some(&Node::Seq(vec![
                Node::Str("analytics-daily".into()),
                Node::Map(vec![("inner".into(), Node::Int(3))])
            ]))
        );
        // Order of the output follows the file.
        let Node::Map(e) = &out else { panic!() };
        assert_eq!(e[0].0, "log_uri");
    }

    #[test]
    fn only_requested_keys_are_rendered() {
        let vars = parse("name: a\nuser_info: \"{{ lookup('env', 'ONLY_ON_OTHER_HOSTS') }}\"\n", "t").unwrap();
        let out = render(&vars, &["name"], fixed_env([])).unwrap();
        assert_eq!(out, Node::Map(vec![("name".into(), Node::Str("a".into()))]));
    }

    #[test]
    fn a_whole_value_reference_keeps_its_type() {
        let out = go("a: [1, 2]\nb: \"{{ a }}\"\nc: \" {{ a }}\"\n", fixed_env([])).unwrap();
        assert_eq!(out.get("b"), Some(&Node::Seq(vec![Node::Int(1), Node::Int(2)])));
        assert_eq!(out.get("c"), Some(&Node::Str(" [1, 2]".into())));
    }

    #[test]
    fn an_unset_variable_without_default_is_named() {
        let e = err("name: \"{{ lookup('env', 'CLUSTER_NAME') }}\"\n", fixed_env([]));
        assert!(e.contains("environment variable CLUSTER_NAME is not set"), "{e}");
        assert!(e.starts_with("name: "), "{e}");
        let e = err("name: \"x-{{ lookup('env', 'CLUSTER_NAME') }}\"\n", fixed_env([]));
        assert!(e.contains("environment variable CLUSTER_NAME is not set"), "{e}");
        let e = err("n: \"{{ lookup('env', 'NUM') | int }}\"\n", fixed_env([]));
        assert!(e.contains("environment variable NUM is not set"), "{e}");
    }

    #[test]
    fn expressions_outside_the_subset_are_named() {
        let e = err("a: \"{{ 'x' | upper }}\"\n", fixed_env([]));
        assert!(e.contains("upper") && e.contains("only the filters"), "{e}");
        assert!(e.contains("{{ 'x' | upper }}"), "names the expression: {e}");
        let e = err("a: \"{{ range(3) }}\"\n", fixed_env([]));
        assert!(e.contains("range"), "{e}");
        let e = err("a: \"{% if true %}x{% endif %}\"\n", fixed_env([]));
        assert!(e.contains("statements"), "{e}");
        let e = err("a: \"{{ lookup('file', '/etc/passwd') }}\"\n", fixed_env([]));
        assert!(e.contains("lookup plugin 'file' is not supported"), "{e}");
        let e = err("x: 1\na: \"{{ x is defined }}\"\n", fixed_env([]));
        assert!(e.contains("tests"), "{e}");
        let e = err("a: \"{{ oops }}\"\n", fixed_env([]));
        assert!(e.contains("`oops` is not defined"), "{e}");
        let e = err("a: \"{{ 'x' ~ }}\"\n", fixed_env([]));
        assert!(e.contains("syntax error"), "{e}");
        let e = err("a: \"{{ 'abc' | int }}\"\n", fixed_env([]));
        assert!(e.contains("cannot convert"), "{e}");
    }

    #[test]
    fn cycles_are_reported() {
        let e = err("a: \"{{ b }}\"\nb: \"{{ a }}\"\n", fixed_env([]));
        assert!(e.contains("a -> b -> a"), "{e}");
        let e = err("name: \"{{ name }}\"\n", fixed_env([]));
        assert!(e.contains("name -> name"), "{e}");
    }

    #[test]
    fn nothing_unrendered_is_left() {
        let e = err("a: \"{{ lookup('env', 'T') }}\"\n", fixed_env([("T", "{{ x }}")]));
        assert!(e.contains("still holds a template"), "{e}");
        let e = err("a: {\"{{ k }}\": 1}\n", fixed_env([]));
        assert!(e.contains("keys are not templated"), "{e}");
    }

    #[test]
    fn lookup_is_a_function_not_a_reference() {
        assert!(references("{{ lookup('env', 'X') | default(name) }}").contains("name"));
    }
}
