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
    /// What differs in before -> after terms, where the plan knows both.
    pub diff: Vec<AttributeChange>,
}

/// One attribute of an update, before and after (`null` for absent).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AttributeChange {
    pub attribute: String,
    pub before: Value,
    pub after: Value,
}

impl Change {
    pub fn new(kind: &'static str, name: impl Into<String>, action: Action) -> Self {
        Change { kind, name: name.into(), action, id: None, details: Vec::new(), diff: Vec::new() }
    }

    pub fn with_id(mut self, id: impl Into<String>) -> Self {
        self.id = Some(id.into());
        self
    }

    pub fn with_details(mut self, details: Vec<String>) -> Self {
        self.details = details;
        self
    }

    /// Adds `attribute: before -> after` to the diff (and its name to the
    /// details), for an update.
    pub fn with_diff(
        mut self,
        attribute: impl Into<String>,
        before: impl Into<Value>,
        after: impl Into<Value>,
    ) -> Self {
        let attribute = attribute.into();
        if !self.details.contains(&attribute) {
            self.details.push(attribute.clone());
        }
        self.diff.push(AttributeChange { attribute, before: before.into(), after: after.into() });
        self
    }

    fn to_json(&self, dry_run: bool) -> Value {
        let mut m = Map::new();
        m.insert("kind".into(), self.kind.into());
        m.insert("name".into(), self.name.clone().into());
        m.insert("action".into(), self.action.word(dry_run).into());
        match &self.id {
            Some(id) => {
                m.insert("id".into(), id.clone().into());
            }
            // A resource not made yet: its id exists only once it is.
            None if self.action == Action::Create => {
                m.insert("known_after_apply".into(), serde_json::json!(["id"]));
            }
            None => {}
        }
        if !self.details.is_empty() {
            m.insert("details".into(), self.details.clone().into());
        }
        if !self.diff.is_empty() {
            m.insert("diff".into(), serde_json::to_value(&self.diff).unwrap_or_default());
        }
        Value::Object(m)
    }
}

#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    #[default]
    Info,
    Warning,
}

/// Something the operator should know that is not a change: a risky rule,
/// a deprecated version, a resource left alone. Made by pure code (a plan)
/// or while working, printed once on stderr by [`Report::record`] (warnings
/// at warning level) and listed under `findings` in the document.
#[derive(Debug, Clone, Serialize, Default, PartialEq, Eq)]
pub struct Finding {
    pub severity: Severity,
    /// A stable, machine-readable name for the kind of finding
    /// (`foreign-resource`, `open-to-world`...), when it has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<&'static str>,
    pub message: String,
    /// The resource it is about, when it is about one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource: Option<String>,
}

impl Finding {
    pub fn new(severity: Severity, message: impl Into<String>) -> Self {
        Finding { severity, message: message.into(), ..Default::default() }
    }

    pub fn warning(message: impl Into<String>) -> Self {
        Finding::new(Severity::Warning, message)
    }

    pub fn info(message: impl Into<String>) -> Self {
        Finding::new(Severity::Info, message)
    }

    pub fn with_code(mut self, code: &'static str) -> Self {
        self.code = Some(code);
        self
    }

    pub fn about(mut self, resource: impl Into<String>) -> Self {
        self.resource = Some(resource.into());
        self
    }

    /// Prints it on stderr: a warning at warning level, else at info.
    fn log(&self) {
        match self.severity {
            Severity::Warning => tracing::warn!("{}", self.message),
            Severity::Info => tracing::info!("{}", self.message),
        }
    }
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

    /// Records a finding: on stderr once, and in the document.
    pub fn finding(&mut self, finding: Finding) {
        finding.log();
        self.findings.push(finding);
    }

    pub fn warn(&mut self, message: impl Into<String>) {
        self.finding(Finding::warning(message));
    }

    pub fn info(&mut self, message: impl Into<String>) {
        self.finding(Finding::info(message));
    }

    /// Records a plan's findings, each as [`Report::finding`] does.
    pub fn record(&mut self, findings: &[Finding]) {
        for f in findings {
            self.finding(f.clone());
        }
    }

    /// Records a resource not waited for (`--no-wait`), with an info line.
    pub fn pending(&mut self, kind: &'static str, name: impl Into<String>, state: impl Into<String>) {
        let (name, state) = (name.into(), state.into());
        self.info(format!("not waiting for {kind} {name} ({state}, --no-wait): a later run waits for it"));
        self.pending.push(Pending { kind, name, state });
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

    #[test]
    fn changes_carry_diffs_and_unknown_ids() {
        let c = Change::new("rds-instance", "acme-analytics", Action::Update).with_diff(
            "instance class",
            "db.t3.small",
            "db.t3.medium",
        );
        let v = c.to_json(true);
        assert_eq!(v["action"], "would-update");
        assert_eq!(v["details"], serde_json::json!(["instance class"]));
        assert_eq!(
            v["diff"],
            serde_json::json!([{"attribute": "instance class", "before": "db.t3.small", "after": "db.t3.medium"}])
        );
        assert!(v.get("known_after_apply").is_none(), "an update's resource has its id");
        let v = Change::new("ec2-instance", "analytics-1", Action::Create).to_json(true);
        assert_eq!(v["known_after_apply"], serde_json::json!(["id"]));
        assert!(v.get("id").is_none());
    }

    #[test]
    fn findings_carry_code_and_resource_only_when_known() {
        let f = Finding::warning("rule open to the world").with_code("open-to-world").about("acme-analytics");
        let v = serde_json::to_value(&f).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"severity": "warning", "code": "open-to-world", "message": "rule open to the world", "resource": "acme-analytics"})
        );
        let v = serde_json::to_value(Finding::info("x")).unwrap();
        assert_eq!(v, serde_json::json!({"severity": "info", "message": "x"}));
    }
}
