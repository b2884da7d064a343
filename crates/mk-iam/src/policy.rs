//! The policy documents mk-iam writes, and comparing them with what IAM
//! returns. Pure.
//!
//! The documents are data under `shared/policies/`, embedded at build time;
//! the parts that depend on the deployment (a bucket, a domain ARN) are set
//! on the parsed JSON value, never spliced into the text.

use anyhow::Context;
use serde_json::{Value, json};

const PROVISION_EMR_CLUSTERS: &str = include_str!("../../../shared/policies/provision-emr-clusters.json");
const ELASTICSEARCH_ALL: &str = include_str!("../../../shared/policies/elasticsearch-all.json");
const EC2_TRUST: &str = include_str!("../../../shared/policies/ec2-trust.json");
const EMR_TRUST: &str = include_str!("../../../shared/policies/emr-trust.json");
const REPORTS_READ: &str = include_str!("../../../shared/policies/reports-read.json");

/// The service a role trusts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrustedService {
    Ec2,
    Emr,
}

impl TrustedService {
    pub fn principal(self) -> &'static str {
        match self {
            TrustedService::Ec2 => "ec2.amazonaws.com",
            TrustedService::Emr => "elasticmapreduce.amazonaws.com",
        }
    }
}

fn embedded(text: &str) -> Value {
    // The files are part of the build; a unit test parses each of them.
    serde_json::from_str(text).expect("embedded policy document is valid JSON")
}

/// Sets the `Resource` of the document's only statement.
fn with_resource(mut doc: Value, resource: Value) -> Value {
    doc["Statement"][0]["Resource"] = resource;
    doc
}

/// `<c>-provision-emr-clusters`: what the analytics host (Jenkins) needs to
/// launch and terminate EMR clusters.
pub fn provision_emr_clusters() -> Value {
    embedded(PROVISION_EMR_CLUSTERS)
}

/// `<c>-elasticsearch-all`: `es:*` on every domain (the runbook's choice),
/// or on one domain and its paths when its ARN is known.
pub fn elasticsearch_all(domain_arn: Option<&str>) -> Value {
    let doc = embedded(ELASTICSEARCH_ALL);
    match domain_arn {
        Some(arn) => with_resource(doc, json!([arn, format!("{arn}/*")])),
        None => doc,
    }
}

/// A role's trust policy: `sts:AssumeRole` for one service.
pub fn trust(service: TrustedService) -> Value {
    embedded(match service {
        TrustedService::Ec2 => EC2_TRUST,
        TrustedService::Emr => EMR_TRUST,
    })
}

/// `s3-read-analytics-reports`: read the reports bucket. Both ARNs are
/// needed: the bucket for `List*`, its objects for `Get*`.
pub fn reports_read(partition: &str, bucket: &str) -> Value {
    let bucket_arn = format!("arn:{partition}:s3:::{bucket}");
    with_resource(embedded(REPORTS_READ), json!([bucket_arn, format!("{bucket_arn}/*")]))
}

/// Parses a document as IAM returns it: URL-encoded (RFC 3986) by the real
/// API in every call, plain JSON in some emulator answers. Plain JSON is
/// tried first, since decoding plain JSON could alter a `%` in it.
pub fn parse_returned(text: &str) -> anyhow::Result<Value> {
    if let Ok(v) = serde_json::from_str(text) {
        return Ok(v);
    }
    let decoded = urlencoding::decode(text).context("a policy document from IAM is neither JSON nor URL-encoded")?;
    serde_json::from_str(&decoded).context("a policy document from IAM is not valid JSON")
}

pub use common::policy::{normalize, same};

fn as_list(v: Option<&Value>) -> Vec<&Value> {
    match v {
        Some(Value::Array(a)) => a.iter().collect(),
        Some(other) => vec![other],
        None => Vec::new(),
    }
}

