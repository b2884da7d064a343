//! Errors and exit status: 2 for bad input found before any mutating call,
//! 1 for a failure while working. AWS errors are shown with their code and a
//! hint, on one line.

use std::fmt;

use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::display::DisplayErrorContext;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

/// Bad input (flags, files, names): exit status 2.
#[derive(Debug)]
pub struct BadInput(pub String);

impl fmt::Display for BadInput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for BadInput {}

/// Builds a [`BadInput`] error as an `anyhow::Error`.
pub fn bad_input(msg: impl Into<String>) -> anyhow::Error {
    anyhow::Error::new(BadInput(msg.into()))
}

/// The exit status for an error: 2 for bad input, else 1.
pub fn exit_status(err: &anyhow::Error) -> u8 {
    if err.chain().any(<dyn std::error::Error + 'static>::is::<BadInput>) { 2 } else { 1 }
}

/// An AWS call that failed, with the service's error code when it sent one.
#[derive(Debug)]
pub struct AwsError {
    pub what: String,
    pub code: Option<String>,
    pub detail: String,
}

impl fmt::Display for AwsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.code {
            Some(code) => write!(f, "{}: {code}: {}", self.what, self.detail)?,
            None => write!(f, "{}: {}", self.what, self.detail)?,
        }
        if let Some(hint) = hint(self.code.as_deref(), &self.detail) {
            write!(f, " (hint: {hint})")?;
        }
        Ok(())
    }
}

impl std::error::Error for AwsError {}

fn hint(code: Option<&str>, detail: &str) -> Option<&'static str> {
    match code {
        Some(c) if c.contains("AccessDenied") || c == "UnauthorizedOperation" => {
            Some("the credentials in use lack this permission; check the profile or role")
        }
        Some("ExpiredToken" | "ExpiredTokenException" | "InvalidClientTokenId") => {
            Some("the credentials are invalid or expired; refresh them (aws sso login)")
        }
        Some(c) if c.contains("Throttl") || c == "RequestLimitExceeded" || c == "SlowDown" => {
            Some("AWS kept throttling after retries; re-run later, the tool is safe to re-run")
        }
        Some(c) if c.contains("LimitExceeded") || c.contains("QuotaExceeded") => {
            Some("an account quota is reached; raise it or remove unused resources")
        }
        None if detail.contains("dispatch failure") || detail.contains("connect") => {
            Some("the endpoint could not be reached; check --endpoint-url, the network and the region")
        }
        _ => None,
    }
}

/// The error code of an SDK error, if the service sent one.
pub fn aws_error_code<E, R>(err: &SdkError<E, R>) -> Option<&str>
where
    E: ProvideErrorMetadata,
{
    match err {
        SdkError::ServiceError(se) => se.err().code(),
        _ => None,
    }
}

/// Turns an SDK result into one with a readable, one-line error.
pub trait AwsResultExt<T>: Sized {
    fn aws_context(self, what: impl fmt::Display) -> anyhow::Result<T>;

    /// `None` when the service answered with error `code` (the way many
    /// reads say "there is none", e.g. `NoSuchEntity`, `NoSuchTagSet`, and
    /// many writes say "already so"); other errors as [`aws_context`].
    ///
    /// [`aws_context`]: AwsResultExt::aws_context
    fn none_if(self, code: &str, what: impl fmt::Display) -> anyhow::Result<Option<T>>;
}

impl<T, E, R> AwsResultExt<T> for Result<T, SdkError<E, R>>
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: fmt::Debug + Send + Sync + 'static,
{
    fn aws_context(self, what: impl fmt::Display) -> anyhow::Result<T> {
        self.map_err(|err| {
            let code = aws_error_code(&err).map(str::to_owned);
            let detail = match &err {
                SdkError::ServiceError(se) => {
                    se.err().message().map(str::to_owned).unwrap_or_else(|| DisplayErrorContext(&err).to_string())
                }
                _ => DisplayErrorContext(&err).to_string(),
            };
            anyhow::Error::new(AwsError { what: what.to_string(), code, detail: one_line(&detail) })
        })
    }

    fn none_if(self, code: &str, what: impl fmt::Display) -> anyhow::Result<Option<T>> {
        match self {
            Ok(v) => Ok(Some(v)),
            Err(e) if aws_error_code(&e) == Some(code) => Ok(None),
            Err(e) => Err(e).aws_context(what),
        }
    }
}

/// Collapses whitespace and newlines so an error fits on one line.
pub fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_input_maps_to_2_and_failures_to_1() {
        assert_eq!(exit_status(&bad_input("nope")), 2);
        assert_eq!(exit_status(&bad_input("nope").context("while reading")), 2);
        assert_eq!(exit_status(&anyhow::anyhow!("boom")), 1);
    }

    #[test]
    fn aws_error_line_carries_code_and_hint() {
        let e = AwsError {
            what: "creating bucket x".into(),
            code: Some("AccessDenied".into()),
            detail: "Access Denied".into(),
        };
        let line = e.to_string();
        assert!(line.starts_with("creating bucket x: AccessDenied: Access Denied (hint: "));
        assert!(!line.contains('\n'));
    }

    #[test]
    fn one_line_collapses_newlines() {
        assert_eq!(one_line("a\n  b\tc "), "a b c");
    }
}
