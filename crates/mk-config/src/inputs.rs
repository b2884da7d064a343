//! The other tools' JSON documents, as mk-config reads them, and the
//! secret files it needs (access keys, database credentials), read through
//! `common::secrets` in the formats mk-iam and mk-rds-users write.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::Context;
use common::SecretsDir;
use common::error::bad_input;
use common::secrets::{AccessKeyFile, DbCredentials, parse_json};
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

/// The access key file mk-iam wrote at `path` (the path its document
/// names). A missing or unreadable file is bad input (run mk-iam first);
/// so is one that is not an access key file, without quoting it.
pub fn read_access_key(path: &str) -> anyhow::Result<AccessKeyFile> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| bad_input(format!("cannot read access key file {path}: {e} (run mk-iam)")))?;
    parse_json(&text, Path::new(path), "an access key file of mk-iam")
}

/// A pipeline credentials file (`edxanalytics_creds`, `edxapp_creds`), as
/// mk-rds-users writes it; `None` when there is none.
pub fn read_db_creds(secrets: &SecretsDir, name: &str) -> anyhow::Result<Option<DbCredentials>> {
    secrets.read_json(name, "a credentials file of mk-rds-users (re-run it)")
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

    #[test]
    fn secret_files_in_the_formats_their_tools_write() {
        let t = tempfile::tempdir().unwrap();
        let dir = SecretsDir::new(t.path());
        let key = t.path().join("u.access-key.json");
        std::fs::write(&key, r#"{"user": "u", "access_key_id": "AKIA1", "secret_access_key": "s3cr3t", "extra": 1}"#)
            .unwrap();
        let k = read_access_key(key.to_str().unwrap()).unwrap();
        assert_eq!((k.user.as_str(), k.access_key_id.as_str(), k.secret_access_key.expose()), ("u", "AKIA1", "s3cr3t"));
        std::fs::write(&key, r#"{"user": "u", "access_key_id": 1, "secret_access_key": "leaked"}"#).unwrap();
        let e = read_access_key(key.to_str().unwrap()).unwrap_err();
        assert_eq!(common::error::exit_status(&e), 2);
        assert!(e.to_string().contains("is not an access key file") && !e.to_string().contains("leaked"), "{e}");
        let e = read_access_key(t.path().join("none.json").to_str().unwrap()).unwrap_err();
        assert!(e.to_string().contains("(run mk-iam)"), "{e}");

        assert_eq!(read_db_creds(&dir, "edxapp_creds").unwrap(), None);
        std::fs::write(dir.file("edxapp_creds"), r#"{"host": "h", "port": "3306", "username": "a", "password": "pw"}"#)
            .unwrap();
        let c = read_db_creds(&dir, "edxapp_creds").unwrap().unwrap();
        assert_eq!((c.host.as_str(), c.port.as_str(), c.password.expose()), ("h", "3306", "pw"));
        std::fs::write(dir.file("edxapp_creds"), r#"{"host": "h", "port": 3306, "password": "leaked"}"#).unwrap();
        let e = read_db_creds(&dir, "edxapp_creds").unwrap_err();
        assert_eq!(common::error::exit_status(&e), 2);
        assert!(e.to_string().contains("mk-rds-users") && !e.to_string().contains("leaked"), "{e}");
    }
}