/// Whether a trust policy lets `service` assume the role. Used for the
/// shared EMR roles, which are adopted as they are: `aws emr
/// create-default-roles` writes an equivalent document in another shape.
pub fn trusts_service(doc: &Value, service: TrustedService) -> bool {
    as_list(doc.get("Statement")).into_iter().any(|s| {
        s.get("Effect").and_then(Value::as_str) == Some("Allow")
            && as_list(s.get("Action")).iter().any(|a| matches!(a.as_str(), Some("sts:AssumeRole" | "sts:*" | "*")))
            && as_list(s.get("Principal").and_then(|p| p.get("Service")))
                .iter()
                .any(|p| p.as_str() == Some(service.principal()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn actions(doc: &Value) -> Vec<&str> {
        as_list(doc["Statement"][0].get("Action")).iter().filter_map(|a| a.as_str()).collect()
    }

    #[test]
    fn every_embedded_document_parses_with_the_current_version() {
        for text in [PROVISION_EMR_CLUSTERS, ELASTICSEARCH_ALL, EC2_TRUST, EMR_TRUST, REPORTS_READ] {
            let doc = embedded(text);
            assert_eq!(doc["Version"], "2012-10-17");
            assert_eq!(doc["Statement"].as_array().unwrap().len(), 1);
            assert_eq!(doc["Statement"][0]["Effect"], "Allow");
        }
    }

    #[test]
    fn provision_policy_allows_exactly_the_runbook_actions_on_everything() {
        let doc = provision_emr_clusters();
        assert_eq!(
            actions(&doc),
            [
                "elasticmapreduce:*",
                "iam:PassRole",
                "route53:Get*",
                "route53:List*",
                "ec2:DescribeInstances",
                "rds:DescribeDBInstances"
            ]
        );
        assert_eq!(doc["Statement"][0]["Resource"], "*");
    }

    #[test]
    fn elasticsearch_policy_is_scoped_to_a_domain_when_known() {
        let doc = elasticsearch_all(None);
        assert_eq!(actions(&doc), ["es:*"]);
        assert_eq!(doc["Statement"][0]["Resource"], "*");
        let arn = "arn:aws:es:us-east-1:123456789012:domain/acme-analytics-es";
        let doc = elasticsearch_all(Some(arn));
        assert_eq!(actions(&doc), ["es:*"]);
        assert_eq!(doc["Statement"][0]["Resource"], json!([arn, format!("{arn}/*")]));
    }

    #[test]
    fn trust_policies_name_their_service() {
        let ec2 = trust(TrustedService::Ec2);
        assert_eq!(ec2["Statement"][0]["Principal"]["Service"], "ec2.amazonaws.com");
        assert_eq!(ec2["Statement"][0]["Action"], "sts:AssumeRole");
        assert!(trusts_service(&ec2, TrustedService::Ec2));
        assert!(!trusts_service(&ec2, TrustedService::Emr));
        let emr = trust(TrustedService::Emr);
        assert_eq!(emr["Statement"][0]["Principal"]["Service"], "elasticmapreduce.amazonaws.com");
        assert!(trusts_service(&emr, TrustedService::Emr));
    }

    #[test]
    fn reports_policy_reads_the_bucket_and_its_objects() {
        let doc = reports_read("aws", "acme-analytics-api-reports");
        assert_eq!(actions(&doc), ["s3:Get*", "s3:List*"]);
        assert_eq!(
            doc["Statement"][0]["Resource"],
            json!(["arn:aws:s3:::acme-analytics-api-reports", "arn:aws:s3:::acme-analytics-api-reports/*"])
        );
        assert!(!doc.to_string().contains("set by mk-iam"), "placeholder left in {doc}");
    }

    #[test]
    fn returned_documents_are_decoded_either_way() {
        let doc = provision_emr_clusters();
        let plain = doc.to_string();
        let encoded = urlencoding::encode(&plain).into_owned();
        assert!(!encoded.contains('{'));
        assert_eq!(parse_returned(&plain).unwrap(), doc);
        assert_eq!(parse_returned(&encoded).unwrap(), doc);
        assert!(parse_returned("%7Bnot json").is_err());
    }

    #[test]
    fn comparison_ignores_iam_rewrites_but_not_changes() {
        let doc = trust(TrustedService::Ec2);
        let rewritten = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
            "Principal": {"Service": ["ec2.amazonaws.com"]}, "Action": ["sts:AssumeRole"]}]});
        assert!(same(&doc, &rewritten));
        let mut reordered = provision_emr_clusters();
        reordered["Statement"][0]["Action"].as_array_mut().unwrap().reverse();
        assert!(same(&provision_emr_clusters(), &reordered));
        let mut fewer = provision_emr_clusters();
        fewer["Statement"][0]["Action"].as_array_mut().unwrap().pop();
        assert!(!same(&provision_emr_clusters(), &fewer));
        assert!(!same(&elasticsearch_all(None), &elasticsearch_all(Some("arn:aws:es:us-east-1:1:domain/x"))));
    }

    #[test]
    fn cli_written_emr_trust_counts_as_trusting_emr() {
        // What `aws emr create-default-roles` writes.
        let cli = json!({"Version": "2008-10-17", "Statement": [{"Sid": "", "Effect": "Allow",
            "Principal": {"Service": "elasticmapreduce.amazonaws.com"}, "Action": "sts:AssumeRole"}]});
        assert!(trusts_service(&cli, TrustedService::Emr));
        let deny = json!({"Statement": {"Effect": "Deny", "Principal": {"Service": "elasticmapreduce.amazonaws.com"}, "Action": "sts:AssumeRole"}});
        assert!(!trusts_service(&deny, TrustedService::Emr));
    }
}
