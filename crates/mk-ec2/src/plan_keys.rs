//! The key pairs' part of a converging plan: make, import, tag, or keep
//! each, and whether the secrets directory then holds its private key.
//! Pure.
//!
//! The private key is made here and written before EC2 hears of it, so
//! the cases are: no key pair and no file (make both); a file and no key
//! pair (a run stopped before the import: import the file's public key,
//! never a new key over the file); both (compare); a key pair of ours and
//! no file (made by CreateKeyPair whose answer was lost, before mk-ec2 made
//! keys itself, or the file was removed: made again, unless a host uses it
//! or the operator imported it).

use common::{Action, Change, Deployment, Finding};

use crate::converge::{KeyPairOutcome, Plan, Step};
use crate::desired::{Desired, KeyPairSpec, KeySource, TAG_PRIVATE_KEY, public_key_body};
use crate::keys::{PrivateKeyFile, same_key};
use crate::observed::{Host, KeyPair, Observed, key_pair_tags, missing_tags, pairs, role_tags};
use crate::op::{KEY_PAIRS, KIND_KEY_PAIR, Op};

fn generate(d: &Deployment, spec: &KeyPairSpec) -> Op {
    Op::GenerateKey { spec: spec.clone(), tags: key_pair_tags(d, spec.role, KeySource::SecretsDir) }
}

fn import(d: &Deployment, spec: &KeyPairSpec, public_key: &str, source: KeySource) -> Op {
    Op::ImportKeyPair {
        spec: spec.clone(),
        public_key: public_key.to_owned(),
        tags: key_pair_tags(d, spec.role, source),
    }
}

fn same_body(a: &str, b: &str) -> bool {
    public_key_body(a) == public_key_body(b)
}

/// One key pair's step (see the module's doc), its findings in `plan`,
/// and what stops a real run in `missing`.
pub fn plan_key_pair(
    d: &Deployment,
    w: &Desired,
    spec: &KeyPairSpec,
    o: &Observed,
    plan: &mut Plan,
    missing: &mut Vec<String>,
) -> KeyPairOutcome {
    let pem = o.private_key_files.get(&spec.file_name());
    let existing = o.key_pairs.iter().find(|k| k.name == spec.name).cloned();
    let (step, holds_private_key) = match &existing {
        None => new_key_pair(d, w, spec, pem, plan, missing),
        Some(k) => existing_key_pair(d, w, spec, k, pem, o, plan),
    };
    plan.step(step.in_phase(KEY_PAIRS));
    KeyPairOutcome { spec: spec.clone(), existing, holds_private_key }
}

/// A key pair EC2 does not have.
fn new_key_pair(
    d: &Deployment,
    w: &Desired,
    spec: &KeyPairSpec,
    pem: Option<&PrivateKeyFile>,
    plan: &mut Plan,
    missing: &mut Vec<String>,
) -> (Step, bool) {
    let (name, file) = (&spec.name, spec.file_name());
    let change = Change::new(KIND_KEY_PAIR, name, Action::Create);
    let (op, holds) = match (&w.public_key, pem) {
        (Some(pk), _) => {
            let holds = matches!(pem, Some(PrivateKeyFile::PublicKey(have)) if same_body(have, pk));
            (import(d, spec, pk, KeySource::Operator), holds)
        }
        (None, None) => (generate(d, spec), true),
        (None, Some(PrivateKeyFile::PublicKey(pk))) => {
            plan.finding(
                Finding::info(format!(
                    "key pair {name} is not in EC2 but its private key {file} is in the secrets directory (a run \
                     stopped before importing it, or the key pair was deleted): its public key is imported"
                ))
                .with_code("private-key-imported")
                .about(name),
            );
            (import(d, spec, pk, KeySource::SecretsDir), true)
        }
        (None, Some(PrivateKeyFile::Unreadable(why))) => {
            missing.push(format!(
                "key pair {name} is not in EC2 and its private key file {file} in the secrets directory cannot \
                 be read ({why}); it is never written over: import its public key (ssh-keygen -y -f {file} > \
                 {name}.pub, then --public-key {name}.pub), or move the file away to have a new key pair made"
            ));
            (generate(d, spec), false)
        }
    };
    (Step::new(change, vec![op]), holds)
}

