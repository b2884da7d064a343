//! Creates that AWS cannot deduplicate (an internet gateway, an Elastic IP,
//! an access key: no name, no client token), sent at most once per try.
//!
//! The SDK retries a call whose answer was a throttle, a 5xx or a timeout.
//! For most calls that is safe; for these it is not: a 500 or a timeout may
//! come after the call took effect (the answer was lost on the way back), and
//! the retry then makes a second resource. So such a call is sent with the
//! SDK's retries disabled ([`no_retries`]), and on a transient failure the
//! tool first looks (`verify`) whether the call took effect before trying
//! again itself: [`at_most_once`].

use std::future::Future;
use std::time::Duration;

use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use aws_smithy_types::retry::RetryConfig;

use crate::error::{AwsResultExt, aws_error_code};
use crate::retry::is_transient;

/// Tries of an [`at_most_once`] call, as many as the SDK's own retry
/// configuration allows ([`crate::retry::sdk_retry_config`]).
pub const ATTEMPTS: u32 = 8;
const INITIAL_BACKOFF: Duration = Duration::from_millis(200);
const MAX_BACKOFF: Duration = Duration::from_secs(10);

/// The retry configuration for a per-operation override that sends the call
/// once: `.customize().config_override(aws_sdk_ec2::config::Config::builder()
/// .retry_config(common::once::no_retries()))`.
pub fn no_retries() -> RetryConfig {
    RetryConfig::disabled()
}

/// Sends `call` (built with [`no_retries`]) until it succeeds, at most
/// [`ATTEMPTS`] times. After each transient failure it waits (200 ms,
/// doubling, at most 10 s), then asks `verify` whether the call took effect
/// anyway: `Some(t)` is taken as the call's result, `None` means it did not
/// (or that `verify` undid it), and the call is sent again. Any other
/// failure, or a transient one on the last try, is returned as the
/// readable error of `what`.
pub async fn at_most_once<T, E, C, CF, V, VF>(what: &str, mut call: C, mut verify: V) -> anyhow::Result<T>
where
    C: FnMut() -> CF,
    CF: Future<Output = Result<T, SdkError<E, HttpResponse>>>,
    V: FnMut() -> VF,
    VF: Future<Output = anyhow::Result<Option<T>>>,
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let mut delay = INITIAL_BACKOFF;
    for attempt in 1..=ATTEMPTS {
        match call().await {
            Ok(t) => return Ok(t),
            Err(e) if is_transient(&e) => {
                tracing::info!(
                    "{what}: transient failure ({}), try {attempt} of {ATTEMPTS}; checking whether it took effect",
                    aws_error_code(&e).unwrap_or("no answer")
                );
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(MAX_BACKOFF);
                if let Some(t) = verify().await? {
                    tracing::info!("{what}: it had taken effect");
                    return Ok(t);
                }
                if attempt == ATTEMPTS {
                    return Err(e).aws_context(what);
                }
            }
            Err(e) => return Err(e).aws_context(what),
        }
    }
    unreachable!("the last try returns")
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use aws_smithy_runtime_api::http::StatusCode;
    use aws_smithy_types::body::SdkBody;
    use aws_smithy_types::error::ErrorMetadata;

    use super::*;

    type Err = SdkError<ErrorMetadata, HttpResponse>;

    fn answer(status: u16, code: &str) -> Err {
        let raw = HttpResponse::new(StatusCode::try_from(status).unwrap(), SdkBody::empty());
        SdkError::service_error(ErrorMetadata::builder().code(code).build(), raw)
    }

    #[tokio::test(start_paused = true)]
    async fn a_lost_answer_is_verified_not_repeated() {
        let sent = Cell::new(0);
        let verified = Cell::new(0);
        let r = at_most_once(
            "making x",
            || {
                sent.set(sent.get() + 1);
                async { Err::<u32, _>(answer(500, "InternalError")) }
            },
            || {
                verified.set(verified.get() + 1);
                async { Ok(Some(7)) }
            },
        )
        .await;
        assert_eq!(r.unwrap(), 7);
        assert_eq!((sent.get(), verified.get()), (1, 1), "the call took effect: not sent again");
    }

    #[tokio::test(start_paused = true)]
    async fn not_taken_effect_is_sent_again() {
        let sent = Cell::new(0);
        let r = at_most_once(
            "making x",
            || {
                sent.set(sent.get() + 1);
                let n = sent.get();
                async move { if n < 3 { Err(answer(503, "RequestLimitExceeded")) } else { Ok(n) } }
            },
            || async { Ok(None) },
        )
        .await;
        assert_eq!(r.unwrap(), 3);
    }

    #[tokio::test(start_paused = true)]
    async fn gives_up_after_the_last_try_and_on_other_errors() {
        let sent = Cell::new(0);
        let verified = Cell::new(0);
        let e = at_most_once(
            "making x",
            || {
                sent.set(sent.get() + 1);
                async { Err::<u32, _>(answer(500, "InternalError")) }
            },
            || {
                verified.set(verified.get() + 1);
                async { Ok(None) }
            },
        )
        .await
        .unwrap_err();
        assert_eq!((sent.get(), verified.get()), (ATTEMPTS, ATTEMPTS), "verified after the last try too");
        assert!(e.to_string().starts_with("making x: InternalError"), "{e}");

        let sent = Cell::new(0);
        let e = at_most_once(
            "making x",
            || {
                sent.set(sent.get() + 1);
                async { Err::<u32, _>(answer(400, "InvalidParameterValue")) }
            },
            || async { panic!("no verification after a definite failure") },
        )
        .await
        .unwrap_err();
        assert_eq!(sent.get(), 1);
        assert!(e.to_string().contains("InvalidParameterValue"), "{e}");
    }
}
