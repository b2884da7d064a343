//! Key pairs made here, not by EC2: an ed25519 key from the OS's random
//! source, its private key written to the secrets directory first, its
//! public key imported after (ImportKeyPair). CreateKeyPair would return
//! the private key once, in its answer: a run killed or cut off before
//! storing it left a key pair nobody could use. Made this way, a stop at
//! any point leaves either nothing, or a private key file a re-run imports,
//! or the key pair and its file.
//!
//! Also reads the public key back out of such a file, and tells whether a
//! key pair EC2 describes holds a given public key. The private key file is
//! written through `common::secrets` (0600, atomically, in the 0700
//! directory); no EC2 call is made here.

use ssh_key::rand_core::OsRng;
use ssh_key::{Algorithm, HashAlg, LineEnding, PrivateKey, PublicKey};

use common::SecretsDir;

/// A private key file found in the secrets directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PrivateKeyFile {
    /// Its public key line.
    PublicKey(String),
    /// Why its public key cannot be read.
    Unreadable(String),
}

/// Generates an ed25519 key, writes its private key (OpenSSH format, 0600,
/// atomically) as `file` in the secrets directory, and returns the public
/// key line (commented with `comment`) to import. Never writes over an
/// existing file: it may hold the only copy of a key some host accepts.
pub fn write_new_key(secrets: &SecretsDir, file: &str, comment: &str) -> anyhow::Result<String> {
    let path = secrets.file(file);
    if path.exists() {
        anyhow::bail!("{} appeared while the key pair was being made: it is never written over", path.display());
    }
    let mut key = PrivateKey::random(&mut OsRng, Algorithm::Ed25519)
        .map_err(|e| anyhow::anyhow!("generating an ed25519 key: {e}"))?;
    key.set_comment(comment);
    // Zeroized when dropped, as the key itself is.
    let private = key.to_openssh(LineEnding::LF).map_err(|e| anyhow::anyhow!("encoding the private key: {e}"))?;
    secrets.write(file, private.as_bytes())?;
    key.public_key().to_openssh().map_err(|e| anyhow::anyhow!("encoding the public key: {e}"))
}

/// What a private key file in the secrets directory tells: its public key
/// line, or why it cannot be read. An encrypted OpenSSH key still tells its
/// public key (it is stored in clear).
pub fn private_key_file(text: &str) -> PrivateKeyFile {
    if !text.contains("BEGIN OPENSSH PRIVATE KEY") {
        return PrivateKeyFile::Unreadable("not an OpenSSH private key".to_owned());
    }
    match PrivateKey::from_openssh(text) {
        Ok(key) => match key.public_key().to_openssh() {
            Ok(line) => PrivateKeyFile::PublicKey(line),
            Err(e) => PrivateKeyFile::Unreadable(format!("its public key cannot be encoded: {e}")),
        },
        Err(e) => PrivateKeyFile::Unreadable(format!("not a readable OpenSSH private key: {e}")),
    }
}

/// The `KeyFingerprint` EC2 gives a key pair imported from this ed25519
/// public key: the base64 SHA-256 digest of the key, as OpenSSH prints it,
/// with base64's padding. `None` for other key types, whose fingerprint EC2
/// computes otherwise (MD5 for imported RSA keys).
pub fn aws_import_fingerprint(public_key: &str) -> Option<String> {
    let key = PublicKey::from_openssh(public_key).ok()?;
    if key.algorithm() != Algorithm::Ed25519 {
        return None;
    }
    let shown = key.fingerprint(HashAlg::Sha256).to_string();
    let mut b64 = shown.strip_prefix("SHA256:")?.to_owned();
    while b64.len() % 4 != 0 {
        b64.push('=');
    }
    Some(b64)
}

