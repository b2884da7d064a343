//! The `outputs` of the report: what later steps and the operator need.
//! Pure, apart from looking whether a private key file is there.

use std::path::PathBuf;

use common::SecretsDir;
use serde_json::{Map, Value, json};

use crate::converge::Converge;
use crate::desired::Role;
use crate::ledger::Ledger;
use crate::observed::{Address, Host, Network, Observed};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyPairOut {
    pub role: Role,
    pub name: String,
    pub id: Option<String>,
    pub fingerprint: Option<String>,
    /// Set when the private key is in the secrets directory.
    pub private_key_file: Option<PathBuf>,
}

/// What exists once the run is over (or, under dry-run, before it).
#[derive(Debug, Clone, Default)]
pub struct Built {
    pub hosts: Vec<Host>,
    pub key_pairs: Vec<KeyPairOut>,
    pub address: Option<Address>,
    pub image_id: Option<String>,
    pub network: Option<Network>,
}

/// The key pairs as the ledger has them (under dry-run, as they exist),
/// each with its private key file when the secrets directory holds it.
pub fn key_pairs(c: &Converge, ledger: &Ledger, secrets: &SecretsDir) -> Vec<KeyPairOut> {
    c.key_pairs
        .iter()
        .map(|k| {
            let file = secrets.file(&k.spec.file_name());
            let ids = ledger.key_pair(k.spec.role);
            KeyPairOut {
                role: k.spec.role,
                name: k.spec.name.clone(),
                id: ids.id,
                fingerprint: ids.fingerprint,
                private_key_file: (k.holds_private_key && file.is_file()).then_some(file),
            }
        })
        .collect()
}

impl Built {
    /// What the run made and found, as the ledger has it.
    pub fn made(o: &Observed, ledger: &Ledger, key_pairs: Vec<KeyPairOut>) -> Built {
        Built {
            hosts: ledger.hosts(),
            key_pairs,
            address: ledger.address(),
            image_id: o.image.as_ref().map(|i| i.id.clone()),
            network: o.network.clone(),
        }
    }

    /// The dry-run view: what already exists.
    pub fn observed(o: &Observed, key_pairs: Vec<KeyPairOut>) -> Built {
        let mut hosts = o.hosts.clone();
        hosts.sort_by_key(|h| (h.role, h.index().unwrap_or(u32::MAX), h.id.clone()));
        Built {
            hosts,
            key_pairs,
            address: o.addresses.first().cloned(),
            image_id: o.image.as_ref().map(|i| i.id.clone()),
            network: o.network.clone(),
        }
    }
}

fn host_json(h: &Host) -> Value {
    json!({
        "id": h.id,
        "name": h.name,
        "state": h.state,
        "instance_type": h.instance_type,
        "private_ip": h.private_ip,
        "public_ip": h.public_ip,
        "private_dns": h.private_dns,
        "public_dns": h.public_dns,
        "subnet_id": h.subnet_id,
        "instance_profile_arn": h.profile_arn,
    })
}

/// A word as a POSIX shell reads it: as it is when it holds nothing the
/// shell would take apart, else in single quotes.
fn sh(word: &str) -> String {
    let safe = |c: char| c.is_ascii_alphanumeric() || "-_./:@%+=,".contains(c);
    if !word.is_empty() && word.chars().all(safe) {
        word.to_owned()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

/// `-i FILE ` when the secrets directory holds the key pair's private key.
fn identity(key: Option<&KeyPairOut>) -> String {
    key.and_then(|k| k.private_key_file.as_ref())
        .map(|p| format!("-i {} ", sh(&p.display().to_string())))
        .unwrap_or_default()
}

fn ssh(key: Option<&KeyPairOut>, host: &str, extra: &str) -> String {
    format!("ssh {}{extra}ubuntu@{host}", identity(key))
}

/// How an SSH to the analytics host gets there: through the director
/// (the analytics group takes SSH from the director group only), or,
/// with no director, straight to its public address.
enum Route<'a> {
    Direct {
        public: String,
    },
    /// `director` is the director's public address, `private` the
    /// analytics host's private one.
    Jump {
        director: &'a str,
        director_key: Option<&'a KeyPairOut>,
        private: &'a str,
    },
}

impl Route<'_> {
    /// The `ssh` command, with `extra` options before the destination.
    /// `ssh -J` hands the jump host none of the command line's `-i`
    /// (OpenSSH builds its jump `ssh -W` from `-l`, `-p`, `-F`, `-v`
    /// only), so with the director's own key file the jump is spelled as
    /// the ProxyCommand `-J` stands for, with that key.
    fn command(&self, key: Option<&KeyPairOut>, extra: &str) -> String {
        match self {
            Route::Direct { public } => ssh(key, public, extra),
            Route::Jump { director, director_key, private } => {
                let via = match director_key.filter(|k| k.private_key_file.is_some()) {
                    Some(k) => {
                        let proxy = format!("ProxyCommand=ssh {}-W %h:%p ubuntu@{director}", identity(Some(k)));
                        format!("-o {} ", sh(&proxy))
                    }
                    None => format!("-J ubuntu@{director} "),
                };
                ssh(key, private, &format!("{via}{extra}"))
            }
        }
    }
}

