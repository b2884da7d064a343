//! The runbooks end to end: deploy.sh against the emulators builds every
//! resource and file; a second deploy.sh makes no mutating call; destroy.sh
//! leaves nothing of the deployment.

use std::path::Path;

mod support;

use analytics_tests::{Runbook, bin, mode, mysql_env, run};
use mysql_async::prelude::Queryable;
use serde_json::Value;

fn s(v: &Value) -> String {
    v.as_str().unwrap_or_else(|| panic!("not a string: {v}")).to_owned()
}

/// Every value in the secrets directory that must never be printed: key
/// secrets, passwords, private keys.
fn secret_values(secrets: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(secrets).unwrap() {
        let p = entry.unwrap().path();
        let name = p.file_name().unwrap().to_string_lossy().into_owned();
        let text = std::fs::read_to_string(&p).unwrap();
        if name.ends_with(".access-key.json") {
            let v: Value = serde_json::from_str(&text).unwrap();
            out.push(s(&v["secret_access_key"]));
        } else if name.ends_with("_creds") {
            let v: Value = serde_json::from_str(&text).unwrap();
            out.push(s(&v["password"]));
        } else if name.ends_with(".password") || name.ends_with(".master-password") {
            out.push(text.trim().to_owned());
        } else if name.ends_with(".pem") {
            // A line from the middle of the key body.
            let lines: Vec<&str> = text.lines().filter(|l| !l.starts_with("-----")).collect();
            out.push(lines[lines.len() / 2].to_owned());
        }
    }
    assert!(out.len() >= 8, "expected keys, passwords and private keys in {}: {out:?}", secrets.display());
    out
}

fn assert_no_secret_in(what: &str, text: &str, secrets: &[String]) {
    for secret in secrets {
        assert!(!text.contains(secret.as_str()), "a secret value appears in {what}");
    }
}

