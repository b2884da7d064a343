//! The secure configuration files, rendered from what the tools built.
//! Pure: YAML and INI come from serializers, never from string pasting.

use std::path::PathBuf;

use common::secrets::{AccessKeyFile, DbCredentials};
use ini::Ini;
use serde::Serialize;

/// Settings for the EMR clusters of the pipeline (emr-vars.yml).
#[derive(Debug, Clone)]
pub struct EmrSettings {
    pub release_label: String,
    pub instance_type: String,
    pub core_count: u32,
}

/// Everything the files are made of.
#[derive(Debug, Clone)]
pub struct Facts {
    pub client: String,
    pub region: String,
    pub es_endpoint: String,
    pub es_key: AccessKeyFile,
    /// The reports user's key and the reports bucket (with --reports).
    pub reports: Option<(AccessKeyFile, String)>,
    pub analytics_db: DbCredentials,
    pub edxapp_db: Option<DbCredentials>,
    pub config_bucket: String,
    pub tracking_logs_bucket: String,
    pub hadoop_bucket: String,
    pub emr_log_uri: String,
    pub subnet_id: String,
    pub keypair_name: String,
    /// The EMR nodes' instance profile and EMR's service role, as mk-iam
    /// named them (`EMR_EC2_DefaultRole`, `EMR_DefaultRole` unless overridden).
    pub emr_ec2_profile: String,
    pub emr_service_role: String,
    pub emr_master_sg: Option<String>,
    pub emr_slave_sg: Option<String>,
    pub emr: EmrSettings,
    /// Absolute path of the secrets directory (for jenkins_env).
    pub secrets_dir: PathBuf,
}

fn header(what: &str, client: &str) -> String {
    format!(
        "# {what} for the {client} analytics deployment.\n# Written by mk-config: edit the inputs and re-run it rather than this file.\n"
    )
}

#[derive(Serialize)]
struct ReportDownloadBackend<'a> {
    #[serde(rename = "AWS_ACCESS_KEY_ID")]
    key_id: &'a str,
    #[serde(rename = "AWS_SECRET_ACCESS_KEY")]
    secret: &'a str,
    #[serde(rename = "AWS_STORAGE_BUCKET_NAME")]
    bucket: &'a str,
}

#[derive(Serialize)]
struct VarsAnalytics<'a> {
    #[serde(rename = "ANALYTICS_MYSQL_HOST")]
    mysql_host: &'a str,
    #[serde(rename = "ANALYTICS_MYSQL_PORT")]
    mysql_port: u16,
    #[serde(rename = "ANALYTICS_MYSQL_USER")]
    mysql_user: &'a str,
    #[serde(rename = "ANALYTICS_MYSQL_PASSWORD")]
    mysql_password: &'a str,
    #[serde(rename = "ANALYTICS_API_ELASTICSEARCH_LEARNERS_HOST")]
    es_host: &'a str,
    #[serde(rename = "ANALYTICS_API_ELASTICSEARCH_AWS_ACCESS_KEY_ID")]
    es_key_id: &'a str,
    #[serde(rename = "ANALYTICS_API_ELASTICSEARCH_AWS_SECRET_ACCESS_KEY")]
    es_secret: &'a str,
    #[serde(rename = "ANALYTICS_API_ELASTICSEARCH_CONNECTION_DEFAULT_REGION")]
    es_region: &'a str,
    #[serde(rename = "ANALYTICS_API_REPORT_DOWNLOAD_BACKEND", skip_serializing_if = "Option::is_none")]
    report_download_backend: Option<ReportDownloadBackend<'a>>,
    #[serde(rename = "INSIGHTS_NGINX_PORT")]
    nginx_port: u16,
    #[serde(rename = "INSIGHTS_NGINX_SSL_PORT")]
    nginx_ssl_port: u16,
}

