//! Merging one statement into a bucket policy, keeping every other
//! statement: a bucket policy is replaced whole by each put. Pure.

use serde_json::{Map, Value, json};

use crate::desired::GradesStatement;

/// The statement we want, as a typed JSON value; `partition` is the run's.
pub fn grades_statement(g: &GradesStatement, partition: &str, principal: &str) -> Value {
    json!({
        "Sid": g.sid,
        "Effect": "Allow",
        "Principal": {"AWS": principal},
        "Action": "s3:GetObject",
        "Resource": format!("{}/grades-download/*", crate::plan::arn(partition, &g.bucket)),
    })
}

/// A policy's statements as a list (a lone statement may be an object).
fn statements(policy: &Value) -> Vec<Value> {
    match policy.get("Statement") {
        Some(Value::Array(a)) => a.clone(),
        Some(v @ Value::Object(_)) => vec![v.clone()],
        _ => Vec::new(),
    }
}

/// What to do with the policy.
#[derive(Debug, PartialEq)]
pub enum PolicyPlan {
    Unchanged,
    /// Put this whole document (other statements kept).
    Put(Value),
    /// No statement would remain: delete the policy.
    Delete,
}

/// Adds or replaces the statement with `sid` by `statement`.
pub fn merge(existing: Option<&Value>, statement: Value) -> PolicyPlan {
    let sid = statement["Sid"].clone();
    let mut stmts = existing.map(statements).unwrap_or_default();
    match stmts.iter().position(|s| s.get("Sid") == Some(&sid)) {
        Some(i) if common::policy::same(&stmts[i], &statement) => return PolicyPlan::Unchanged,
        Some(i) => stmts[i] = statement,
        None => stmts.push(statement),
    }
    PolicyPlan::Put(document(existing, stmts))
}

/// Removes the statement with `sid`, keeping the others.
pub fn remove(existing: Option<&Value>, sid: &str) -> PolicyPlan {
    let Some(existing) = existing else { return PolicyPlan::Unchanged };
    let stmts = statements(existing);
    let kept: Vec<Value> =
        stmts.iter().filter(|s| s.get("Sid").and_then(Value::as_str) != Some(sid)).cloned().collect();
    if kept.len() == stmts.len() {
        PolicyPlan::Unchanged
    } else if kept.is_empty() {
        PolicyPlan::Delete
    } else {
        PolicyPlan::Put(document(Some(existing), kept))
    }
}

fn document(existing: Option<&Value>, stmts: Vec<Value>) -> Value {
    let mut doc = existing.and_then(Value::as_object).cloned().unwrap_or_else(Map::new);
    doc.insert("Version".into(), "2012-10-17".into());
    doc.insert("Statement".into(), Value::Array(stmts));
    Value::Object(doc)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn g() -> GradesStatement {
        GradesStatement { bucket: "edx-grades".into(), principal: None, sid: "AnalyticsGradesDownloadAcme".into() }
    }

    fn other() -> Value {
        json!({"Sid": "Other", "Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": "arn:aws:s3:::edx-grades/*"})
    }

    #[test]
    fn adds_to_no_policy() {
        let s = grades_statement(&g(), "aws", "arn:aws:iam::123456789012:user/edxapp");
        let PolicyPlan::Put(doc) = merge(None, s.clone()) else { panic!() };
        assert_eq!(doc["Version"], "2012-10-17");
        assert_eq!(doc["Statement"], json!([s]));
        assert_eq!(doc["Statement"][0]["Resource"], "arn:aws:s3:::edx-grades/grades-download/*");
    }

    #[test]
    fn keeps_other_statements_and_id() {
        let existing = json!({"Version": "2012-10-17", "Id": "P1", "Statement": other()});
        let s = grades_statement(&g(), "aws", "arn:aws:iam::123456789012:user/edxapp");
        let PolicyPlan::Put(doc) = merge(Some(&existing), s) else { panic!() };
        assert_eq!(doc["Id"], "P1");
        assert_eq!(doc["Statement"].as_array().unwrap().len(), 2);
        assert_eq!(doc["Statement"][0], other());
    }

    #[test]
    fn unchanged_when_equal_up_to_aws_rewrites() {
        let mut s = grades_statement(&g(), "aws", "arn:aws:iam::123456789012:user/edxapp");
        let existing = json!({"Version": "2012-10-17", "Statement": [other(), s.clone()]});
        assert_eq!(merge(Some(&existing), s.clone()), PolicyPlan::Unchanged);
        s["Action"] = json!(["s3:GetObject"]);
        let existing = json!({"Version": "2012-10-17", "Statement": [other(), s.clone()]});
        assert_eq!(
            merge(Some(&existing), grades_statement(&g(), "aws", "arn:aws:iam::123456789012:user/edxapp")),
            PolicyPlan::Unchanged
        );
    }

    #[test]
    fn replaces_a_drifted_statement_in_place() {
        let old = grades_statement(&g(), "aws", "arn:aws:iam::123456789012:user/old");
        let existing = json!({"Version": "2012-10-17", "Statement": [old, other()]});
        let new = grades_statement(&g(), "aws", "arn:aws:iam::123456789012:user/edxapp");
        let PolicyPlan::Put(doc) = merge(Some(&existing), new.clone()) else { panic!() };
        assert_eq!(doc["Statement"], json!([new, other()]));
    }

    #[test]
    fn removes_only_ours() {
        let s = grades_statement(&g(), "aws", "arn:aws:iam::123456789012:user/edxapp");
        let existing = json!({"Version": "2012-10-17", "Statement": [other(), s.clone()]});
        assert_eq!(
            remove(Some(&existing), &g().sid),
            PolicyPlan::Put(json!({"Version": "2012-10-17", "Statement": [other()]}))
        );
        let alone = json!({"Version": "2012-10-17", "Statement": [s]});
        assert_eq!(remove(Some(&alone), &g().sid), PolicyPlan::Delete);
        assert_eq!(remove(Some(&json!({"Statement": [other()]})), &g().sid), PolicyPlan::Unchanged);
        assert_eq!(remove(None, &g().sid), PolicyPlan::Unchanged);
    }
}
