//! Comparing policy documents (IAM, S3 bucket, search domain access
//! policies) by meaning rather than by text: AWS rewrites documents it
//! stores (a one-element list becomes a string, lists are reordered).

use serde_json::Value;

/// Normalizes what AWS may rewrite or what does not change the meaning: a
/// one-element list is the same as its element, the order of a list's
/// elements (actions, resources, statements) does not matter, nor do
/// duplicates in it.
pub fn normalize(v: &Value) -> Value {
    match v {
        Value::Array(a) if a.len() == 1 => normalize(&a[0]),
        Value::Array(a) => {
            let mut items: Vec<Value> = a.iter().map(normalize).collect();
            items.sort_by_key(std::string::ToString::to_string);
            items.dedup();
            Value::Array(items)
        }
        Value::Object(o) => Value::Object(o.iter().map(|(k, v)| (k.clone(), normalize(v))).collect()),
        other => other.clone(),
    }
}

/// Whether two documents mean the same, up to AWS's rewrites.
pub fn same(a: &Value, b: &Value) -> bool {
    normalize(a) == normalize(b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn equal_up_to_rewrites() {
        let a = json!({"Statement": [{"Action": ["s3:GetObject"], "Resource": ["b", "a", "a"]}]});
        let b = json!({"Statement": {"Action": "s3:GetObject", "Resource": ["a", "b"]}});
        assert!(same(&a, &b));
        assert!(!same(&a, &json!({"Statement": {"Action": "s3:PutObject", "Resource": ["a", "b"]}})));
    }
}