pub fn vars_analytics(f: &Facts) -> anyhow::Result<String> {
    let port = f
        .analytics_db
        .port
        .parse()
        .map_err(|_| anyhow::anyhow!("edxanalytics_creds has port {:?}, not a number", f.analytics_db.port))?;
    let vars = VarsAnalytics {
        mysql_host: &f.analytics_db.host,
        mysql_port: port,
        mysql_user: &f.analytics_db.username,
        mysql_password: f.analytics_db.password.expose(),
        es_host: &f.es_endpoint,
        es_key_id: &f.es_key.access_key_id,
        es_secret: f.es_key.secret_access_key.expose(),
        es_region: &f.region,
        report_download_backend: f.reports.as_ref().map(|(k, b)| ReportDownloadBackend {
            key_id: &k.access_key_id,
            secret: k.secret_access_key.expose(),
            bucket: b,
        }),
        nginx_port: 80,
        nginx_ssl_port: 443,
    };
    Ok(header("Ansible variables of the analytics hosts", &f.client) + &serde_saphyr::to_string(&vars)?)
}

#[derive(Serialize)]
struct Application {
    name: &'static str,
}

#[derive(Serialize)]
struct InstanceGroup<'a> {
    num_instances: u32,
    #[serde(rename = "type")]
    instance_type: &'a str,
    market: &'static str,
}

#[derive(Serialize)]
struct InstanceGroups<'a> {
    master: InstanceGroup<'a>,
    core: InstanceGroup<'a>,
}

#[derive(Serialize)]
struct Tag {
    #[serde(rename = "Key")]
    key: &'static str,
    #[serde(rename = "Value")]
    value: String,
}

#[derive(Serialize)]
struct EmrVars<'a> {
    name: &'static str,
    region: &'a str,
    keypair_name: &'a str,
    vpc_subnet_id: &'a str,
    log_uri: &'a str,
    role: &'a str,
    service_role: &'a str,
    release_label: &'a str,
    applications: Vec<Application>,
    instance_groups: InstanceGroups<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    emr_managed_master_security_group: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    emr_managed_slave_security_group: Option<&'a str>,
    visible_to_all_users: bool,
    tags: Vec<Tag>,
}

pub fn emr_vars(f: &Facts) -> anyhow::Result<String> {
    let group = |n| InstanceGroup { num_instances: n, instance_type: &f.emr.instance_type, market: "ON_DEMAND" };
    let vars = EmrVars {
        // Jenkins jobs name each cluster; emr-launch fails if it is unset.
        name: "{{ lookup('env', 'CLUSTER_NAME') }}",
        region: &f.region,
        keypair_name: &f.keypair_name,
        vpc_subnet_id: &f.subnet_id,
        log_uri: &f.emr_log_uri,
        role: &f.emr_ec2_profile,
        service_role: &f.emr_service_role,
        release_label: &f.emr.release_label,
        applications: vec![Application { name: "Hadoop" }, Application { name: "Hive" }, Application { name: "Sqoop" }],
        instance_groups: InstanceGroups { master: group(1), core: group(f.emr.core_count) },
        emr_managed_master_security_group: f.emr_master_sg.as_deref(),
        emr_managed_slave_security_group: f.emr_slave_sg.as_deref(),
        visible_to_all_users: true,
        tags: vec![Tag { key: "analytics:client", value: f.client.clone() }],
    };
    Ok(header("emr-launch variables (CLUSTER_NAME=... emr-launch --vars emr-vars.yml)", &f.client)
        + &serde_saphyr::to_string(&vars)?)
}

pub fn override_cfg(f: &Facts) -> anyhow::Result<String> {
    let creds = |name: &str| format!("s3://{}/{name}", f.config_bucket);
    let mut ini = Ini::new();
    ini.with_section(Some("database-export"))
        .set("database", "reports")
        .set("credentials", creds("edxanalytics_creds"));
    ini.with_section(Some("database-import"))
        .set("database", "edxapp")
        .set("credentials", creds("edxapp_creds"))
        .set("destination", format!("s3://{}/warehouse/", f.hadoop_bucket));
    ini.with_section(Some("event-logs"))
        .set("source", serde_json::to_string(&[format!("s3://{}/logs/tracking/", f.tracking_logs_bucket)])?)
        .set("pattern", serde_json::to_string(&[r".*tracking.log-(?P<date>[0-9]+).*"])?)
        .set("expand_interval", "30 days");
    ini.with_section(Some("hive")).set("warehouse_path", format!("s3://{}/warehouse/hive/", f.hadoop_bucket));
    ini.with_section(Some("elasticsearch")).set("host", f.es_endpoint.clone()).set("connection_type", "aws");
    ini.with_section(Some("geolocation")).set("geolocation_data", format!("s3://{}/geo/GeoIP.dat", f.config_bucket));
    ini.with_section(Some("manifest")).set("path", format!("s3://{}/manifest/", f.hadoop_bucket));
    let mut out = Vec::new();
    ini.write_to(&mut out)?;
    Ok(header("Analytics pipeline overrides", &f.client).replace('#', ";") + &String::from_utf8(out)?)
}

