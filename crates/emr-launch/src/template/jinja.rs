//! The Jinja engine with the subset emr-vars.yml files use registered, and
//! nothing else: the `lookup('env', NAME)` function (reading an
//! [`EnvLookup`]) and the filters `default`/`d`, `int`, `bool`, `string`.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use minijinja::value::{Rest, ValueKind};
use minijinja::{Environment, Error, ErrorKind, UndefinedBehavior, Value};

/// Where `lookup('env', ...)` reads: the process environment, or a map in tests.
pub type EnvLookup = Arc<dyn Fn(&str) -> Option<String> + Send + Sync>;

/// The process environment.
pub fn process_env() -> EnvLookup {
    Arc::new(|name| std::env::var(name).ok())
}

/// A fixed environment, for tests.
pub fn fixed_env<const N: usize>(vars: [(&str, &str); N]) -> EnvLookup {
    let map: BTreeMap<String, String> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    Arc::new(move |name| map.get(name).cloned())
}

pub const FUNCTIONS: [&str; 1] = ["lookup"];
pub const FILTERS: &str = "default, int, bool, string";

/// The engine with only the subset registered; `unset` collects the
/// environment variables a lookup found unset.
pub fn environment(env: EnvLookup, unset: Arc<Mutex<Vec<String>>>) -> Environment<'static> {
    let mut e = Environment::empty();
    e.set_undefined_behavior(UndefinedBehavior::Strict);
    e.add_function("lookup", move |plugin: String, terms: Rest<String>| -> Result<Value, Error> {
        if plugin != "env" {
            return Err(Error::new(
                ErrorKind::InvalidOperation,
                format!("lookup plugin '{plugin}' is not supported (only 'env')"),
            ));
        }
        let [name] = terms.as_slice() else {
            return Err(Error::new(ErrorKind::InvalidOperation, "lookup('env', ...) takes exactly one variable name"));
        };
        match env(name) {
            Some(v) => Ok(Value::from(v)),
            None => {
                unset.lock().expect("unset lock").push(name.clone());
                Ok(Value::UNDEFINED)
            }
        }
    });
    e.add_filter("default", default);
    e.add_filter("d", default);
    e.add_filter("int", int);
    e.add_filter("bool", boolean);
    e.add_filter("string", string);
    e
}

/// Jinja's `default(value, default_value='', boolean=false)`.
fn default(value: Value, fallback: Option<Value>, boolean: Option<bool>) -> Value {
    if value.is_undefined() || (boolean == Some(true) && !value.is_true()) {
        fallback.unwrap_or_else(|| Value::from(""))
    } else {
        value
    }
}

/// Like Jinja's `int`, except that text which is not a number is an error
/// rather than a silent 0. Undefined passes through, so the error names the
/// unset variable.
#[expect(
    clippy::cast_possible_truncation,
    reason = "Jinja's int filter: a float truncates, saturating at the i64 range"
)]
fn int(value: Value) -> Result<Value, Error> {
    let bad = || Error::new(ErrorKind::InvalidOperation, format!("cannot convert {value:?} to an integer"));
    match value.kind() {
        ValueKind::Undefined => Ok(value.clone()),
        ValueKind::Bool => Ok(Value::from(i64::from(value.is_true()))),
        ValueKind::Number => match i64::try_from(value.clone()) {
            Ok(i) => Ok(Value::from(i)),
            Err(_) => f64::try_from(value.clone()).map(|f| Value::from(f.trunc() as i64)).map_err(|_| bad()),
        },
        ValueKind::String => {
            let s = value.as_str().unwrap_or_default().trim();
            if let Ok(i) = s.parse::<i64>() {
                Ok(Value::from(i))
            } else {
                s.parse::<f64>().ok().filter(|f| f.is_finite()).map(|f| Value::from(f.trunc() as i64)).ok_or_else(bad)
            }
        }
        _ => Err(bad()),
    }
}

/// Ansible's `bool`: yes/no, on/off, true/false, 1/0 (any case); other text
/// is an error rather than a silent false.
fn boolean(value: Value) -> Result<Value, Error> {
    match value.kind() {
        ValueKind::Undefined | ValueKind::Bool => Ok(value),
        ValueKind::None => Ok(Value::from(false)),
        ValueKind::Number => Ok(Value::from(value.is_true())),
        ValueKind::String => match value.as_str().unwrap_or_default().trim().to_ascii_lowercase().as_str() {
            "yes" | "on" | "true" | "1" | "y" => Ok(Value::from(true)),
            "no" | "off" | "false" | "0" | "n" | "" => Ok(Value::from(false)),
            _ => Err(Error::new(ErrorKind::InvalidOperation, format!("cannot convert {value:?} to a boolean"))),
        },
        _ => Err(Error::new(ErrorKind::InvalidOperation, format!("cannot convert {value:?} to a boolean"))),
    }
}

fn string(value: Value) -> Value {
    if value.is_undefined() { value } else { Value::from(value.to_string()) }
}
