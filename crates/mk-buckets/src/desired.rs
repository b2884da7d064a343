//! The buckets and the grades-download statement we want, from the flags.
//! Pure: no I/O.

use common::Deployment;
use common::error::bad_input;
pub use common::names::validate_bucket_name;

use crate::Args;

/// What a bucket is for; also its key under `outputs.buckets`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BucketRole {
    TrackingLogs,
    Emr,
    EmrLogs,
    Edxanalytics,
    Hadoop,
    Reports,
}

impl BucketRole {
    pub const ALL: [BucketRole; 6] = [
        BucketRole::TrackingLogs,
        BucketRole::Emr,
        BucketRole::EmrLogs,
        BucketRole::Edxanalytics,
        BucketRole::Hadoop,
        BucketRole::Reports,
    ];

    pub fn key(self) -> &'static str {
        match self {
            BucketRole::TrackingLogs => "tracking_logs",
            BucketRole::Emr => "emr",
            BucketRole::EmrLogs => "emr_logs",
            BucketRole::Edxanalytics => "edxanalytics",
            BucketRole::Hadoop => "hadoop",
            BucketRole::Reports => "reports",
        }
    }

    /// The flag that names it.
    pub fn flag(self) -> &'static str {
        match self {
            BucketRole::TrackingLogs => "--tracking-logs-bucket",
            BucketRole::Emr => "--emr-bucket",
            BucketRole::EmrLogs => "--emr-logs-bucket",
            BucketRole::Edxanalytics => "--edxanalytics-bucket",
            BucketRole::Hadoop => "--hadoop-bucket",
            BucketRole::Reports => "--reports-bucket",
        }
    }

    fn default_suffix(self) -> &'static str {
        match self {
            BucketRole::TrackingLogs => "tracking-logs",
            BucketRole::Emr => "analytics-emr",
            BucketRole::EmrLogs => "analytics-emr-logs",
            BucketRole::Edxanalytics => "edxanalytics",
            BucketRole::Hadoop => "edxanalytics-hadoop",
            BucketRole::Reports => "analytics-api-reports",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BucketSpec {
    pub role: BucketRole,
    pub name: String,
}

/// The statement that lets the edxapp principal download grade reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GradesStatement {
    pub bucket: String,
    /// `None` on destroy: the statement is found by its id alone.
    pub principal: Option<String>,
    pub sid: String,
}

/// The statement id: `AnalyticsGradesDownload` and the client in
/// PascalCase (statement ids are alphanumeric).
pub fn grades_sid(d: &Deployment) -> String {
    let pascal: String = d
        .client
        .as_str()
        .split('-')
        .map(|seg| {
            let mut c = seg.chars();
            c.next().map(|f| f.to_ascii_uppercase().to_string() + c.as_str()).unwrap_or_default()
        })
        .collect();
    format!("AnalyticsGradesDownload{pascal}")
}

/// An IAM user or role ARN, the principal of the grades statement, in any
/// partition (checked against the run's by [`check_partition`]).
pub fn validate_principal_arn(arn: &str) -> anyhow::Result<()> {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let ok = parts.len() == 6
        && parts[0] == "arn"
        && matches!(parts[1], "aws" | "aws-cn" | "aws-us-gov")
        && parts[2] == "iam"
        && parts[3].is_empty()
        && parts[4].len() == 12
        && parts[4].chars().all(|c| c.is_ascii_digit())
        && (parts[5].starts_with("user/") || parts[5].starts_with("role/"))
        && parts[5].len() > 5;
    if ok {
        Ok(())
    } else {
        Err(bad_input(format!(
            "invalid --edxapp-user-arn {arn:?}: expected arn:PARTITION:iam::ACCOUNT:user/NAME or arn:PARTITION:iam::ACCOUNT:role/NAME"
        )))
    }
}

/// The principal must be in the run's partition (`partition`, from the
/// region): a policy in `aws-cn` cannot name an `aws` principal.
pub fn check_partition(g: &GradesStatement, partition: &str, region: &str) -> anyhow::Result<()> {
    let Some(arn) = &g.principal else { return Ok(()) };
    match common::aws::arn_partition(arn) {
        Some(p) if p == partition => Ok(()),
        other => Err(bad_input(format!(
            "--edxapp-user-arn {arn:?} is in partition {}, but region {region} is in partition {partition}: give the principal's ARN as arn:{partition}:iam::...",
            other.unwrap_or("(none)")
        ))),
    }
}

/// The buckets for this run. On destroy every role counts, whatever the
/// flags: destroy removes all that the tool manages for the client.
pub fn buckets(args: &Args, d: &Deployment) -> anyhow::Result<Vec<BucketSpec>> {
    let mut out = Vec::new();
    for role in BucketRole::ALL {
        let wanted = args.destroy()
            || match role {
                BucketRole::EmrLogs => args.separate_logs,
                BucketRole::Hadoop => args.separate_hadoop,
                BucketRole::Reports => args.reports,
                _ => true,
            };
        if !wanted {
            continue;
        }
        let overridden = match role {
            BucketRole::TrackingLogs => &args.tracking_logs_bucket,
            BucketRole::Emr => &args.emr_bucket,
            BucketRole::EmrLogs => &args.emr_logs_bucket,
            BucketRole::Edxanalytics => &args.edxanalytics_bucket,
            BucketRole::Hadoop => &args.hadoop_bucket,
            BucketRole::Reports => &args.reports_bucket,
        };
        let name = overridden.clone().unwrap_or_else(|| d.name(role.default_suffix()));
        validate_bucket_name(&name)?;
        out.push(BucketSpec { role, name });
    }
    let mut names: Vec<&str> = out.iter().map(|b| b.name.as_str()).collect();
    names.sort();
    if let Some(w) = names.windows(2).find(|w| w[0] == w[1]) {
        return Err(bad_input(format!("bucket {:?} is named for two purposes", w[0])));
    }
    Ok(out)
}