pub fn jenkins_env(f: &Facts) -> anyhow::Result<String> {
    let dir = f.secrets_dir.display().to_string();
    let vars = [
        ("EXTRA_VARS", format!("@{dir}/emr-vars.yml")),
        ("ANALYTICS_OVERRIDE_CONFIG", format!("{dir}/analytics-override.cfg")),
        ("ANALYTICS_CONFIG_BUCKET", f.config_bucket.clone()),
        ("ANALYTICS_CLUSTER_NAME_PREFIX", format!("{}-analytics", f.client)),
        ("AWS_REGION", f.region.clone()),
    ];
    let mut out = header("Environment of the pipeline's Jenkins jobs (source it)", &f.client);
    out.push_str(
        "# Name each cluster per job, e.g. CLUSTER_NAME=\"$ANALYTICS_CLUSTER_NAME_PREFIX-$JOB_NAME-$BUILD_NUMBER\"\n",
    );
    for (k, v) in vars {
        out.push_str(&format!("export {k}={}\n", shlex::try_quote(&v)?));
    }
    Ok(out)
}

#[cfg(test)]
pub(crate) mod tests {
    use common::secrets::Secret;

    use super::*;

    pub fn facts() -> Facts {
        let key = |id: &str| AccessKeyFile {
            user: format!("{id}-user"),
            access_key_id: id.into(),
            secret_access_key: Secret::new(format!("{id}-secret")),
        };
        Facts {
            client: "acme".into(),
            region: "us-east-1".into(),
            es_endpoint: "https://search-acme.us-east-1.es.amazonaws.com".into(),
            es_key: key("AKIAES"),
            reports: Some((key("AKIARP"), "acme-analytics-api-reports".into())),
            analytics_db: DbCredentials {
                host: "db.example".into(),
                port: "3306".into(),
                username: "analytics".into(),
                password: Secret::new("p'w\"d: #x"),
            },
            edxapp_db: None,
            config_bucket: "acme-edxanalytics".into(),
            tracking_logs_bucket: "acme-tracking-logs".into(),
            hadoop_bucket: "acme-edxanalytics".into(),
            emr_log_uri: "s3://acme-analytics-emr/logs".into(),
            subnet_id: "subnet-1".into(),
            keypair_name: "acme-analytics".into(),
            emr_ec2_profile: "EMR_EC2_DefaultRole".into(),
            emr_service_role: "EMR_DefaultRole".into(),
            emr_master_sg: Some("sg-m".into()),
            emr_slave_sg: None,
            emr: EmrSettings { release_label: "emr-5.36.2".into(), instance_type: "m5.xlarge".into(), core_count: 2 },
            secrets_dir: "/srv/secrets/acme dir".into(),
        }
    }

