//! Naming rules of AWS resources that more than one tool names.

use crate::error::bad_input;

/// S3's naming rules for general purpose buckets.
pub fn validate_bucket_name(name: &str) -> anyhow::Result<()> {
    let problem = if !(3..=63).contains(&name.len()) {
        Some("must be 3 to 63 characters")
    } else if !name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.') {
        Some("may hold only lowercase letters, digits, hyphens and dots")
    } else if !name.starts_with(|c: char| c.is_ascii_alphanumeric())
        || !name.ends_with(|c: char| c.is_ascii_alphanumeric())
    {
        Some("must start and end with a letter or digit")
    } else if name.contains("..") {
        Some("must not hold two dots in a row")
    } else if name.parse::<std::net::Ipv4Addr>().is_ok() {
        Some("must not look like an IP address")
    } else if name.starts_with("xn--")
        || name.starts_with("sthree-")
        || name.ends_with("-s3alias")
        || name.ends_with("--ol-s3")
    {
        Some("uses a prefix or suffix S3 reserves")
    } else {
        None
    };
    match problem {
        Some(p) => Err(bad_input(format!("invalid bucket name {name:?}: it {p}"))),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_names() {
        for ok in ["abc", "acme-tracking-logs", "a.b-c", &"a".repeat(63)] {
            validate_bucket_name(ok).unwrap();
        }
        for bad in ["ab", "Acme", "a_b", "-ab", "ab-", "a..b", "192.168.1.1", "xn--ab", "ab-s3alias", &"a".repeat(64)] {
            let e = validate_bucket_name(bad).unwrap_err();
            assert!(e.to_string().starts_with("invalid bucket name"), "{bad}: {e}");
        }
    }
}
