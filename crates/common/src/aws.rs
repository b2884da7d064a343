//! The AWS flags every tool takes, and the `SdkConfig` they produce.
//!
//! `--profile`, `--region` and `--endpoint-url` mean what they mean for the
//! AWS CLI; the SDK's own variables (`AWS_PROFILE`, `AWS_REGION`,
//! `AWS_ENDPOINT_URL`, `AWS_ENDPOINT_URL_<SERVICE>`) work too, and the flag
//! wins over the variable. Credentials come from the standard chain.

use aws_config::{BehaviorVersion, Region, SdkConfig};
use clap::Args;

use crate::calls::ApiCounter;
use crate::error::bad_input;

#[derive(Args, Debug, Clone, Default)]
#[command(next_help_heading = "AWS")]
pub struct AwsArgs {
    /// Named profile from ~/.aws/config (default: $AWS_PROFILE, else the chain)
    #[arg(long, value_name = "NAME", help_heading = "AWS")]
    pub profile: Option<String>,
    /// AWS region, e.g. us-east-1 (default: $AWS_REGION, else the profile's)
    #[arg(long, value_name = "REGION", help_heading = "AWS")]
    pub region: Option<String>,
    /// Send every call to this endpoint, e.g. a local emulator (default: $AWS_ENDPOINT_URL)
    #[arg(long, value_name = "URL", help_heading = "AWS")]
    pub endpoint_url: Option<String>,
}

/// A loaded configuration plus the run's call counter, ready to build
/// service clients with [`crate::client!`].
#[derive(Debug, Clone)]
pub struct Aws {
    pub sdk: SdkConfig,
    pub counter: ApiCounter,
    pub region: String,
}

impl Aws {
    /// This run's partition (from its region).
    pub fn partition(&self) -> &'static str {
        partition(&self.region)
    }

    /// S3 needs path-style addressing whenever a custom endpoint is used
    /// (`bucket.localhost` does not resolve).
    pub fn s3_path_style(&self) -> bool {
        self.sdk.endpoint_url().is_some() || std::env::var_os("AWS_ENDPOINT_URL_S3").is_some()
    }
}

/// Builds a service client with the run's interceptor:
/// `let s3 = common::client!(aws_sdk_s3, &aws);`
/// An optional third argument adjusts the builder:
/// `common::client!(aws_sdk_s3, &aws, |b| b.force_path_style(true))`.
#[macro_export]
macro_rules! client {
    ($sdk:ident, $aws:expr) => {
        $crate::client!($sdk, $aws, |b| b)
    };
    ($sdk:ident, $aws:expr, $adjust:expr) => {{
        let aws: &$crate::aws::Aws = $aws;
        let builder = $sdk::config::Builder::from(&aws.sdk).interceptor(aws.counter.clone());
        let adjust = $adjust;
        $sdk::Client::from_conf(adjust(builder).build())
    }};
}

/// Checks the shape of a region name (`us-east-1`, `eu-west-3`,
/// `us-gov-west-1`, `cn-north-1`, `ap-southeast-4`...).
pub fn validate_region(region: &str) -> anyhow::Result<()> {
    const AREAS: [&str; 11] = ["us", "eu", "ap", "sa", "ca", "me", "af", "il", "mx", "cn", "us-gov"];
    let valid = region
        .rsplit_once('-')
        .and_then(|(head, num)| {
            let (area, place) = head.rsplit_once('-')?;
            let ok = AREAS.contains(&area)
                && !place.is_empty()
                && place.chars().all(|c| c.is_ascii_lowercase())
                && !num.is_empty()
                && num.chars().all(|c| c.is_ascii_digit());
            ok.then_some(())
        })
        .is_some();
    if valid {
        Ok(())
    } else {
        Err(bad_input(format!("unknown AWS region {region:?} (expected a name like us-east-1 or eu-west-1)")))
    }
}

/// The partition a region is in, as ARNs spell it: `aws`, `aws-cn`
/// (`cn-*`), `aws-us-gov` (`us-gov-*`). Every ARN a tool builds starts
/// `arn:<partition>:`; nothing hard-codes `arn:aws:`.
pub fn partition(region: &str) -> &'static str {
    if region.starts_with("cn-") {
        "aws-cn"
    } else if region.starts_with("us-gov-") {
        "aws-us-gov"
    } else {
        "aws"
    }
}

