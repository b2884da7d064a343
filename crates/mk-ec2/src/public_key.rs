//! The operator's `--public-key` file: its one OpenSSH public key line, of
//! a type EC2's ImportKeyPair takes (RSA, ED25519), checked before any
//! call; and comparing key lines whatever their comments. Pure apart from
//! reading the file.

use std::path::Path;

use common::error::bad_input;

/// The key types EC2's ImportKeyPair takes: RSA and ED25519.
pub const IMPORTABLE_KEY_TYPES: [&str; 2] = ["ssh-rsa", "ssh-ed25519"];

/// OpenSSH public key types EC2 refuses (`InvalidKey.Format`), by name.
fn refused_key_type(kind: &str) -> Option<&'static str> {
    if kind.ends_with("-cert-v01@openssh.com") {
        Some("an OpenSSH certificate")
    } else if kind.starts_with("sk-") {
        Some("a security-key (FIDO) key")
    } else if kind.starts_with("ecdsa-sha2-") {
        Some("an ECDSA key")
    } else if kind == "ssh-dss" {
        Some("a DSA key")
    } else {
        None
    }
}

/// The first line of an OpenSSH public key file (`ssh-ed25519 AAAA... comment`),
/// as EC2's ImportKeyPair takes it: RSA or ED25519 only.
pub fn read_public_key(path: &Path) -> anyhow::Result<String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| bad_input(format!("cannot read --public-key {}: {e}", path.display())))?;
    let line = text.lines().map(str::trim).find(|l| !l.is_empty() && !l.starts_with('#')).unwrap_or("");
    let mut words = line.split_whitespace();
    let kind = words.next().unwrap_or("");
    let body = words.next().unwrap_or("");
    if line.contains("PRIVATE KEY") {
        return Err(bad_input(format!(
            "--public-key {} holds a private key: give the .pub file (the private key never leaves your machine)",
            path.display()
        )));
    }
    if let Some(what) = refused_key_type(kind) {
        return Err(bad_input(format!(
            "--public-key {} is {what} ({kind}): EC2 imports only RSA (ssh-rsa) and ED25519 (ssh-ed25519) keys; \
             make one with ssh-keygen -t ed25519",
            path.display()
        )));
    }
    if !IMPORTABLE_KEY_TYPES.contains(&kind) || body.len() < 16 {
        return Err(bad_input(format!(
            "--public-key {} is not an OpenSSH public key (expected a line such as \"ssh-ed25519 AAAA... you@host\")",
            path.display()
        )));
    }
    Ok(line.to_owned())
}

/// The key type and base64 body of a public key line, for comparing keys
/// whatever their comments.
pub fn public_key_body(line: &str) -> Option<(&str, &str)> {
    let mut w = line.split_whitespace();
    Some((w.next()?, w.next()?))
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    #[test]
    fn public_key_files() {
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, body: &str| {
            let p = dir.path().join(name);
            std::fs::File::create(&p).unwrap().write_all(body.as_bytes()).unwrap();
            p
        };
        let ok = write("ok.pub", "\n# mine\nssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIMbFcwT6 me@host\n");
        assert_eq!(read_public_key(&ok).unwrap(), "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIMbFcwT6 me@host");
        let private = write("id", "-----BEGIN OPENSSH PRIVATE KEY-----\nb3Bl\n-----END OPENSSH PRIVATE KEY-----\n");
        assert!(read_public_key(&private).unwrap_err().to_string().contains("private key"));
        let junk = write("junk.pub", "hello world\n");
        assert!(read_public_key(&junk).unwrap_err().to_string().contains("not an OpenSSH public key"));
        let rsa = write("rsa.pub", "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQC7 me@host\n");
        assert!(read_public_key(&rsa).is_ok());
        for (kind, what) in [
            ("ecdsa-sha2-nistp256", "an ECDSA key"),
            ("ecdsa-sha2-nistp521", "an ECDSA key"),
            ("ssh-dss", "a DSA key"),
            ("sk-ssh-ed25519@openssh.com", "a security-key (FIDO) key"),
            ("sk-ecdsa-sha2-nistp256@openssh.com", "a security-key (FIDO) key"),
            ("ssh-ed25519-cert-v01@openssh.com", "an OpenSSH certificate"),
        ] {
            let p = write("other.pub", &format!("{kind} AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAy me@host\n"));
            let e = read_public_key(&p).unwrap_err();
            assert_eq!(common::error::exit_status(&e), 2);
            let msg = e.to_string();
            assert!(msg.contains(what) && msg.contains(kind), "{msg}");
            assert!(msg.contains("only RSA (ssh-rsa) and ED25519 (ssh-ed25519)"), "{msg}");
        }
        assert_eq!(
            public_key_body("ssh-rsa AAAAB3 comment"),
            public_key_body("ssh-rsa AAAAB3 other"),
            "comments do not count"
        );
    }
}