/// Whether a key pair that EC2 describes with `public_key` (asked with
/// IncludePublicKey) and `fingerprint` holds the public key `ours`: by the
/// public key itself when EC2 returned it (comments aside), else by the
/// fingerprint of an imported ed25519 key. `None` when neither tells.
pub fn same_key(public_key: Option<&str>, fingerprint: Option<&str>, ours: &str) -> Option<bool> {
    use crate::desired::public_key_body;
    if let Some(have) = public_key.filter(|k| public_key_body(k).is_some()) {
        return Some(public_key_body(have) == public_key_body(ours));
    }
    let want = aws_import_fingerprint(ours)?;
    let have = fingerprint?.trim();
    let unpadded = |s: &str| s.trim_end_matches('=').to_owned();
    // A colon-separated hex digest is of another kind (MD5, or SHA-1 of
    // the private key for a key pair EC2 made): it says nothing here.
    if have.contains(':') {
        return None;
    }
    Some(unpadded(have) == unpadded(&want))
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    /// `ssh-keygen -l -E sha256` prints its fingerprint as
    /// `SHA256:Uj4ypaJfPUN71WH+IFqBzH47I130vItpftTbd1mfX6A`.
    const PUBLIC: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJen70KeFTRXMmmoaB7z1lgqR647SFrNRYQ9AFbv/90R ops@example";

    #[test]
    fn a_new_key_is_written_before_anything_else_and_never_over_a_file() {
        let dir = tempfile::tempdir().unwrap();
        let secrets = SecretsDir::new(dir.path().join("s"));
        let public = write_new_key(&secrets, "acme-analytics.pem", "acme-analytics").unwrap();
        assert!(public.starts_with("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5"), "{public}");
        assert!(public.ends_with(" acme-analytics"), "{public}");
        let path = secrets.file("acme-analytics.pem");
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.starts_with("-----BEGIN OPENSSH PRIVATE KEY-----\n"), "{text}");
        assert!(text.ends_with("-----END OPENSSH PRIVATE KEY-----\n"));
        assert_eq!(private_key_file(&text), PrivateKeyFile::PublicKey(public.clone()), "the file tells its public key");

        let again = write_new_key(&secrets, "acme-analytics.pem", "acme-analytics").unwrap_err();
        assert!(again.to_string().contains("never written over"), "{again}");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), text, "the file is untouched");

        let other = write_new_key(&secrets, "acme-director.pem", "acme-director").unwrap();
        assert_ne!(public_key_body_of(&other), public_key_body_of(&public), "every key is new");
    }

    fn public_key_body_of(line: &str) -> &str {
        line.split_whitespace().nth(1).unwrap()
    }

    #[test]
    fn unreadable_private_key_files() {
        for text in ["", "hello", "-----BEGIN RSA PRIVATE KEY-----\nMIIE\n-----END RSA PRIVATE KEY-----\n"] {
            assert!(matches!(private_key_file(text), PrivateKeyFile::Unreadable(_)), "{text:?}");
        }
        let broken = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3Bl\n-----END OPENSSH PRIVATE KEY-----\n";
        assert!(matches!(private_key_file(broken), PrivateKeyFile::Unreadable(_)));
    }

    #[test]
    fn fingerprints_as_ec2_gives_them_for_imported_keys() {
        let fp = aws_import_fingerprint(PUBLIC).unwrap();
        assert_eq!(fp, "Uj4ypaJfPUN71WH+IFqBzH47I130vItpftTbd1mfX6A=", "OpenSSH's, padded");
        assert_eq!(aws_import_fingerprint("ssh-ed25519 AAAA"), None, "not a key");
        assert_eq!(same_key(None, Some(&fp), PUBLIC), Some(true));
        assert_eq!(same_key(None, Some(fp.trim_end_matches('=')), PUBLIC), Some(true));
        assert_eq!(same_key(None, Some("Zm9vYmFyYmF6cXV4cXV1eHF1dXhxdXV4cXV1eHF1dXg="), PUBLIC), Some(false));
        assert_eq!(same_key(None, Some("1f:51:ae:28:bf:89:e9:d8:1f:25:5d:37:2d:7d:b8:ca"), PUBLIC), None);
        assert_eq!(same_key(None, None, PUBLIC), None);
    }

    #[test]
    fn same_key_by_public_key_whatever_the_comment() {
        let bare = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJen70KeFTRXMmmoaB7z1lgqR647SFrNRYQ9AFbv/90R";
        assert_eq!(same_key(Some(bare), None, PUBLIC), Some(true));
        assert_eq!(same_key(Some(&format!("{bare} acme-analytics")), Some("wrong"), PUBLIC), Some(true));
        let other = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIMbFcwT6EhdQsLyxzn9fH0RDcOVdGRV07GIVEUESREOq";
        assert_eq!(same_key(Some(other), None, PUBLIC), Some(false));
    }
}