#[tokio::test]
async fn deploy_rerun_destroy() {
    let rb = Runbook::new("rb").await;
    let c = rb.client.clone();
    let (status, stdout, stderr) = rb.run("deploy.sh");
    assert_eq!(status, 0, "deploy.sh failed:\n{stderr}");
    let summary = rb.doc("deploy-summary");
    assert!(summary["api_calls"]["mutating"].as_u64().unwrap() > 40, "{summary}");
    // The slow creations were started with --no-wait, each naming what it
    // did not wait for, and each of those tools ran again to wait.
    let steps =
        |s: &Value| -> Vec<String> { s["steps"].as_array().unwrap().iter().map(|x| x["step"].to_string()).collect() };
    for (tool, kind) in [("mk-es", "opensearch-domain"), ("mk-rds", "rds-instance"), ("mk-ec2", "ec2-instance")] {
        let start = rb.doc(&format!("start/{tool}"));
        assert!(
            start["pending"].as_array().is_some_and(|p| p.iter().any(|p| p["kind"] == kind)),
            "{tool} --no-wait names what it did not wait for: {start}"
        );
        for step in [format!("\"start/{tool}\""), format!("\"{tool}\"")] {
            assert!(steps(&summary).contains(&step), "{step} did not run: {summary}");
        }
        assert_eq!(rb.doc(tool)["pending"], Value::Null, "{tool} waited for everything");
    }

    // Every tool ran and saved its document.
    for tool in ["mk-vpc", "mk-iam", "mk-buckets", "mk-sg", "mk-es", "mk-rds", "mk-ec2", "mk-rds-users", "mk-config"] {
        assert_eq!(rb.doc(tool)["error"], Value::Null, "{tool}");
    }
    let sdk = rb.account.sdk().await;
    let s3 = analytics_tests::s3_client(&sdk);
    let iam = aws_sdk_iam::Client::new(&sdk);
    let ec2 = aws_sdk_ec2::Client::new(&sdk);
    let rds = aws_sdk_rds::Client::new(&sdk);
    let es = aws_sdk_opensearch::Client::new(&sdk);

    // AWS resources.
    for b in ["tracking-logs", "analytics-emr", "edxanalytics", "analytics-api-reports"] {
        s3.head_bucket().bucket(format!("{c}-{b}")).send().await.unwrap_or_else(|e| panic!("{b}: {e}"));
    }
    let creds_obj =
        s3.head_object().bucket(format!("{c}-edxanalytics")).key("edxanalytics_creds").send().await.unwrap();
    assert_eq!(creds_obj.server_side_encryption().map(aws_sdk_s3::types::ServerSideEncryption::as_str), Some("AES256"));
    iam.get_user().user_name(format!("{c}-analytics-elasticsearch")).send().await.unwrap();
    let profile = iam.get_instance_profile().instance_profile_name(format!("{c}-edxanalytics")).send().await.unwrap();
    assert_eq!(profile.instance_profile().unwrap().roles()[0].role_name(), format!("{c}-edxanalytics"));
    let domain = es.describe_domain().domain_name(format!("{c}-analytics-es")).send().await.unwrap();
    let endpoint = format!("https://{}", domain.domain_status().unwrap().endpoint().unwrap());
    assert_eq!(rb.doc("mk-es")["outputs"]["endpoint"], endpoint.as_str());
    let db = rds.describe_db_instances().db_instance_identifier(format!("{c}-analytics")).send().await.unwrap();
    assert_eq!(db.db_instances()[0].engine(), Some("mysql"));
    let running = ec2
        .describe_instances()
        .filters(aws_sdk_ec2::types::Filter::builder().name("tag:analytics:client").values(&c).build())
        .filters(aws_sdk_ec2::types::Filter::builder().name("instance-state-name").values("running").build())
        .send()
        .await
        .unwrap();
    let instances: usize = running.reservations().iter().map(|r| r.instances().len()).sum();
    assert_eq!(instances, 2, "the analytics and director hosts");
    let groups = rb.doc("mk-sg")["outputs"]["security_groups"].clone();
    for key in ["analytics", "director", "emr_master", "emr_slave", "emr_rds"] {
        assert!(s(&groups[key]).starts_with("sg-"), "{key}");
    }

    // The secure files: 0600 in a 0700 directory, with the right content.
    assert_eq!(mode(&rb.secrets), 0o700);
    for f in std::fs::read_dir(&rb.secrets).unwrap() {
        let p = f.unwrap().path();
        assert_eq!(mode(&p), 0o600, "{}", p.display());
    }
    let (host, port, _, _) = mysql_env();
    let vars: Value =
        serde_saphyr::from_str(&std::fs::read_to_string(rb.secrets.join("vars-analytics.yml")).unwrap()).unwrap();
    assert_eq!(vars["ANALYTICS_MYSQL_HOST"], host.as_str());
    assert_eq!(vars["ANALYTICS_API_ELASTICSEARCH_LEARNERS_HOST"], endpoint.as_str());
    assert_eq!(vars["INSIGHTS_NGINX_PORT"], 80);
    assert!(vars["ANALYTICS_API_REPORT_DOWNLOAD_BACKEND"]["AWS_STORAGE_BUCKET_NAME"].is_string());
    let cfg = std::fs::read_to_string(rb.secrets.join("analytics-override.cfg")).unwrap();
    assert!(cfg.contains(&format!("host={endpoint}")) || cfg.contains(&format!("host = {endpoint}")), "{cfg}");
    let creds: Value =
        serde_json::from_str(&std::fs::read_to_string(rb.secrets.join("edxanalytics_creds")).unwrap()).unwrap();
    assert_eq!(creds["port"], port.as_str(), "the port is a string");
    let ro: Value = serde_json::from_str(&std::fs::read_to_string(rb.secrets.join("edxapp_creds")).unwrap()).unwrap();
    assert_eq!(ro["username"], "edxapp_ro");

    // The analytics user logs in with the written password and sees its databases.
    let url = |user: &str, password: &str| {
        mysql_async::OptsBuilder::default()
            .ip_or_hostname(host.clone())
            .tcp_port(port.parse().unwrap())
            .user(Some(user))
            .pass(Some(password))
    };
    let mut conn = mysql_async::Conn::new(url("analytics", &s(&creds["password"]))).await.unwrap();
    let dbs: Vec<String> = conn.query("SHOW DATABASES").await.unwrap();
    for want in ["dashboard", "analytics-api", "reports"] {
        assert!(dbs.iter().any(|d| d == want), "{want} in {dbs:?}");
    }
    conn.disconnect().await.unwrap();
    let mut conn = mysql_async::Conn::new(url(&rb.migration_user, &rb.migration_password())).await.unwrap();
    conn.query_drop("CREATE TABLE `reports`.`t_migrated` (id INT)").await.unwrap();
    conn.disconnect().await.unwrap();

    // The emr-vars.yml mk-config wrote is accepted by emr-launch.
    let emr = run(rb.account.command(bin("emr-launch")).env("CLUSTER_NAME", format!("{c}-nightly")).args([
        "--vars",
        rb.secrets.join("emr-vars.yml").to_str().unwrap(),
        "--dry-run",
    ]));
    assert_eq!(emr.status, 0, "emr-launch rejected emr-vars.yml:\n{}", emr.stderr);
    assert_eq!(emr.json["outputs"]["request"]["Name"], format!("{c}-nightly"));

    // No secret value in any output or state file.
    let secrets = secret_values(&rb.secrets);
    assert_no_secret_in("deploy.sh's stdout", &stdout, &secrets);
    assert_no_secret_in("deploy.sh's stderr", &stderr, &secrets);
    for f in std::fs::read_dir(&rb.state).unwrap() {
        let p = f.unwrap().path();
        if p.is_file() {
            assert_no_secret_in(&p.display().to_string(), &std::fs::read_to_string(&p).unwrap(), &secrets);
        }
    }

    // A re-run of a finished deployment makes no mutating call.
    let (status, _, stderr) = rb.run("deploy.sh");
    assert_eq!(status, 0, "second deploy.sh failed:\n{stderr}");
    let again = rb.doc("deploy-summary");
    assert_eq!(again["api_calls"]["mutating"], 0, "{again}");
    assert_eq!(again["changed"], 0, "{again}");
    // Nothing was pending: no tool ran a second time to wait.
    for tool in ["mk-es", "mk-rds", "mk-ec2"] {
        assert!(steps(&again).contains(&format!("\"start/{tool}\"")), "{again}");
        assert!(!steps(&again).contains(&format!("\"{tool}\"")), "{tool} ran again to wait for nothing: {again}");
    }

    // destroy.sh leaves nothing of the deployment.
    let (status, _, stderr) = rb.run("destroy.sh");
    assert_eq!(status, 0, "destroy.sh failed:\n{stderr}");
    support::assert_nothing_left(&rb).await;
}