pub fn grades(args: &Args, d: &Deployment) -> anyhow::Result<Option<GradesStatement>> {
    let Some(bucket) = &args.grades_bucket else { return Ok(None) };
    validate_bucket_name(bucket)?;
    let principal = match (&args.edxapp_user_arn, args.destroy()) {
        (Some(arn), _) => {
            validate_principal_arn(arn)?;
            Some(arn.clone())
        }
        (None, true) => None,
        (None, false) => {
            return Err(bad_input("--grades-bucket needs --edxapp-user-arn (the principal that downloads)"));
        }
    };
    Ok(Some(GradesStatement { bucket: bucket.clone(), principal, sid: grades_sid(d) }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn args(extra: &[&str]) -> (Args, Deployment) {
        let mut v = vec!["mk-buckets", "--client", "acme"];
        v.extend_from_slice(extra);
        let a = Args::try_parse_from(v).unwrap();
        let d = Deployment::from_args(&a.converge.deployment, "mk-buckets").unwrap();
        (a, d)
    }

    fn names(b: &[BucketSpec]) -> Vec<&str> {
        b.iter().map(|b| b.name.as_str()).collect()
    }

    #[test]
    fn default_buckets() {
        let (a, d) = args(&[]);
        assert_eq!(names(&buckets(&a, &d).unwrap()), ["acme-tracking-logs", "acme-analytics-emr", "acme-edxanalytics"]);
    }

    #[test]
    fn optional_buckets() {
        let (a, d) = args(&["--reports", "--separate-logs", "--separate-hadoop"]);
        assert_eq!(
            names(&buckets(&a, &d).unwrap()),
            [
                "acme-tracking-logs",
                "acme-analytics-emr",
                "acme-analytics-emr-logs",
                "acme-edxanalytics",
                "acme-edxanalytics-hadoop",
                "acme-analytics-api-reports"
            ]
        );
    }

    #[test]
    fn destroy_considers_every_bucket() {
        let (a, d) = args(&["--destroy"]);
        assert_eq!(buckets(&a, &d).unwrap().len(), 6);
    }

    #[test]
    fn overrides_and_duplicates() {
        let (a, d) = args(&["--tracking-logs-bucket", "edx-prod-logs"]);
        assert_eq!(buckets(&a, &d).unwrap()[0].name, "edx-prod-logs");
        let (a, d) = args(&["--emr-bucket", "acme-edxanalytics"]);
        assert!(buckets(&a, &d).unwrap_err().to_string().contains("two purposes"));
        let (a, d) = args(&["--emr-bucket", "Bad_Name"]);
        assert!(buckets(&a, &d).unwrap_err().to_string().contains("invalid bucket name"));
    }

    #[test]
    fn grades_needs_a_valid_principal() {
        let (a, d) =
            args(&["--grades-bucket", "edx-grades", "--edxapp-user-arn", "arn:aws:iam::123456789012:user/edxapp"]);
        let g = grades(&a, &d).unwrap().unwrap();
        assert_eq!(g.sid, "AnalyticsGradesDownloadAcme");
        let (a, d) = args(&["--grades-bucket", "edx-grades"]);
        assert!(grades(&a, &d).unwrap_err().to_string().contains("--edxapp-user-arn"));
        for bad in ["arn:aws:iam::12345:user/x", "arn:aws:s3:::bucket", "user/x", "arn:aws:iam::123456789012:group/x"] {
            assert!(validate_principal_arn(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_principal_is_in_the_runs_partition() {
        let (a, d) =
            args(&["--grades-bucket", "edx-grades", "--edxapp-user-arn", "arn:aws-cn:iam::123456789012:user/edxapp"]);
        let g = grades(&a, &d).unwrap().unwrap();
        check_partition(&g, "aws-cn", "cn-north-1").unwrap();
        let e = check_partition(&g, "aws", "us-east-1").unwrap_err();
        assert_eq!(common::error::exit_status(&e), 2);
        assert!(e.to_string().contains("partition aws-cn") && e.to_string().contains("arn:aws:iam::"), "{e}");
        let none = GradesStatement { principal: None, ..g };
        check_partition(&none, "aws", "us-east-1").unwrap();
    }

    #[test]
    fn sid_keeps_segment_boundaries() {
        let d = |c: &str| Deployment { client: common::ClientName::parse(c).unwrap(), tool: "t", extra_tags: vec![] };
        assert_eq!(grades_sid(&d("acme-prod")), "AnalyticsGradesDownloadAcmeProd");
        assert_ne!(grades_sid(&d("ab-c")), grades_sid(&d("a-bc")));
    }
}
