//! What is retried, and how: the one place to read.
//!
//! Three kinds of failure are tried again, each bounded:
//!
//! 1. **Throttling, 5xx, timeouts, lost connections**, on every call: the
//!    SDK's standard retry ([`sdk_retry_config`]: 8 tries, exponential
//!    backoff with jitter from 200 ms, at most 10 s apart), classified as
//!    [`is_transient`] says.
//! 2. **Creates AWS cannot deduplicate** (an internet gateway, an Elastic
//!    IP, an access key): sent with the SDK's retries off and, after a
//!    transient failure, looked for before being sent again
//!    ([`crate::once::at_most_once`]).
//! 3. **Eventual consistency**: right after a create, AWS may answer that
//!    the new thing does not exist or is not usable yet. [`EVENTUAL`] lists
//!    each (service, operation, error code) that means "not yet" rather than
//!    "no", what is being waited for, and how long at most. A call that can
//!    meet one is sent through [`eventually`], which retries only those
//!    answers (logged at info: "waiting for the new security group to be
//!    visible"), with exponential backoff and jitter, until the rule's
//!    deadline; any other answer, and the last one past the deadline, is
//!    returned as it came.

use std::future::Future;
use std::time::Duration;

use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use aws_smithy_types::retry::RetryConfig;
use rand::Rng;
use tokio::time::Instant;

use crate::error::aws_error_code;

/// The SDK's own retry (kind 1), for every client.
pub fn sdk_retry_config() -> RetryConfig {
    RetryConfig::standard()
        .with_max_attempts(crate::once::ATTEMPTS)
        .with_initial_backoff(Duration::from_millis(200))
        .with_max_backoff(Duration::from_secs(10))
}

/// Throttling codes, as the SDK's standard retry classifier knows them.
const THROTTLING: [&str; 14] = [
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestThrottledException",
    "TooManyRequestsException",
    "ProvisionedThroughputExceededException",
    "TransactionInProgressException",
    "RequestLimitExceeded",
    "BandwidthLimitExceeded",
    "LimitExceededException",
    "RequestThrottled",
    "SlowDown",
    "PriorRequestNotComplete",
    "EC2ThrottledException",
];

/// Whether the SDK would have retried this failure (kind 1): throttling, a
/// 5xx, a timeout, a connection or response failure.
pub fn is_transient<E: ProvideErrorMetadata>(err: &SdkError<E, HttpResponse>) -> bool {
    match err {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => true,
        SdkError::ServiceError(se) => {
            let status = se.raw().status();
            status.is_server_error()
                || status.as_u16() == 429
                || aws_error_code(err)
                    .is_some_and(|c| THROTTLING.contains(&c) || c == "RequestTimeout" || c == "RequestTimeoutException")
        }
        _ => false,
    }
}

pub use eventual::{EVENTUAL, Rule, eventual_rule};

mod eventual;

/// `(service, operation)` of an SDK operation error type, from its path:
/// `aws_sdk_ec2::operation::run_instances::RunInstancesError` is
/// `("ec2", "RunInstances")`.
pub fn operation_of<E>() -> (&'static str, &'static str) {
    let path = std::any::type_name::<E>();
    let service = path.split("::").next().and_then(|c| c.strip_prefix("aws_sdk_")).unwrap_or("unknown");
    let last = path.rsplit("::").next().unwrap_or(path);
    (service, last.strip_suffix("Error").unwrap_or(last))
}

/// First pause between tries of [`eventually`]; `ANALYTICS_RETRY_INITIAL_MS`
/// shortens it (tests against the strict AWS simulation).
fn initial_backoff() -> Duration {
    let ms = std::env::var("ANALYTICS_RETRY_INITIAL_MS").ok().and_then(|v| v.parse().ok()).unwrap_or(500);
    Duration::from_millis(ms)
}
const MAX_BACKOFF: Duration = Duration::from_secs(8);

/// The pause before try `n` (from 1): doubling from the initial one, at
/// most 8 s, each drawn between half and all of that ("equal jitter").
fn backoff(initial: Duration, n: u32) -> Duration {
    let full = initial.saturating_mul(2u32.saturating_pow(n.saturating_sub(1))).min(MAX_BACKOFF.max(initial));
    let half = full / 2;
    half + full.mul_f64(rand::rng().random_range(0.0..=0.5))
}

/// Sends `call` (which builds and sends one SDK request) and retries it
/// while AWS answers with an [`EVENTUAL`] rule's "not yet", until that
/// rule's deadline. The operation is known from the error type, so a call
/// site needs no names: `retry::eventually(|| ec2.attach_internet_gateway()
/// ....send()).await.aws_context(...)`.
pub async fn eventually<T, E, F, Fut>(call: F) -> Result<T, SdkError<E, HttpResponse>>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, SdkError<E, HttpResponse>>>,
    E: ProvideErrorMetadata,
{
    let (service, operation) = operation_of::<E>();
    eventually_as(service, operation, call).await
}

