//! Comparing what mk-config would write with what is there: a
//! `common::Plan` of [`Op`]s, by pure code. The files in the secrets
//! directory first; the uploads after them (phase 1), so a file that cannot
//! be written stops the run before anything leaves the machine.

use common::secrets::Secret;
use common::{Action, Change, SecretsDir};
use sha2::{Digest, Sha256};

use crate::desired::Rendered;
use crate::observe::{Object, Observed};

pub const KIND_FILE: &str = "secure-config-file";
pub const KIND_OBJECT: &str = "s3-object";

/// The files in the secrets directory.
pub const FILES: u8 = 0;
/// The credential objects in the config bucket.
pub const UPLOADS: u8 = 1;

/// One write. The contents hold secrets: they print `<redacted>`.
#[derive(Debug, Clone, PartialEq)]
pub enum Op {
    /// Writes a file of the secrets directory (0600, atomically).
    WriteFile { name: &'static str, contents: Secret },
    /// Puts a credential file into the config bucket, encrypted, with the
    /// SHA-256 of its content recorded (the next run compares it).
    Upload { bucket: String, key: &'static str, body: Secret, sha256: String },
}

pub type Plan = common::Plan<Op>;
pub type Step = common::Step<Op>;

pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

fn file_change(secrets: &SecretsDir, name: &str, action: Action) -> Change {
    Change::new(KIND_FILE, name, action).with_id(secrets.file(name).display().to_string())
}

/// The object's URI, the name of its change.
pub fn object_uri(bucket: &str, key: &str) -> String {
    format!("s3://{bucket}/{key}")
}

/// Plans the run: each rendered file written unless the directory holds it
/// already, each credential file reported (it is mk-rds-users'), and with
/// `--upload` (`observed.objects`) each put into `bucket` unless the object
/// there has its content.
pub fn plan(secrets: &SecretsDir, rendered: &[Rendered], observed: &Observed, bucket: &str) -> Plan {
    let mut plan = Plan::default();
    for (r, old) in rendered.iter().zip(&observed.files) {
        let action = match old {
            None => Action::Create,
            Some(old) if old.expose() == r.text.expose() => Action::Unchanged,
            Some(_) => Action::Update,
        };
        let ops =
            if action.is_change() { vec![Op::WriteFile { name: r.name, contents: r.text.clone() }] } else { vec![] };
        plan.step(Step::new(file_change(secrets, r.name, action), ops).in_phase(FILES));
    }
    for (_, name, _) in &observed.creds {
        plan.step(Step::unchanged(file_change(secrets, name, Action::Unchanged)).in_phase(FILES));
    }
    for ((_, name, body), object) in observed.creds.iter().zip(observed.objects.iter().flatten()) {
        let sha256 = sha256_hex(body.expose().as_bytes());
        let action = match object {
            Object::Present { sha256: Some(s) } if *s == sha256 => Action::Unchanged,
            Object::Present { .. } => Action::Update,
            Object::Missing => Action::Create,
        };
        let ops = if action.is_change() {
            vec![Op::Upload { bucket: bucket.to_owned(), key: name, body: body.clone(), sha256 }]
        } else {
            vec![]
        };
        plan.step(Step::new(Change::new(KIND_OBJECT, object_uri(bucket, name), action), ops).in_phase(UPLOADS));
    }
    plan
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rendered(text: &str) -> Vec<Rendered> {
        vec![
            Rendered { key: "vars_analytics", name: "vars-analytics.yml", text: Secret::new(text) },
            Rendered { key: "jenkins_env", name: "jenkins_env", text: Secret::new("export A=1\n") },
        ]
    }

    fn actions(p: &Plan) -> Vec<(&str, &str, Action)> {
        p.changes().map(|c| (c.kind, c.name.as_str(), c.action)).collect()
    }

    #[test]
    fn files_are_written_when_missing_or_different() {
        let dir = SecretsDir::new("/s/acme");
        let observed = Observed {
            files: vec![Some(Secret::new("old: pw\n")), Some(Secret::new("export A=1\n"))],
            creds: vec![("edxanalytics_creds", "edxanalytics_creds", Secret::new("{}"))],
            objects: None,
        };
        let p = plan(&dir, &rendered("new: pw\n"), &observed, "acme-edxanalytics");
        assert_eq!(
            actions(&p),
            [
                (KIND_FILE, "vars-analytics.yml", Action::Update),
                (KIND_FILE, "jenkins_env", Action::Unchanged),
                (KIND_FILE, "edxanalytics_creds", Action::Unchanged),
            ]
        );
        assert_eq!(p.steps[0].ops, [Op::WriteFile { name: "vars-analytics.yml", contents: Secret::new("new: pw\n") }]);
        assert!(p.steps[1..].iter().all(|s| s.ops.is_empty()));
        assert_eq!(p.steps[0].change().id.as_deref(), Some("/s/acme/vars-analytics.yml"));
        assert!(!format!("{p:?}").contains("pw"), "the plan never prints a secret");
        let p = plan(&dir, &rendered("new: pw\n"), &Observed { files: vec![None, None], ..observed }, "b");
        assert!(p.changes().all(|c| c.kind != KIND_FILE || c.action != Action::Update));
        assert_eq!(p.totals().create, 2);
    }

    #[test]
    fn uploads_only_what_the_bucket_lacks_after_the_files() {
        let dir = SecretsDir::new("/s/acme");
        let a = Secret::new(r#"{"password": "a"}"#);
        let b = Secret::new(r#"{"password": "b"}"#);
        let mut observed = Observed {
            files: vec![Some(Secret::new("x")), Some(Secret::new("export A=1\n"))],
            creds: vec![("edxanalytics_creds", "edxanalytics_creds", a.clone()), ("edxapp_creds", "edxapp_creds", b)],
            objects: Some(vec![Object::Missing, Object::Present { sha256: None }]),
        };
        let p = plan(&dir, &rendered("x"), &observed, "acme-edxanalytics");
        let uploads: Vec<&Step> = p.steps.iter().filter(|s| s.phase == UPLOADS).collect();
        assert_eq!(uploads.len(), 2);
        assert_eq!(uploads[0].change().name, "s3://acme-edxanalytics/edxanalytics_creds");
        assert_eq!(uploads[0].change().action, Action::Create);
        assert_eq!(uploads[1].change().action, Action::Update, "an object without our digest is replaced");
        let Op::Upload { key, sha256, body, .. } = &uploads[0].ops[0] else { panic!("{:?}", uploads[0].ops) };
        assert_eq!((*key, body), ("edxanalytics_creds", &a));
        assert_eq!(sha256, &sha256_hex(a.expose().as_bytes()));
        assert!(p.steps.iter().filter(|s| s.phase == FILES).all(|s| s.change().kind == KIND_FILE));
        observed.objects = Some(vec![Object::Present { sha256: Some(sha256.clone()) }, Object::Missing]);
        let p = plan(&dir, &rendered("x"), &observed, "acme-edxanalytics");
        let got: Vec<Action> = p.steps.iter().filter(|s| s.phase == UPLOADS).map(|s| s.change().action).collect();
        assert_eq!(got, [Action::Unchanged, Action::Create]);
        observed.objects = None;
        assert!(plan(&dir, &rendered("x"), &observed, "b").steps.iter().all(|s| s.phase == FILES), "no --upload");
    }
}
