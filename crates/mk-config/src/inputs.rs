//! The other tools' JSON documents, as mk-config reads them, and the
//! secret values it needs from the secrets directory.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::PathBuf;

use anyhow::Context;
use common::SecretsDir;
use common::error::bad_input;
use serde::Deserialize;
use serde_json::Value;

/// The latest document of each tool, by tool name.
#[derive(Debug, Default)]
pub struct Documents(BTreeMap<String, Value>);

impl Documents {
    /// Reads documents from a stream holding one or more JSON documents
    /// (`cat state/*.json | mk-config`). A later document of a tool
    /// replaces an earlier one.
    pub fn read(&mut self, source: &str, mut reader: impl Read) -> anyhow::Result<()> {
        let mut text = String::new();
        reader.read_to_string(&mut text).with_context(|| format!("reading {source}"))?;
        for doc in serde_json::Deserializer::from_str(&text).into_iter::<Value>() {
            let doc = doc.map_err(|e| bad_input(format!("{source} is not a stream of JSON documents: {e}")))?;
            let Some(tool) = doc.get("tool").and_then(Value::as_str) else {
                return Err(bad_input(format!("{source}: a document without a \"tool\" key is not a tool's report")));
            };
            if doc.get("dry_run") == Some(&Value::Bool(true)) {
                continue; // a dry run describes nothing that exists
            }
            if let Some(e) = doc.get("error").and_then(Value::as_str) {
                return Err(bad_input(format!("{source}: the {tool} run failed ({e}); re-run it first")));
            }
            self.0.insert(tool.to_owned(), doc);
        }
        Ok(())
    }

    pub fn read_files(&mut self, files: &[PathBuf]) -> anyhow::Result<()> {
        for f in files {
            let file = std::fs::File::open(f).map_err(|e| bad_input(format!("cannot read {}: {e}", f.display())))?;
            self.read(&f.display().to_string(), file)?;
        }
        Ok(())
    }

    pub fn get(&self, tool: &str) -> Option<&Value> {
        self.0.get(tool)
    }

    /// Every document must be for `client`.
    pub fn check_client(&self, client: &str) -> anyhow::Result<()> {
        for (tool, doc) in &self.0 {
            if let Some(c) = doc.get("client").and_then(Value::as_str)
                && c != client
            {
                return Err(bad_input(format!("the {tool} document is for client {c:?}, not {client:?}")));
            }
        }
        Ok(())
    }

    /// The first region any document names.
    pub fn region(&self) -> Option<String> {
        self.0.values().find_map(|d| d.get("region").and_then(Value::as_str)).map(str::to_owned)
    }

    /// A string at `pointer` (JSON pointer) in `tool`'s outputs, or the
    /// name of what is missing, for the error listing all missing inputs.
    pub fn output(&self, tool: &str, pointer: &str, missing: &mut Vec<String>) -> String {
        let found = self.get(tool).and_then(|d| d.pointer(&format!("/outputs{pointer}"))).and_then(|v| match v {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        });
        found.unwrap_or_else(|| {
            missing.push(format!("{tool} outputs{}", pointer.replace('/', ".")));
            String::new()
        })
    }

    pub fn optional_output(&self, tool: &str, pointer: &str) -> Option<String> {
        let mut ignore = Vec::new();
        let v = self.output(tool, pointer, &mut ignore);
        ignore.is_empty().then_some(v)
    }
}

/// An access key file as mk-iam writes it.
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct AccessKey {
    pub access_key_id: String,
    pub secret_access_key: String,
}

/// A pipeline credentials file (`edxanalytics_creds`, `edxapp_creds`), as
/// mk-rds-users writes it. The port is a string.
#[derive(Debug, Clone, Deserialize, serde::Serialize, PartialEq)]
pub struct DbCreds {
    pub host: String,
    pub port: String,
    pub username: String,
    pub password: String,
}

pub fn read_access_key(path: &str) -> anyhow::Result<AccessKey> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| bad_input(format!("cannot read access key file {path}: {e} (run mk-iam)")))?;
    serde_json::from_str(&text).map_err(|e| bad_input(format!("access key file {path} is malformed: {e}")))
}

pub fn read_db_creds(secrets: &SecretsDir, name: &str) -> anyhow::Result<Option<DbCreds>> {
    match secrets.read(name)? {
        None => Ok(None),
        Some(text) => {
            let c: DbCreds = serde_json::from_str(&text).map_err(|e| {
                bad_input(format!("{} is malformed ({e}): re-run mk-rds-users", secrets.file(name).display()))
            })?;
            Ok(Some(c))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stream_of_documents_latest_wins_and_dry_runs_are_skipped() {
        let mut d = Documents::default();
        let s = r#"{"tool":"mk-es","client":"acme","dry_run":false,"outputs":{"endpoint":"https://a"}}
{"tool":"mk-es","client":"acme","dry_run":false,"outputs":{"endpoint":"https://b"}}
{"tool":"mk-vpc","client":"acme","dry_run":true,"outputs":{"vpc_id":"vpc-dry"}}"#;
        d.read("stdin", s.as_bytes()).unwrap();
        let mut missing = vec![];
        assert_eq!(d.output("mk-es", "/endpoint", &mut missing), "https://b");
        assert_eq!(d.output("mk-vpc", "/vpc_id", &mut missing), "");
        assert_eq!(missing, ["mk-vpc outputs.vpc_id"]);
        d.check_client("acme").unwrap();
        assert!(d.check_client("other").is_err());
    }

    #[test]
    fn rejects_garbage_and_failed_runs() {
        let mut d = Documents::default();
        assert!(d.read("x", "not json".as_bytes()).is_err());
        assert!(d.read("x", r#"{"a":1}"#.as_bytes()).is_err());
        let e = d.read("x", r#"{"tool":"mk-rds","error":"boom"}"#.as_bytes()).unwrap_err();
        assert!(e.to_string().contains("boom"));
    }
}
