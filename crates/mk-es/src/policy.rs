//! The domain's access policy: full access (`es:*`) on the domain's
//! indices for the principals named, never `*`. Pure. It is compared with
//! the domain's by meaning ([`common::policy::same`]), not by text.

use serde::Serialize;
use serde_json::Value;

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
struct PolicyDocument<'a> {
    version: &'static str,
    statement: [Statement<'a>; 1],
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
struct Statement<'a> {
    effect: &'static str,
    principal: Principal<'a>,
    action: &'static str,
    resource: String,
}

#[derive(Debug, Serialize)]
struct Principal<'a> {
    #[serde(rename = "AWS")]
    aws: &'a [String],
}

/// `arn:<partition>:es:<region>:<account>:domain/<name>`.
pub fn domain_arn(partition: &str, region: &str, account: &str, name: &str) -> String {
    format!("arn:{partition}:es:{region}:{account}:domain/{name}")
}

/// The policy granting `principals` everything on the domain.
pub fn access_policy(principals: &[String], domain_arn: &str) -> Value {
    let doc = PolicyDocument {
        version: "2012-10-17",
        statement: [Statement {
            effect: "Allow",
            principal: Principal { aws: principals },
            action: "es:*",
            resource: format!("{domain_arn}/*"),
        }],
    };
    serde_json::to_value(doc).expect("a policy document serializes")
}

#[cfg(test)]
mod tests {
    use super::*;
    use common::policy::same as same_policy;
    use serde_json::json;

    const ARN: &str = "arn:aws:es:us-east-1:123456789012:domain/acme-analytics-es";

    #[test]
    fn the_document() {
        let users = vec!["arn:aws:iam::123456789012:user/acme-analytics-elasticsearch".to_owned()];
        assert_eq!(
            access_policy(&users, ARN),
            json!({"Version": "2012-10-17", "Statement": [{
                "Effect": "Allow",
                "Principal": {"AWS": ["arn:aws:iam::123456789012:user/acme-analytics-elasticsearch"]},
                "Action": "es:*",
                "Resource": "arn:aws:es:us-east-1:123456789012:domain/acme-analytics-es/*"}]})
        );
        assert_eq!(domain_arn("aws", "us-east-1", "123456789012", "acme-analytics-es"), ARN);
    }

    #[test]
    fn compared_as_json() {
        let users = vec!["arn:aws:iam::1:user/b".to_owned(), "arn:aws:iam::1:user/a".to_owned()];
        let ours = access_policy(&users, ARN);
        // AWS may return it reformatted, reordered, with a lone principal unwrapped.
        let text = serde_json::to_string_pretty(&ours).unwrap();
        assert!(same_policy(&ours, &serde_json::from_str(&text).unwrap()));
        let mut reordered = ours.clone();
        reordered["Statement"][0]["Principal"]["AWS"] = json!(["arn:aws:iam::1:user/a", "arn:aws:iam::1:user/b"]);
        assert!(same_policy(&ours, &reordered));
        let one = access_policy(&users[..1], ARN);
        let mut unwrapped = one.clone();
        unwrapped["Statement"][0]["Principal"]["AWS"] = json!("arn:aws:iam::1:user/b");
        assert!(same_policy(&one, &unwrapped));
        assert!(!same_policy(&ours, &one));
        let mut wider = one.clone();
        wider["Statement"][0]["Principal"] = json!({"AWS": "*"});
        assert!(!same_policy(&one, &wider));
    }
}
