//! Counting the API calls a tool really sends.
//!
//! [`ApiCounter`] is an SDK interceptor: added to every service client, it
//! sees each operation as it starts, and each attempt (retries included) as
//! it goes on the wire. mk-rds-users feeds it one record per SQL statement.
//! Under `--dry-run` it also refuses any mutating operation, so dry-run is
//! read-only by construction, not only by care.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::{
    BeforeSerializationInterceptorContextRef, BeforeTransmitInterceptorContextRef,
};
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;
use serde::Serialize;

/// The counts as they appear under `api_calls` in the report.
#[derive(Debug, Default, Clone, Serialize, PartialEq, Eq)]
pub struct CallCounts {
    /// Operations (or SQL statements) sent.
    pub total: u64,
    /// Of those, the ones that create, change, tag or delete something.
    pub mutating: u64,
    /// Attempts on the wire, retries included (equal to `total` when
    /// nothing was retried).
    pub attempts: u64,
    /// Operations by `Service.Operation` name.
    pub by_operation: BTreeMap<String, u64>,
}

#[derive(Debug, Default)]
struct Inner {
    counts: Mutex<CallCounts>,
    read_only: AtomicBool,
}

/// Shared, cheap to clone; one per run.
#[derive(Debug, Default, Clone)]
pub struct ApiCounter(Arc<Inner>);

/// Read-only operations by name; everything else mutates.
pub fn is_mutating(operation: &str) -> bool {
    const READS: [&str; 7] = ["Get", "List", "Describe", "Head", "Lookup", "Search", "Select"];
    !READS.iter().any(|p| operation.starts_with(p))
}

/// Raised when a mutating call is attempted under `--dry-run`.
#[derive(Debug)]
pub struct ReadOnlyViolation(pub String);

impl std::fmt::Display for ReadOnlyViolation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "refused mutating call {} under --dry-run (a bug: please report it)", self.0)
    }
}

impl std::error::Error for ReadOnlyViolation {}

impl ApiCounter {
    pub fn new() -> Self {
        Self::default()
    }

    /// Refuse mutating operations from now on (dry-run).
    pub fn set_read_only(&self, read_only: bool) {
        self.0.read_only.store(read_only, Ordering::SeqCst);
    }

    pub fn is_read_only(&self) -> bool {
        self.0.read_only.load(Ordering::SeqCst)
    }

    /// Records one operation (or statement) about to be sent. Fails, and
    /// records nothing, for a mutating one in read-only mode.
    pub fn record(&self, name: &str, mutating: bool) -> Result<(), ReadOnlyViolation> {
        if mutating && self.is_read_only() {
            return Err(ReadOnlyViolation(name.to_owned()));
        }
        let mut c = self.0.counts.lock().expect("counter lock");
        c.total += 1;
        if mutating {
            c.mutating += 1;
        }
        *c.by_operation.entry(name.to_owned()).or_default() += 1;
        Ok(())
    }

    fn record_attempt(&self) {
        self.0.counts.lock().expect("counter lock").attempts += 1;
    }

    /// SQL statements are sent in one attempt each.
    pub fn record_statement(&self, name: &str, mutating: bool) -> Result<(), ReadOnlyViolation> {
        self.record(name, mutating)?;
        self.record_attempt();
        Ok(())
    }

    pub fn snapshot(&self) -> CallCounts {
        self.0.counts.lock().expect("counter lock").clone()
    }
}

impl Intercept for ApiCounter {
    fn name(&self) -> &'static str {
        "ApiCounter"
    }

    // Once per operation; the operation's metadata is in the bag by now
    // (it is not yet in `read_before_execution`).
    fn read_before_serialization(
        &self,
        _context: &BeforeSerializationInterceptorContextRef<'_>,
        _rc: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let (service, operation) = cfg
            .load::<Metadata>()
            .map(|m| (m.service().to_owned(), m.name().to_owned()))
            .unwrap_or_else(|| ("unknown".into(), "Unknown".into()));
        self.record(&format!("{service}.{operation}"), is_mutating(&operation))?;
        Ok(())
    }

    fn read_before_transmit(
        &self,
        _context: &BeforeTransmitInterceptorContextRef<'_>,
        _rc: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        self.record_attempt();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_operations() {
        for read in ["GetRole", "ListBuckets", "DescribeVpcs", "HeadBucket", "GetCallerIdentity"] {
            assert!(!is_mutating(read), "{read}");
        }
        for write in ["CreateBucket", "PutBucketPolicy", "TagRole", "DeleteUser", "AttachRolePolicy", "RunJobFlow"] {
            assert!(is_mutating(write), "{write}");
        }
    }

    #[test]
    fn counts_and_refuses_writes_when_read_only() {
        let c = ApiCounter::new();
        c.record("S3.ListBuckets", false).unwrap();
        c.record("S3.CreateBucket", true).unwrap();
        c.set_read_only(true);
        assert!(c.record("S3.DeleteBucket", true).is_err());
        c.record("S3.HeadBucket", false).unwrap();
        let s = c.snapshot();
        assert_eq!((s.total, s.mutating), (3, 1));
        assert_eq!(s.by_operation.get("S3.DeleteBucket"), None);
    }
}