    #[test]
    fn vars_analytics_round_trips_through_yaml() {
        let text = vars_analytics(&facts()).unwrap();
        let v: serde_json::Value = serde_saphyr::from_str(&text).unwrap();
        assert_eq!(v["ANALYTICS_MYSQL_PASSWORD"], "p'w\"d: #x");
        assert_eq!(v["ANALYTICS_MYSQL_PORT"], 3306);
        assert_eq!(v["ANALYTICS_API_ELASTICSEARCH_LEARNERS_HOST"], "https://search-acme.us-east-1.es.amazonaws.com");
        assert_eq!(v["ANALYTICS_API_ELASTICSEARCH_AWS_SECRET_ACCESS_KEY"], "AKIAES-secret");
        assert_eq!(v["ANALYTICS_API_ELASTICSEARCH_CONNECTION_DEFAULT_REGION"], "us-east-1");
        assert_eq!(v["ANALYTICS_API_REPORT_DOWNLOAD_BACKEND"]["AWS_STORAGE_BUCKET_NAME"], "acme-analytics-api-reports");
        assert_eq!(v["INSIGHTS_NGINX_PORT"], 80);
        assert_eq!(v["INSIGHTS_NGINX_SSL_PORT"], 443);
        let mut f = facts();
        f.reports = None;
        let v: serde_json::Value = serde_saphyr::from_str(&vars_analytics(&f).unwrap()).unwrap();
        assert!(v.get("ANALYTICS_API_REPORT_DOWNLOAD_BACKEND").is_none());
    }

    #[test]
    fn emr_vars_names_the_cluster_from_the_environment() {
        let v: serde_json::Value = serde_saphyr::from_str(&emr_vars(&facts()).unwrap()).unwrap();
        assert_eq!(v["name"], "{{ lookup('env', 'CLUSTER_NAME') }}");
        assert_eq!(v["keypair_name"], "acme-analytics");
        assert_eq!(v["vpc_subnet_id"], "subnet-1");
        assert_eq!(v["log_uri"], "s3://acme-analytics-emr/logs");
        assert_eq!(v["role"], "EMR_EC2_DefaultRole");
        assert_eq!(v["instance_groups"]["core"]["num_instances"], 2);
        assert_eq!(v["emr_managed_master_security_group"], "sg-m");
        assert!(v.get("emr_managed_slave_security_group").is_none());
    }

    #[test]
    fn override_cfg_sections() {
        let text = override_cfg(&facts()).unwrap();
        let ini = Ini::load_from_str(&text).unwrap();
        assert_eq!(ini.get_from(Some("database-export"), "database"), Some("reports"));
        assert_eq!(
            ini.get_from(Some("database-export"), "credentials"),
            Some("s3://acme-edxanalytics/edxanalytics_creds")
        );
        assert_eq!(ini.get_from(Some("database-import"), "database"), Some("edxapp"));
        assert_eq!(ini.get_from(Some("database-import"), "credentials"), Some("s3://acme-edxanalytics/edxapp_creds"));
        assert_eq!(ini.get_from(Some("elasticsearch"), "host"), Some("https://search-acme.us-east-1.es.amazonaws.com"));
        assert_eq!(ini.get_from(Some("elasticsearch"), "connection_type"), Some("aws"));
        assert!(ini.get_from(Some("event-logs"), "source").unwrap().contains("s3://acme-tracking-logs/"));
        assert!(ini.get_from(Some("hive"), "warehouse_path").unwrap().starts_with("s3://acme-edxanalytics/"));
        assert!(ini.get_from(Some("geolocation"), "geolocation_data").unwrap().starts_with("s3://acme-edxanalytics/"));
    }

    #[test]
    fn jenkins_env_is_shell_quoted() {
        let text = jenkins_env(&facts()).unwrap();
        assert!(text.contains("export EXTRA_VARS='@/srv/secrets/acme dir/emr-vars.yml'"), "{text}");
        assert!(text.contains("export ANALYTICS_CONFIG_BUCKET=acme-edxanalytics"), "{text}");
    }

    /// Nothing mk-config writes depends on the partition: it names buckets
    /// by s3:// URL (the same in aws-cn and aws-us-gov), roles and profiles
    /// by name, and takes the search endpoint from mk-es.
    #[test]
    fn no_file_holds_an_arn() {
        let f = Facts { region: "cn-north-1".into(), ..facts() };
        for text in
            [vars_analytics(&f).unwrap(), emr_vars(&f).unwrap(), override_cfg(&f).unwrap(), jenkins_env(&f).unwrap()]
        {
            assert!(!text.contains("arn:"), "{text}");
        }
    }
}
