//! The one JSON document every tool prints on stdout.

use serde::Serialize;
use serde_json::{Map, Value};

use crate::calls::CallCounts;

/// What happened (or, under dry-run, would happen) to one resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Create,
    Update,
    Unchanged,
    Delete,
}

impl Action {
    /// The word the report uses: `created`, or `would-create` under dry-run.
    pub fn word(self, dry_run: bool) -> &'static str {
        match (self, dry_run) {
            (Action::Create, false) => "created",
            (Action::Create, true) => "would-create",
            (Action::Update, false) => "updated",
            (Action::Update, true) => "would-update",
            (Action::Delete, false) => "deleted",
            (Action::Delete, true) => "would-delete",
            (Action::Unchanged, _) => "unchanged",
        }
    }

    pub fn is_change(self) -> bool {
        self != Action::Unchanged
    }
}

/// One resource the tool manages, and its action.
#[derive(Debug, Clone)]
pub struct Change {
    pub kind: &'static str,
    pub name: String,
    pub action: Action,
    pub id: Option<String>,
    /// What differs, for updates: short phrases such as `"encryption"`.
    pub details: Vec<String>,
}

impl Change {
    pub fn new(kind: &'static str, name: impl Into<String>, action: Action) -> Self {
        Change { kind, name: name.into(), action, id: None, details: Vec::new() }
    }

    pub fn with_id(mut self, id: impl Into<String>) -> Self {
        self.id = Some(id.into());
        self
    }

    pub fn with_details(mut self, details: Vec<String>) -> Self {
        self.details = details;
        self
    }

    fn to_json(&self, dry_run: bool) -> Value {
        let mut m = Map::new();
        m.insert("kind".into(), self.kind.into());
        m.insert("name".into(), self.name.clone().into());
        m.insert("action".into(), self.action.word(dry_run).into());
        if let Some(id) = &self.id {
            m.insert("id".into(), id.clone().into());
        }
        if !self.details.is_empty() {
            m.insert("details".into(), self.details.clone().into());
        }
        Value::Object(m)
    }
}

#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Warning,
    Error,
}

/// Something the operator should know that is not a change: a risky rule,
/// a deprecated version, a resource left alone.
#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    pub severity: Severity,
    pub message: String,
}

/// A resource this run started (or found starting) and did not wait for
/// (`--no-wait`): a later run without `--no-wait` waits for it. In the
/// document under `pending`, so a runbook runs that later run only when
/// something is pending.
#[derive(Debug, Clone, Serialize)]
pub struct Pending {
    pub kind: &'static str,
    pub name: String,
    pub state: String,
}

/// The document: see SPEC section 1.
#[derive(Debug, Default)]
pub struct Report {
    pub tool: &'static str,
    pub client: Option<String>,
    pub region: Option<String>,
    pub dry_run: bool,
    pub changes: Vec<Change>,
    pub outputs: Map<String, Value>,
    pub findings: Vec<Finding>,
    pub pending: Vec<Pending>,
    pub error: Option<String>,
}

impl Report {
    pub fn new(tool: &'static str) -> Self {
        Report { tool, ..Default::default() }
    }

    pub fn change(&mut self, change: Change) {
        self.changes.push(change);
    }

    pub fn output(&mut self, key: &str, value: impl Into<Value>) {
        self.outputs.insert(key.to_owned(), value.into());
    }

    pub fn warn(&mut self, message: impl Into<String>) {
        let message = message.into();
        tracing::warn!("{message}");
        self.findings.push(Finding { severity: Severity::Warning, message });
    }

    pub fn info(&mut self, message: impl Into<String>) {
        let message = message.into();
        tracing::info!("{message}");
        self.findings.push(Finding { severity: Severity::Info, message });
    }

    /// Records a plan's findings: each in the document and, by severity,
    /// on stderr.
    pub fn record(&mut self, findings: &[Finding]) {
        for f in findings {
            match f.severity {
                Severity::Info => self.info(f.message.clone()),
                _ => self.warn(f.message.clone()),
            }
        }
    }

    /// Records a resource not waited for (`--no-wait`), with an info line.
    pub fn pending(&mut self, kind: &'static str, name: impl Into<String>, state: impl Into<String>) {
        let (name, state) = (name.into(), state.into());
        self.info(format!("not waiting for {kind} {name} ({state}, --no-wait): a later run waits for it"));
        self.pending.push(Pending { kind, name, state });
    }

    /// Number of changes that are not `unchanged`.
    pub fn changed(&self) -> usize {
        self.changes.iter().filter(|c| c.action.is_change()).count()
    }

    pub fn to_json(&self, calls: &CallCounts) -> Value {
        let mut m = Map::new();
        m.insert("tool".into(), self.tool.into());
        m.insert("client".into(), self.client.clone().into());
        m.insert("region".into(), self.region.clone().into());
        m.insert("dry_run".into(), self.dry_run.into());
        m.insert("changes".into(), self.changes.iter().map(|c| c.to_json(self.dry_run)).collect::<Vec<_>>().into());
        m.insert("outputs".into(), Value::Object(self.outputs.clone()));
        m.insert("findings".into(), serde_json::to_value(&self.findings).unwrap_or_default());
        m.insert("api_calls".into(), serde_json::to_value(calls).unwrap_or_default());
        if !self.pending.is_empty() {
            m.insert("pending".into(), serde_json::to_value(&self.pending).unwrap_or_default());
        }
        if let Some(e) = &self.error {
            m.insert("error".into(), e.clone().into());
        }
        Value::Object(m)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dry_run_words() {
        assert_eq!(Action::Create.word(true), "would-create");
        assert_eq!(Action::Create.word(false), "created");
        assert_eq!(Action::Unchanged.word(true), "unchanged");
        assert_eq!(Action::Delete.word(true), "would-delete");
    }

    #[test]
    fn document_has_the_spec_keys() {
        let mut r = Report::new("mk-buckets");
        r.client = Some("acme".into());
        r.region = Some("us-east-1".into());
        r.change(
            Change::new("s3-bucket", "acme-tracking-logs", Action::Unchanged)
                .with_id("arn:aws:s3:::acme-tracking-logs"),
        );
        r.output("buckets", serde_json::json!({"tracking_logs": "acme-tracking-logs"}));
        let v = r.to_json(&CallCounts::default());
        for key in ["tool", "client", "region", "dry_run", "changes", "outputs", "findings", "api_calls"] {
            assert!(v.get(key).is_some(), "missing {key}");
        }
        assert_eq!(v["changes"][0]["action"], "unchanged");
        assert_eq!(v["changes"][0]["id"], "arn:aws:s3:::acme-tracking-logs");
        assert_eq!(v["api_calls"]["total"], 0);
        assert_eq!(v["api_calls"]["mutating"], 0);
        assert!(v.get("pending").is_none(), "nothing pending: no key");

        r.pending("rds-instance", "acme-analytics", "creating");
        let v = r.to_json(&CallCounts::default());
        assert_eq!(
            v["pending"],
            serde_json::json!([{"kind": "rds-instance", "name": "acme-analytics", "state": "creating"}])
        );
        assert!(v["findings"][0]["message"].as_str().unwrap().contains("not waiting for rds-instance acme-analytics"));
    }
}