/// [`eventually`] with the operation named.
pub async fn eventually_as<T, E, F, Fut>(
    service: &str,
    operation: &str,
    mut call: F,
) -> Result<T, SdkError<E, HttpResponse>>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, SdkError<E, HttpResponse>>>,
    E: ProvideErrorMetadata,
{
    let initial = initial_backoff();
    let mut started: Option<(Instant, &'static Rule)> = None;
    let mut tries = 0u32;
    loop {
        tries += 1;
        let err = match call().await {
            Ok(t) => {
                if let Some((since, r)) = started {
                    tracing::info!("{operation}: {} after {:.1?} ({tries} tries)", r.waiting_for, since.elapsed());
                }
                return Ok(t);
            }
            Err(e) => e,
        };
        let rule = match &err {
            SdkError::ServiceError(se) => {
                let code = se.err().code().unwrap_or_default();
                eventual_rule(service, operation, code, se.err().message().unwrap_or_default())
            }
            _ => None,
        };
        let Some(rule) = rule else { return Err(err) };
        let since = match started {
            Some((since, _)) => since,
            None => {
                tracing::info!(
                    "waiting for {} ({operation} answered {}; trying again for up to {} s)",
                    rule.waiting_for,
                    rule.code,
                    rule.deadline.as_secs()
                );
                let now = Instant::now();
                started = Some((now, rule));
                now
            }
        };
        let left = rule.deadline.saturating_sub(since.elapsed());
        if left.is_zero() {
            tracing::info!("{operation}: gave up waiting for {} after {} s", rule.waiting_for, rule.deadline.as_secs());
            return Err(err);
        }
        tokio::time::sleep(backoff(initial, tries).min(left)).await;
    }
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use super::eventual::VISIBILITY;

    use aws_smithy_runtime_api::http::StatusCode;
    use aws_smithy_types::body::SdkBody;
    use aws_smithy_types::error::ErrorMetadata;

    use super::*;

    type Err = SdkError<ErrorMetadata, HttpResponse>;

    fn answer(status: u16, code: &str, message: &str) -> Err {
        let raw = HttpResponse::new(StatusCode::try_from(status).unwrap(), SdkBody::empty());
        SdkError::service_error(ErrorMetadata::builder().code(code).message(message).build(), raw)
    }

    #[test]
    fn transient_failures() {
        assert!(is_transient(&answer(500, "InternalError", "")));
        assert!(is_transient(&answer(503, "RequestLimitExceeded", "")));
        assert!(is_transient(&answer(400, "Throttling", "")));
        assert!(is_transient(&answer(429, "ThrottlingException", "")));
        assert!(is_transient(&SdkError::<ErrorMetadata, HttpResponse>::timeout_error("slow")));
        assert!(!is_transient(&answer(400, "InvalidParameterValue", "")));
        assert!(!is_transient(&answer(409, "LimitExceeded", "")), "a quota is not a throttle");
    }

    #[test]
    fn operations_are_named_by_their_error_type() {
        mod aws_sdk_ec2 {
            pub mod operation {
                pub struct RunInstancesError;
            }
        }
        // A local module's path starts with this crate's name, not aws_sdk_.
        let (_, op) = operation_of::<aws_sdk_ec2::operation::RunInstancesError>();
        assert_eq!(op, "RunInstances");
        assert_eq!(operation_of::<ErrorMetadata>(), ("unknown", "ErrorMetadata"));
    }

    #[test]
    fn the_table_knows_not_yet_from_no() {
        assert!(eventual_rule("ec2", "AuthorizeSecurityGroupIngress", "InvalidGroup.NotFound", "").is_some());
        assert!(eventual_rule("ec2", "RevokeSecurityGroupIngress", "InvalidGroup.NotFound", "").is_none(), "gone");
        assert!(eventual_rule("ec2", "DeleteSecurityGroup", "InvalidGroup.NotFound", "").is_none());
        assert!(
            eventual_rule("ec2", "DeleteSecurityGroup", "DependencyViolation", "resource sg-1 has a dependent object")
                .is_some()
        );
        let profile = "Value (acme-edxanalytics) for parameter iamInstanceProfile.name is invalid. Invalid IAM Instance Profile name";
        assert!(eventual_rule("ec2", "RunInstances", "InvalidParameterValue", profile).is_some());
        assert!(eventual_rule("ec2", "RunInstances", "InvalidParameterValue", "bad instance type").is_none());
        let roleless = "Value (arn:aws:iam::123456789012:instance-profile/acme) for parameter iamInstanceProfile.arn is invalid. Instance profile acme has no associated IAM Roles";
        assert!(eventual_rule("ec2", "RunInstances", "InvalidParameterValue", roleless).is_some());
        assert!(eventual_rule("s3", "PutBucketTagging", "NoSuchBucket", "").is_some());
        assert!(eventual_rule("s3", "DeleteBucket", "NoSuchBucket", "").is_none());
        assert!(
            eventual_rule("opensearch", "CreateDomain", "InvalidTypeException", "Error setting policy: [...]")
                .is_some()
        );
        assert!(eventual_rule("iam", "AttachRolePolicy", "ConcurrentModification", "").is_some());
        let role = "The role with name acme-edxanalytics cannot be found.";
        assert!(eventual_rule("iam", "AttachRolePolicy", "NoSuchEntity", role).is_some());
        let policy = "Policy arn:aws:iam::123456789012:policy/acme-x does not exist or is not attachable.";
        assert!(eventual_rule("iam", "AttachRolePolicy", "NoSuchEntity", policy).is_none(), "a real error");
        assert!(eventual_rule("rds", "ModifyDBInstance", "InvalidDBInstanceState", "").is_some());
        let group = "Invalid security group , groupId= sg-0123, groupName=.";
        assert!(eventual_rule("rds", "CreateDBInstance", "InvalidParameterValue", group).is_some());
        assert!(eventual_rule("rds", "CreateDBInstance", "InvalidParameterValue", "Invalid DB engine").is_none());
        let busy = "A change/update is in progress. Please wait for it to complete before requesting another change.";
        assert!(eventual_rule("opensearch", "UpdateDomainConfig", "ValidationException", busy).is_some());
        assert!(eventual_rule("opensearch", "UpdateDomainConfig", "ValidationException", "bad type").is_none());
        assert!(eventual_rule("s3", "PutBucketPolicy", "MalformedPolicy", "Invalid principal in policy").is_some());
        assert!(eventual_rule("s3", "PutBucketPolicy", "MalformedPolicy", "Policy has invalid action").is_none());
        for r in EVENTUAL {
            assert!(r.deadline >= Duration::from_secs(30) && r.deadline <= Duration::from_secs(1800), "{r:?}");
        }
    }

    #[test]
    fn backoff_doubles_with_jitter_and_caps() {
        let i = Duration::from_millis(500);
        for n in 1..20 {
            let full = (i * 2u32.pow((n - 1).min(10))).min(MAX_BACKOFF);
            let b = backoff(i, n);
            assert!(b >= full / 2 && b <= full, "try {n}: {b:?} outside {:?}..={full:?}", full / 2);
        }
    }

    #[tokio::test(start_paused = true)]
    async fn not_yet_is_retried_until_it_works() {
        let sent = Cell::new(0);
        let start = Instant::now();
        let r = eventually_as("ec2", "AttachInternetGateway", || {
            sent.set(sent.get() + 1);
            let n = sent.get();
            async move {
                if n < 4 { Err(answer(400, "InvalidInternetGatewayID.NotFound", "not found")) } else { Ok(n) }
            }
        })
        .await;
        assert_eq!(r.unwrap(), 4);
        assert!(start.elapsed() < Duration::from_secs(10));
    }

    #[tokio::test(start_paused = true)]
    async fn real_errors_are_not_retried() {
        let sent = Cell::new(0);
        let r = eventually_as("ec2", "AttachInternetGateway", || {
            sent.set(sent.get() + 1);
            async { Err::<(), _>(answer(400, "Resource.AlreadyAssociated", "attached elsewhere")) }
        })
        .await;
        assert_eq!(aws_error_code(&r.unwrap_err()), Some("Resource.AlreadyAssociated"));
        assert_eq!(sent.get(), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn gives_up_at_the_deadline() {
        let sent = Cell::new(0);
        let start = Instant::now();
        let r = eventually_as("s3", "PutBucketTagging", || {
            sent.set(sent.get() + 1);
            async { Err::<(), _>(answer(404, "NoSuchBucket", "no such bucket")) }
        })
        .await;
        assert_eq!(aws_error_code(&r.unwrap_err()), Some("NoSuchBucket"));
        let waited = start.elapsed();
        assert!(
            waited >= Duration::from_secs(VISIBILITY) && waited < Duration::from_secs(VISIBILITY + 1),
            "{waited:?}"
        );
        assert!(sent.get() > 5 && sent.get() < 40, "{} tries", sent.get());
    }
}