/// The document's `outputs`: `instances`, `elastic_ip`, `key_pairs`,
/// `ami_id`, `vpc_id`, `subnet_id` and `ssh` hints.
pub fn outputs(b: &Built) -> Map<String, Value> {
    let mut m = Map::new();
    let analytics: Vec<&Host> = b.hosts.iter().filter(|h| h.role == Role::Analytics).collect();
    let director = b.hosts.iter().find(|h| h.role == Role::Director);
    m.insert(
        "instances".into(),
        json!({
            "analytics": analytics.iter().map(|h| host_json(h)).collect::<Vec<_>>(),
            "director": director.map(host_json),
        }),
    );
    m.insert(
        "elastic_ip".into(),
        b.address
            .as_ref()
            .map(|a| json!({"allocation_id": a.allocation_id, "public_ip": a.public_ip, "instance_id": a.instance_id}))
            .unwrap_or(Value::Null),
    );
    let mut keys = Map::new();
    for k in &b.key_pairs {
        keys.insert(
            k.role.tag().into(),
            json!({
                "name": k.name,
                "id": k.id,
                "fingerprint": k.fingerprint,
                "private_key_file": k.private_key_file.as_ref().map(|p| p.display().to_string()),
            }),
        );
    }
    m.insert("key_pairs".into(), Value::Object(keys));
    m.insert("ami_id".into(), b.image_id.clone().into());
    m.insert("vpc_id".into(), b.network.as_ref().map(|n| n.vpc_id.clone()).into());
    m.insert("subnet_id".into(), b.network.as_ref().map(|n| n.subnet_id.clone()).into());

    m.insert("ssh".into(), Value::Object(ssh_hints(b, analytics.first().copied(), director)));
    m
}

