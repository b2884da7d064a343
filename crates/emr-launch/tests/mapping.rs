//! The file-to-request mapping, without any server: each
//! `fixtures/NAME.yml` must give the request in `fixtures/NAME.json`, and
//! each `fixtures/errors/NAME.yml` must be refused (exit 2) with the message
//! its first line gives (`# error: ...`).
//!
//! Fixtures are rendered with a fixed environment (below), the client
//! `acme`, and AWS_KEYPAIR_NAME=env-keypair. After a deliberate change of
//! the mapping, `EMR_LAUNCH_BLESS=1 cargo test -p emr-launch --test mapping`
//! rewrites the JSON files; review their diff.

use std::path::{Path, PathBuf};

use emr_launch::request::{self, Context, Desired};
use emr_launch::template::{EnvLookup, fixed_env};
use emr_launch::vars::{self, EmrVars, Text};
use emr_launch::yaml;
use serde_json::Value;

fn env() -> EnvLookup {
    fixed_env([("CORE_NUM", "4"), ("JOB_DATE", "2026-03-01"), ("WORD", "many"), ("LEFTOVER", "{{ oops }}")])
}

fn fixtures(dir: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(dir);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yml"))
        .collect();
    files.sort();
    files
}

/// The same steps as a run, minus AWS: parse, render and type, build.
fn desired(path: &Path) -> anyhow::Result<(Desired, Vec<String>)> {
    let text = std::fs::read_to_string(path).unwrap();
    let name = path.file_name().unwrap().to_string_lossy().into_owned();
    let raw = yaml::parse(&text, &name)?;
    let (vars, unknown) = vars::load::<EmrVars>(&raw, env(), true)?;
    let ctx = Context {
        region: Text::present(&vars.region).unwrap_or("us-east-1").to_owned(),
        env_keypair: Some("env-keypair".into()),
        tags: vec![("analytics:managed-by".into(), "emr-launch".into()), ("analytics:client".into(), "acme".into())],
    };
    Ok((request::build(&vars, &ctx)?, unknown))
}

#[test]
fn every_fixture_maps_to_its_request() {
    let bless = std::env::var_os("EMR_LAUNCH_BLESS").is_some();
    let cases = fixtures("");
    assert!(cases.len() >= 5, "fixtures found: {cases:?}");
    for yml in cases {
        let (d, _) = desired(&yml).unwrap_or_else(|e| panic!("{}: {e:#}", yml.display()));
        let got = serde_json::to_value(&d.request).unwrap();
        let json = yml.with_extension("json");
        if bless {
            std::fs::write(&json, serde_json::to_string_pretty(&got).unwrap() + "\n").unwrap();
            continue;
        }
        let want: Value = serde_json::from_str(
            &std::fs::read_to_string(&json)
                .unwrap_or_else(|e| panic!("{}: {e} (EMR_LAUNCH_BLESS=1 writes it)", json.display())),
        )
        .unwrap();
        assert_eq!(
            got,
            want,
            "{} differs from {}:\n{}",
            yml.display(),
            json.display(),
            serde_json::to_string_pretty(&got).unwrap()
        );
    }
}

#[test]
fn every_error_fixture_is_bad_input_with_its_message() {
    let cases = fixtures("errors");
    assert!(cases.len() >= 20);
    for yml in cases {
        let text = std::fs::read_to_string(&yml).unwrap();
        let want = text
            .lines()
            .next()
            .and_then(|l| l.strip_prefix("# error: "))
            .unwrap_or_else(|| panic!("{}: the first line must be `# error: <message>`", yml.display()));
        let Err(err) = desired(&yml) else { panic!("{}: accepted, expected {want:?}", yml.display()) };
        assert_eq!(common::error::exit_status(&err), 2, "{}: {err:#}", yml.display());
        let line = format!("{err:#}");
        assert!(!line.contains('\n'), "{}: one line: {line}", yml.display());
        assert!(line.contains(want), "{}:\n  got:  {line}\n  want: {want}", yml.display());
    }
}

fn findings(d: &Desired) -> Vec<String> {
    d.findings.iter().map(|f| f.message.clone()).collect()
}

#[test]
fn notes_on_the_full_file() {
    let (d, unknown) = desired(&Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/full.yml")).unwrap();
    // Variables for other playbooks are warnings, and are not rendered
    // (ONLY_IN_JENKINS is unset here); user_info and ec2_attributes are
    // silently accepted.
    assert_eq!(unknown, ["unknown key `jenkins_only_variable` ignored"]);
    let notes = findings(&d).join("\n");
    assert!(notes.contains("ami_version ignored"), "{notes}");
    assert!(notes.contains("hadoop_version ignored"), "{notes}");
    assert!(notes.contains("steps[3]: type hive_install works only on legacy AMI clusters"), "{notes}");
}

#[test]
fn notes_on_legacy_and_fleet_files() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let (d, _) = desired(&dir.join("legacy.yml")).unwrap();
    let notes = findings(&d).join("\n");
    assert!(notes.contains("instance_groups not set"), "{notes}");
    assert!(notes.contains("legacy EMR AMIs are deprecated"), "{notes}");
    assert!(notes.contains("configurations ignored"), "{notes}");
    let (d, _) = desired(&dir.join("fleets.yml")).unwrap();
    assert!(findings(&d).join("\n").contains("instance_groups ignored: instance_fleets is set"));
    let (d, _) = desired(&dir.join("zone.yml")).unwrap();
    assert!(findings(&d).join("\n").contains("tag ansible:emr:name from the file replaced"));
}