/// A key pair EC2 has: tagged when ours and short of tags, compared with
/// `--public-key` or the private key file, made again when ours, its
/// private key never stored and no host using it.
fn existing_key_pair(
    d: &Deployment,
    w: &Desired,
    spec: &KeyPairSpec,
    k: &KeyPair,
    pem: Option<&PrivateKeyFile>,
    o: &Observed,
    plan: &mut Plan,
) -> (Step, bool) {
    let (name, file) = (&spec.name, spec.file_name());
    let mut change = Change::new(KIND_KEY_PAIR, name, Action::Unchanged);
    if let Some(id) = &k.id {
        change = change.with_id(id);
    }
    let mut ops = Vec::new();
    let ours = d.owns(pairs(&k.tags));
    if ours {
        let missing = missing_tags(&role_tags(d, spec.role, None), &k.tags);
        if !missing.is_empty() {
            ops.push(Op::TagKeyPair { name: name.clone(), id: k.id.clone(), tags: missing });
            change.action = Action::Update;
            change.details = vec!["tags".into()];
        }
    } else {
        plan.finding(
            Finding::info(format!(
                "key pair {name} exists and was not created by mk-ec2 for {}: used as it is, never deleted",
                d.client
            ))
            .with_code("foreign-resource")
            .about(name),
        );
    }
    let mut holds = file_holds(k, pem);
    let warn = |plan: &mut Plan, code, message: String| {
        plan.finding(Finding::warning(message).with_code(code).about(name));
    };
    match (&w.public_key, pem) {
        (Some(pk), _) if k.public_key.as_deref().is_some_and(|have| !same_body(have, pk)) => warn(
            plan,
            "key-mismatch",
            format!(
                "key pair {name} holds another public key than --public-key: it is kept (never replaced \
                 silently); delete it (aws ec2 delete-key-pair --key-name {name}) and re-run to import yours"
            ),
        ),
        (Some(_), _) => {}
        (None, Some(PrivateKeyFile::PublicKey(_))) if !holds => warn(
            plan,
            "key-mismatch",
            format!(
                "key pair {name} holds another public key than its private key file {file}: both are kept (never \
                 replaced silently); to use the file's key, delete the key pair (aws ec2 delete-key-pair \
                 --key-name {name}) and re-run to import it"
            ),
        ),
        (None, Some(PrivateKeyFile::PublicKey(_))) => {}
        (None, Some(PrivateKeyFile::Unreadable(why))) => warn(
            plan,
            "private-key-unreadable",
            format!("the private key file {file} of key pair {name} cannot be read ({why}): both are kept as they are"),
        ),
        (None, None) => {
            if without_private_key(d, spec, k, ours, o, plan) {
                ops = vec![Op::DeleteKeyPair { name: name.clone() }, generate(d, spec)];
                holds = true;
                change.action = Action::Update;
                change.details = vec!["replaced: no private key".into()];
            }
        }
    }
    (Step::new(change, ops), holds)
}

/// Whether the private key file holds the key pair's key. When EC2 tells
/// neither the public key nor a comparable fingerprint, the file is taken
/// to be the key pair's.
fn file_holds(k: &KeyPair, pem: Option<&PrivateKeyFile>) -> bool {
    match pem {
        Some(PrivateKeyFile::PublicKey(pk)) => {
            same_key(k.public_key.as_deref(), k.fingerprint.as_deref(), pk) != Some(false)
        }
        _ => false,
    }
}