/// Whether `arn` starts `arn:<a partition>:` (any of [`partition`]'s).
pub fn arn_partition(arn: &str) -> Option<&str> {
    let p = arn.strip_prefix("arn:")?.split(':').next()?;
    ["aws", "aws-cn", "aws-us-gov"].contains(&p).then_some(p)
}

fn validate_endpoint(url: &str) -> anyhow::Result<()> {
    let rest = url.strip_prefix("http://").or_else(|| url.strip_prefix("https://"));
    match rest {
        Some(host) if !host.is_empty() && !host.starts_with('/') => Ok(()),
        _ => Err(bad_input(format!("invalid --endpoint-url {url:?} (expected http://HOST[:PORT] or https://...)"))),
    }
}

impl AwsArgs {
    /// Loads the configuration. Bad flags, no region or no credentials are
    /// bad input (exit 2), found before any call.
    pub async fn load(&self, counter: &ApiCounter) -> anyhow::Result<Aws> {
        if let Some(r) = &self.region {
            validate_region(r)?;
        }
        if let Some(e) = &self.endpoint_url {
            validate_endpoint(e)?;
        }
        let mut loader = aws_config::defaults(BehaviorVersion::latest()).retry_config(crate::retry::sdk_retry_config());
        if let Some(p) = &self.profile {
            // As with the AWS CLI, a named profile's credentials win over
            // keys in the environment, and an unknown profile is an error
            // rather than a silent fall back to whatever the environment holds.
            let creds = aws_config::profile::ProfileFileCredentialsProvider::builder().profile_name(p).build();
            loader = loader.profile_name(p).credentials_provider(creds);
        }
        if let Some(r) = &self.region {
            loader = loader.region(Region::new(r.clone()));
        }
        if let Some(e) = &self.endpoint_url {
            loader = loader.endpoint_url(e);
        }
        let sdk = loader.load().await;
        let region = match sdk.region() {
            Some(r) => r.to_string(),
            None => {
                return Err(bad_input("no AWS region: pass --region, set AWS_REGION, or give the profile a region"));
            }
        };
        validate_region(&region)?;
        if let Ok(e) = std::env::var("AWS_ENDPOINT_URL")
            && self.endpoint_url.is_none()
        {
            validate_endpoint(&e)?;
        }
        match sdk.credentials_provider() {
            None => {
                return Err(bad_input("no AWS credentials: configure a profile, SSO, env vars or an instance role"));
            }
            Some(p) => {
                use aws_credential_types::provider::ProvideCredentials;
                if let Err(e) = p.provide_credentials().await {
                    let why =
                        crate::error::one_line(&aws_smithy_types::error::display::DisplayErrorContext(&e).to_string());
                    return Err(bad_input(match &self.profile {
                        Some(name) => format!(
                            "AWS profile {name:?} is not defined or has no usable credentials ({why}): check ~/.aws/config"
                        ),
                        None => format!(
                            "no usable AWS credentials ({why}): configure a profile, SSO, env vars or an instance role"
                        ),
                    }));
                }
            }
        }
        Ok(Aws { sdk, counter: counter.clone(), region })
    }
}

#[cfg(test)]
mod tests {
    use super::{arn_partition, partition};

    #[test]
    fn partitions_follow_the_region() {
        assert_eq!(partition("us-east-1"), "aws");
        assert_eq!(partition("eu-west-3"), "aws");
        assert_eq!(partition("cn-north-1"), "aws-cn");
        assert_eq!(partition("us-gov-west-1"), "aws-us-gov");
        assert_eq!(arn_partition("arn:aws-cn:iam::123456789012:user/x"), Some("aws-cn"));
        assert_eq!(arn_partition("arn:aws:iam::123456789012:user/x"), Some("aws"));
        assert_eq!(arn_partition("arn:azure:iam::1:user/x"), None);
        assert_eq!(arn_partition("user/x"), None);
    }

    use super::*;

    #[test]
    fn regions() {
        for ok in ["us-east-1", "eu-west-3", "ap-southeast-4", "us-gov-west-1", "cn-north-1", "il-central-1"] {
            validate_region(ok).unwrap_or_else(|e| panic!("{ok}: {e}"));
        }
        for bad in ["", "us-east", "useast1", "mars-north-1", "US-EAST-1", "us-east-x", "eu--1"] {
            assert!(validate_region(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn endpoints() {
        assert!(validate_endpoint("http://127.0.0.1:5000").is_ok());
        assert!(validate_endpoint("https://s3.example").is_ok());
        assert!(validate_endpoint("127.0.0.1:5000").is_err());
        assert!(validate_endpoint("http://").is_err());
    }
}