/// The README's settings table is what scripts/settings.sh says, and every
/// setting the runbooks read is in it (none read past settings.sh).
#[test]
fn readme_settings_table_is_settings_sh() {
    let root = analytics_tests::repo_root();
    let out = std::process::Command::new("bash")
        .arg(root.join("scripts/settings.sh"))
        .arg("--table")
        .output()
        .expect("bash scripts/settings.sh --table");
    assert!(out.status.success());
    let table = String::from_utf8(out.stdout).unwrap();
    assert!(table.lines().count() > 10, "{table}");
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    assert!(
        readme.contains(&table),
        "README's settings table differs from `bash scripts/settings.sh --table`:\n{table}"
    );
    let setting =
        |w: &&str| (w.starts_with("ANALYTICS_") || w.starts_with("EDXAPP_") || *w == "MYSQL_PWD") && w.len() > 8;
    let words = |script: &str| {
        let text = std::fs::read_to_string(root.join("scripts").join(script)).unwrap();
        text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .filter(setting)
            .map(str::to_owned)
            .collect::<Vec<_>>()
    };
    // The runbooks read no setting themselves: settings.sh derives what they use.
    for script in ["deploy.sh", "destroy.sh"] {
        assert_eq!(words(script), Vec::<String>::new(), "{script} reads settings past settings.sh");
    }
    for word in words("settings.sh") {
        assert!(table.contains(&format!("`{word}`")), "settings.sh reads {word}, which its table does not list");
    }
}