/// A key pair of ours whose private key is not in the secrets directory:
/// whether it is made again (imported from `--public-key` or used by a
/// host, it is kept), said in either case.
fn without_private_key(
    d: &Deployment,
    spec: &KeyPairSpec,
    k: &KeyPair,
    ours: bool,
    o: &Observed,
    plan: &mut Plan,
) -> bool {
    let (name, file) = (&spec.name, spec.file_name());
    let imported = k.tags.iter().any(|(tk, v)| tk == TAG_PRIVATE_KEY && v == KeySource::Operator.tag());
    let used_by: Vec<String> =
        o.hosts.iter().filter(|h| h.key_name.as_deref() == Some(name.as_str())).map(Host::label).collect();
    if ours && !imported && used_by.is_empty() {
        plan.finding(
            Finding::warning(format!(
                "key pair {name} was made for {} but its private key {file} was never stored (a run stopped \
                 while making it, or the file was removed), and no host uses it: it is deleted and made again",
                d.client
            ))
            .with_code("private-key-lost")
            .about(name),
        );
        return true;
    }
    let why = if imported {
        "imported from --public-key: the operator holds its private key".to_owned()
    } else if !used_by.is_empty() {
        format!("{} use it, and a new key pair would not reach them", used_by.join(", "))
    } else {
        "imported, or made elsewhere".to_owned()
    };
    plan.finding(
        Finding::warning(format!(
            "key pair {name} exists but its private key {file} is not in the secrets directory ({why}): it \
             is kept, never re-created silently; SSH in with the key you hold, or delete the key pair and \
             re-run to make a new one"
        ))
        .with_code("private-key-missing")
        .about(name),
    );
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::converge::Converge;
    use crate::desired::Role;
    use crate::fixtures::{actions, converged, dep, empty_account, ops, pem, public, step, want};

    /// The key pairs' part of the plan alone.
    fn keys(w: &Desired, o: &Observed) -> Converge {
        let mut c = Converge::default();
        for spec in &w.key_pairs {
            let k = plan_key_pair(&dep(), w, spec, o, &mut c.plan, &mut c.missing);
            c.key_pairs.push(k);
        }
        c
    }

    #[test]
    fn converged_key_pairs_name_their_private_key_files() {
        let c = keys(&want(1, true), &converged());
        assert!(c.key_pairs.iter().all(|k| k.holds_private_key));
        assert!(
            ops(&c, KIND_KEY_PAIR, "acme-analytics").is_empty() && ops(&c, KIND_KEY_PAIR, "acme-director").is_empty()
        );
        // EC2 without the public key: the fingerprint of the import decides.
        let mut o = converged();
        o.key_pairs[0].public_key = None;
        o.key_pairs[0].fingerprint = Some("1f:51:ae:28:bf:89:e9:d8:1f:25:5d:37:2d:7d:b8:ca".into());
        let c = keys(&want(1, true), &o);
        assert!(c.key_pairs[0].holds_private_key, "cannot tell: the file is taken to be the key pair's");
        assert!(c.plan.findings.is_empty(), "{:?}", c.plan.findings);
    }

    #[test]
    fn a_key_pair_of_ours_without_its_private_key_is_made_again() {
        let mut o = converged();
        o.private_key_files.clear();
        let c = keys(&want(1, true), &o);
        for k in &want(1, true).key_pairs {
            assert_eq!(
                ops(&c, KIND_KEY_PAIR, &k.name),
                [Op::DeleteKeyPair { name: k.name.clone() }, generate(&dep(), k)],
                "{}",
                k.name
            );
        }
        assert!(c.key_pairs.iter().all(|k| k.holds_private_key));
        assert_eq!(actions(&c)[..2], ["ec2-key-pair acme-analytics updated", "ec2-key-pair acme-director updated"]);
        assert_eq!(step(&c, KIND_KEY_PAIR, "acme-analytics").change().details, ["replaced: no private key"]);
        let warnings: Vec<&str> = c
            .plan
            .findings
            .iter()
            .filter(|f| f.severity == common::Severity::Warning)
            .map(|f| f.message.as_str())
            .collect();
        assert_eq!(warnings.len(), 2, "{warnings:?}");
        assert!(warnings[0].contains("acme-analytics.pem was never stored"), "{}", warnings[0]);
        assert!(warnings[0].contains("deleted and made again"), "{}", warnings[0]);
        assert!(c.missing.is_empty(), "{:?}", c.missing);
        // Made before mk-ec2 tagged where the private key is: the same.
        o.key_pairs[0].tags = role_tags(&dep(), Role::Analytics, None);
        let c = keys(&want(1, true), &o);
        assert!(matches!(ops(&c, KIND_KEY_PAIR, "acme-analytics"), [Op::DeleteKeyPair { .. }, Op::GenerateKey { .. }]));
    }

    #[test]
    fn a_key_pair_without_private_key_is_kept_when_in_use_imported_or_foreign() {
        // A host uses it: a new key pair would not reach the host.
        let mut o = converged();
        o.private_key_files.clear();
        o.hosts[0].key_name = Some("acme-analytics".into());
        let c = keys(&want(1, true), &o);
        let s = step(&c, KIND_KEY_PAIR, "acme-analytics");
        assert_eq!((s.ops.len(), s.change().action), (0, Action::Unchanged));
        assert!(!c.key_pairs[0].holds_private_key);
        let f = &c.plan.findings;
        assert!(f[0].message.contains("analytics-1 use it"), "{}", f[0].message);
        assert!(f[0].message.contains("never re-created silently"), "{}", f[0].message);
        assert!(matches!(ops(&c, KIND_KEY_PAIR, "acme-director"), [Op::DeleteKeyPair { .. }, _]), "no host uses it");
        // Imported from --public-key: the operator holds the private key.
        let mut o = converged();
        o.private_key_files.clear();
        o.key_pairs[0].tags = key_pair_tags(&dep(), Role::Analytics, KeySource::Operator);
        let c = keys(&want(1, true), &o);
        assert!(ops(&c, KIND_KEY_PAIR, "acme-analytics").is_empty());
        let f = &c.plan.findings;
        assert!(f[0].message.contains("the operator holds its private key"), "{}", f[0].message);
        // Not this client's: adopted untouched.
        let mut o = converged();
        o.private_key_files.clear();
        o.key_pairs[0].tags.clear();
        let c = keys(&want(1, true), &o);
        let s = step(&c, KIND_KEY_PAIR, "acme-analytics");
        assert_eq!(s.change().action, Action::Unchanged, "a foreign key pair is adopted untouched");
        assert!(s.ops.is_empty());
        let f = &c.plan.findings;
        assert!(f[0].message.contains("not created by mk-ec2"));
        assert!(f[1].message.contains("imported, or made elsewhere"), "{}", f[1].message);
    }

    #[test]
    fn a_private_key_file_of_another_key_is_kept_and_said() {
        let mut o = converged();
        o.private_key_files.insert("acme-analytics.pem".into(), PrivateKeyFile::PublicKey(public("other")));
        let c = keys(&want(1, true), &o);
        assert!(ops(&c, KIND_KEY_PAIR, "acme-analytics").is_empty());
        assert!(!c.key_pairs[0].holds_private_key, "the outputs do not name a file of another key");
        assert!(c.plan.findings[0].message.contains("holds another public key than its private key file"));
        o.private_key_files.insert("acme-analytics.pem".into(), PrivateKeyFile::Unreadable("not OpenSSH".into()));
        let c = keys(&want(1, true), &o);
        assert!(ops(&c, KIND_KEY_PAIR, "acme-analytics").is_empty());
        let f = &c.plan.findings;
        assert!(f[0].message.contains("cannot be read (not OpenSSH)"), "{}", f[0].message);
    }

    #[test]
    fn a_private_key_file_without_key_pair_is_imported_never_overwritten() {
        let mut o = empty_account();
        o.private_key_files = [pem("acme-analytics")].into();
        let c = keys(&want(1, true), &o);
        let analytics = &want(1, true).key_pairs[0];
        assert_eq!(
            ops(&c, KIND_KEY_PAIR, "acme-analytics"),
            [import(&dep(), analytics, &public("acme-analytics"), KeySource::SecretsDir)]
        );
        assert_eq!(step(&c, KIND_KEY_PAIR, "acme-analytics").change().action, Action::Create);
        assert!(c.key_pairs[0].holds_private_key);
        assert!(matches!(ops(&c, KIND_KEY_PAIR, "acme-director"), [Op::GenerateKey { .. }]));
        assert!(c.missing.is_empty(), "{:?}", c.missing);
        let f = &c.plan.findings;
        assert!(f[0].message.contains("its public key is imported"), "{}", f[0].message);
        // A file whose public key cannot be read stops the run.
        o.private_key_files.insert("acme-analytics.pem".into(), PrivateKeyFile::Unreadable("not OpenSSH".into()));
        let c = keys(&want(1, true), &o);
        assert_eq!(c.missing.len(), 1, "{:?}", c.missing);
        assert!(c.missing[0].contains("ssh-keygen -y -f acme-analytics.pem"), "{}", c.missing[0]);
        assert!(c.missing[0].contains("never written over"), "{}", c.missing[0]);
        // --public-key imports the operator's key and writes no file.
        let mut w = want(1, true);
        w.public_key = Some("ssh-ed25519 AAAA me".into());
        let c = keys(&w, &o);
        assert!(c.missing.is_empty(), "importing writes no file");
        assert!(!c.key_pairs[0].holds_private_key);
    }
}