/// `outputs.ssh`: the commands to the analytics host (and its Jenkins
/// tunnel), through the director when there is one, and to the director.
fn ssh_hints(b: &Built, analytics: Option<&Host>, director: Option<&Host>) -> Map<String, Value> {
    let key = |role: Role| b.key_pairs.iter().find(|k| k.role == role);
    let director_ip = director.and_then(|h| h.public_ip.as_deref());
    let route = match (director_ip, analytics.and_then(|h| h.private_ip.as_deref())) {
        (Some(director), Some(private)) => Some(Route::Jump { director, director_key: key(Role::Director), private }),
        _ => b
            .address
            .as_ref()
            .filter(|a| a.instance_id.is_some() && a.instance_id.as_deref() == analytics.map(|h| h.id.as_str()))
            .map(|a| a.public_ip.clone())
            .or_else(|| analytics.and_then(|h| h.public_ip.clone()))
            .map(|public| Route::Direct { public }),
    };
    let mut hints = Map::new();
    if let Some(route) = &route {
        hints.insert("analytics".into(), route.command(key(Role::Analytics), "").into());
        // Jenkins has no authentication: reach it through SSH, never the world.
        let tunnel = route.command(key(Role::Analytics), "-N -L 8080:localhost:8080 ");
        hints.insert("jenkins_tunnel".into(), format!("{tunnel}  # then browse http://localhost:8080").into());
    }
    if let Some(ip) = director_ip {
        hints.insert("director".into(), ssh(key(Role::Director), ip, "").into());
    }
    hints
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host(role: Role, id: &str, public_ip: Option<&str>) -> Host {
        Host {
            id: id.into(),
            role,
            name: Some(format!("{}-1", role.tag())),
            state: "running".into(),
            instance_type: "t2.medium".into(),
            profile_arn: None,
            http_tokens: Some("required".into()),
            group_ids: vec![],
            key_name: None,
            private_ip: Some("172.31.0.4".into()),
            public_ip: public_ip.map(str::to_owned),
            private_dns: None,
            public_dns: None,
            subnet_id: Some("subnet-1".into()),
            tags: vec![],
        }
    }

    #[test]
    fn outputs_name_files_and_addresses() {
        let b = Built {
            hosts: vec![host(Role::Analytics, "i-a", Some("54.0.0.1")), host(Role::Director, "i-d", Some("54.0.0.2"))],
            key_pairs: vec![
                KeyPairOut {
                    role: Role::Analytics,
                    name: "acme-analytics".into(),
                    id: Some("key-1".into()),
                    fingerprint: None,
                    private_key_file: Some("secrets/acme/acme-analytics.pem".into()),
                },
                KeyPairOut {
                    role: Role::Director,
                    name: "acme-director".into(),
                    id: Some("key-2".into()),
                    fingerprint: None,
                    private_key_file: None,
                },
            ],
            address: Some(Address {
                allocation_id: "eipalloc-1".into(),
                public_ip: "203.0.113.7".into(),
                association_id: Some("eipassoc-1".into()),
                instance_id: Some("i-a".into()),
                tags: vec![],
            }),
            image_id: Some("ami-1".into()),
            network: Some(Network { vpc_id: "vpc-1".into(), subnet_id: "subnet-1".into() }),
        };
        let o = Value::Object(outputs(&b));
        assert_eq!(o["instances"]["analytics"][0]["id"], "i-a");
        assert_eq!(o["instances"]["analytics"][0]["private_ip"], "172.31.0.4");
        assert_eq!(o["instances"]["director"]["id"], "i-d");
        assert_eq!(o["elastic_ip"]["public_ip"], "203.0.113.7");
        assert_eq!(o["key_pairs"]["analytics"]["private_key_file"], "secrets/acme/acme-analytics.pem");
        assert_eq!(o["key_pairs"]["director"]["private_key_file"], Value::Null);
        assert_eq!(o["ami_id"], "ami-1");
        assert_eq!(o["vpc_id"], "vpc-1");
        // Through the director, whose key the operator holds (no file): -J.
        assert_eq!(
            o["ssh"]["analytics"],
            "ssh -i secrets/acme/acme-analytics.pem -J ubuntu@54.0.0.2 ubuntu@172.31.0.4"
        );
        assert!(o["ssh"]["jenkins_tunnel"].as_str().unwrap().starts_with(
            "ssh -i secrets/acme/acme-analytics.pem -J ubuntu@54.0.0.2 -N -L 8080:localhost:8080 ubuntu@172.31.0.4"
        ));
        assert_eq!(o["ssh"]["director"], "ssh ubuntu@54.0.0.2");

        // With the director's key file too: the jump uses it (ssh -J would not).
        let mut b = b;
        b.key_pairs[1].private_key_file = Some("secrets/my acme/acme-director.pem".into());
        let o = Value::Object(outputs(&b));
        assert_eq!(
            o["ssh"]["analytics"],
            "ssh -i secrets/acme/acme-analytics.pem -o 'ProxyCommand=ssh -i '\\''secrets/my acme/acme-director.pem'\\'' \
             -W %h:%p ubuntu@54.0.0.2' ubuntu@172.31.0.4"
        );
        assert_eq!(o["ssh"]["director"], "ssh -i 'secrets/my acme/acme-director.pem' ubuntu@54.0.0.2");

        // No director: straight to the Elastic IP.
        b.hosts.truncate(1);
        let o = Value::Object(outputs(&b));
        assert_eq!(o["ssh"]["analytics"], "ssh -i secrets/acme/acme-analytics.pem ubuntu@203.0.113.7");
        assert!(o["ssh"].get("director").is_none());
    }

    #[test]
    fn shell_words() {
        assert_eq!(sh("ubuntu@10.0.0.1"), "ubuntu@10.0.0.1");
        assert_eq!(sh("a b"), "'a b'");
        assert_eq!(sh("it's"), r"'it'\''s'");
        assert_eq!(sh(""), "''");
    }

    #[test]
    fn nothing_yet() {
        let o = Value::Object(outputs(&Built::default()));
        assert_eq!(o["instances"]["analytics"], json!([]));
        assert_eq!(o["instances"]["director"], Value::Null);
        assert_eq!(o["elastic_ip"], Value::Null);
        assert_eq!(o["ssh"], json!({}));
    }
}