/// A missing or inconsistent runbook setting is bad input: one line naming
/// it, exit 2, and no tool started (no state written, nothing sent).
#[test]
fn runbook_setting_mistakes_are_bad_input() {
    /// (script, settings, the name the error line must give)
    type Case = (&'static str, &'static [(&'static str, &'static str)], &'static str);
    let root = analytics_tests::repo_root();
    let cases: &[Case] = &[
        ("deploy.sh", &[], "ANALYTICS_CLIENT"),
        ("destroy.sh", &[], "ANALYTICS_CLIENT"),
        ("deploy.sh", &[("ANALYTICS_CLIENT", "acme"), ("ANALYTICS_REPORTS", "yes")], "ANALYTICS_REPORTS"),
        ("destroy.sh", &[("ANALYTICS_CLIENT", "acme"), ("ANALYTICS_FORCE", "true")], "ANALYTICS_FORCE"),
        ("deploy.sh", &[("ANALYTICS_CLIENT", "acme"), ("EDXAPP_GRADES_BUCKET", "acme-edxapp")], "EDXAPP_USER_ARN"),
        (
            "deploy.sh",
            &[("ANALYTICS_CLIENT", "acme"), ("EDXAPP_DB_HOST", "db.internal")],
            "EDXAPP_DB_ADMIN_PASSWORD_FILE",
        ),
        ("deploy.sh", &[("ANALYTICS_CLIENT", "acme"), ("ANALYTICS_DB_HOST", "127.0.0.1")], "MYSQL_PWD"),
        (
            "deploy.sh",
            &[("ANALYTICS_CLIENT", "acme"), ("EDXAPP_MIGRATION_USER", "migrate")],
            "EDXAPP_MIGRATION_PASSWORD_FILE",
        ),
        ("deploy.sh", &[("ANALYTICS_CLIENT", "acme"), ("ANALYTICS_DB_VIA", "-oProxyCommand=x")], "ANALYTICS_DB_VIA"),
    ];
    for (script, env, needle) in cases {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("state");
        let out = std::process::Command::new("bash")
            .arg(root.join("scripts").join(script))
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("ANALYTICS_STATE_DIR", &state)
            .env("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
            .envs(env.iter().copied())
            .current_dir(dir.path())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{script} {env:?}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{script} {env:?}: one line: {stderr}");
        assert!(stderr.contains(needle) && stderr.starts_with(script), "{script} {env:?}: {stderr}");
        assert!(!state.exists(), "{script} {env:?} started work: {}", state.display());
    }
}

/// deploy.sh reaches both databases the way it does on AWS: through an SSH
/// tunnel via a host (here the emulator set's sshd standing in for the
/// director), every statement through it, the host key pinned in the
/// secrets directory; a re-run changes nothing.
#[tokio::test]
async fn deploy_reaches_the_databases_through_the_tunnel() {
    let rb = Runbook::new("tun").await;
    let ssh = analytics_tests::ssh_env();
    let (_, mysql_port, _, _) = mysql_env();
    let forwarded = || {
        let log = std::fs::read_to_string(&ssh.log).unwrap_or_default();
        let target = format!("target 127.0.0.1 port {mysql_port}");
        log.lines().filter(|l| l.contains("server_request_direct_tcpip: originator") && l.ends_with(&target)).count()
    };
    let through_tunnel = |script: &str| {
        let mut cmd = rb.command(script);
        cmd.env("ANALYTICS_DB_VIA", &ssh.host)
            .env("EDXAPP_DB_VIA", &ssh.host)
            .env("ANALYTICS_DB_VIA_PORT", ssh.port.to_string())
            .env("ANALYTICS_DB_VIA_USER", &ssh.user)
            .env("ANALYTICS_DB_VIA_KEY", &ssh.key);
        let out = cmd.output().expect("running bash");
        (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stderr).into_owned())
    };
    let before = forwarded();
    let (status, stderr) = through_tunnel("deploy.sh");
    assert_eq!(status, 0, "deploy.sh through the tunnel failed:\n{stderr}");
    assert!(forwarded() >= before + 2, "both mk-rds-users runs went through the tunnel");
    for doc in ["mk-rds-users", "mk-rds-users.edxapp-readonly"] {
        let via = &rb.doc(doc)["outputs"]["server"]["via"];
        assert_eq!(via["host"], ssh.host.as_str(), "{doc}: {via}");
    }
    let pinned = std::fs::read_to_string(rb.secrets.join("known_hosts")).expect("the host key is pinned");
    assert!(pinned.contains(ssh.host_key_pub.trim()), "{pinned}");
    let (status, stderr) = through_tunnel("deploy.sh");
    assert_eq!(status, 0, "second deploy.sh failed:\n{stderr}");
    assert_eq!(rb.doc("deploy-summary")["api_calls"]["mutating"], 0);
    let (status, _, stderr) = rb.run("destroy.sh");
    assert_eq!(status, 0, "destroy.sh failed:\n{stderr}");
}
