//! The pending marker of a bucket being created:
//! `<bucket>.bucket-pending.json` in the secrets directory, written just
//! before `CreateBucket` and removed once the bucket carries the
//! deployment's tags.
//!
//! A run stopped in between (killed, or the tagging refused for good)
//! leaves an untagged bucket that the tags alone cannot tell from one made
//! by hand under the same name. The marker tells them apart: a later run
//! that finds this account's bucket (HeadBucket with ExpectedBucketOwner),
//! without any tag, with its marker, finishes it as its own; the same
//! bucket without a marker is someone else's, adopted as it is and never
//! deleted. A marker that cannot be read as one, or names another bucket or
//! client, is bad input: the operator fixes or removes it.

use common::SecretsDir;
use common::error::bad_input;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct PendingBucket {
    bucket: String,
    client: String,
}

/// The marker's file name for `bucket`.
pub fn file_name(bucket: &str) -> String {
    format!("{bucket}.bucket-pending.json")
}

/// Whether `bucket` has a marker of `client`.
pub fn is_pending(dir: &SecretsDir, bucket: &str, client: &str) -> anyhow::Result<bool> {
    let name = file_name(bucket);
    let Some(m) = dir.read_json::<PendingBucket>(&name, "a pending bucket marker of mk-buckets")? else {
        return Ok(false);
    };
    if m.bucket != bucket || m.client != client {
        return Err(bad_input(format!(
            "{} names bucket {:?} of client {:?}, not {bucket:?} of {client:?}: fix or remove it",
            dir.file(&name).display(),
            m.bucket,
            m.client
        )));
    }
    Ok(true)
}

/// Writes the marker (0600, atomically) before the bucket is created.
pub fn mark(dir: &SecretsDir, bucket: &str, client: &str) -> anyhow::Result<()> {
    dir.write_json(&file_name(bucket), &PendingBucket { bucket: bucket.to_owned(), client: client.to_owned() })
        .map(drop)
}

/// Removes the marker; a missing one is fine.
pub fn clear(dir: &SecretsDir, bucket: &str) -> anyhow::Result<()> {
    dir.remove(&file_name(bucket))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marker_round_trip_and_foreign_markers() {
        let t = tempfile::tempdir().unwrap();
        let dir = SecretsDir::new(t.path().join("s"));
        assert!(!is_pending(&dir, "acme-analytics-emr", "acme").unwrap());
        mark(&dir, "acme-analytics-emr", "acme").unwrap();
        assert!(is_pending(&dir, "acme-analytics-emr", "acme").unwrap());
        let e = is_pending(&dir, "acme-analytics-emr", "other").unwrap_err();
        assert_eq!(common::error::exit_status(&e), 2);
        assert!(e.to_string().contains("fix or remove it"), "{e}");
        std::fs::write(dir.file(&file_name("acme-edxanalytics")), "{").unwrap();
        assert_eq!(common::error::exit_status(&is_pending(&dir, "acme-edxanalytics", "acme").unwrap_err()), 2);
        clear(&dir, "acme-analytics-emr").unwrap();
        clear(&dir, "acme-analytics-emr").unwrap();
        assert!(!is_pending(&dir, "acme-analytics-emr", "acme").unwrap());
    }
}
