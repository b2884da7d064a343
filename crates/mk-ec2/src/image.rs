//! Which image the hosts launch from: an Ubuntu LTS release, the name
//! pattern of Canonical's server images of it, and the newest of those.
//! Pure.

use common::error::bad_input;

/// Canonical's AWS account in a partition (`aws`, `aws-cn`,
/// `aws-us-gov`): it publishes the official Ubuntu images there. Source:
/// Canonical, "Find Ubuntu images on AWS", ownership verification
/// (documentation.ubuntu.com/aws).
pub fn canonical_owner(partition: &str) -> &'static str {
    match partition {
        "aws-cn" => "837727238323",
        "aws-us-gov" => "513442679011",
        _ => "099720109477",
    }
}

/// An Ubuntu LTS release, by number and codename.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UbuntuRelease {
    pub version: &'static str,
    pub codename: &'static str,
}

const RELEASES: [UbuntuRelease; 6] = [
    UbuntuRelease { version: "24.04", codename: "noble" },
    UbuntuRelease { version: "22.04", codename: "jammy" },
    UbuntuRelease { version: "20.04", codename: "focal" },
    UbuntuRelease { version: "18.04", codename: "bionic" },
    UbuntuRelease { version: "16.04", codename: "xenial" },
    UbuntuRelease { version: "14.04", codename: "trusty" },
];

impl UbuntuRelease {
    /// `24.04`, `noble`, `24.04 LTS` and `Noble` all name the same release.
    pub fn parse(s: &str) -> anyhow::Result<Self> {
        let wanted = s.trim().trim_end_matches("LTS").trim().to_ascii_lowercase();
        RELEASES.into_iter().find(|r| r.version == wanted || r.codename == wanted).ok_or_else(|| {
            let known: Vec<String> = RELEASES.iter().map(|r| format!("{} ({})", r.version, r.codename)).collect();
            bad_input(format!("unknown --ubuntu-release {s:?}: expected one of {}", known.join(", ")))
        })
    }

    /// The name of Canonical's amd64 server images of this release on
    /// EBS: `ubuntu/images/hvm-ssd/...` up to 22.04, `hvm-ssd-gp3/` after.
    /// Pro and minimal images live under other prefixes and do not match.
    pub fn image_name_pattern(self) -> String {
        format!("ubuntu/images/hvm-ssd*/ubuntu-{}-{}-amd64-server-*", self.codename, self.version)
    }
}

/// Where the image comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImageChoice {
    /// The newest of Canonical's images (`owner`: [`canonical_owner`])
    /// whose name matches the pattern, deprecated ones included.
    Lookup { release: UbuntuRelease, pattern: String, owner: &'static str },
    /// The operator's `--ami-id`.
    Given(String),
}

/// An image as DescribeImages tells it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Image {
    pub id: String,
    pub name: String,
    /// ISO 8601, so that text order is time order.
    pub creation_date: String,
    pub root_device_name: Option<String>,
}

/// The newest image: latest creation date, then the greatest name (names
/// end in the build date) when two were made in the same second.
pub fn newest_image(images: Vec<Image>) -> Option<Image> {
    images.into_iter().max_by(|a, b| (&a.creation_date, &a.name).cmp(&(&b.creation_date, &b.name)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn release_to_pattern() {
        let p = |s: &str| UbuntuRelease::parse(s).unwrap().image_name_pattern();
        assert_eq!(p("24.04"), "ubuntu/images/hvm-ssd*/ubuntu-noble-24.04-amd64-server-*");
        assert_eq!(p("noble"), p("24.04"));
        assert_eq!(p("Jammy"), "ubuntu/images/hvm-ssd*/ubuntu-jammy-22.04-amd64-server-*");
        assert_eq!(p("20.04 LTS"), "ubuntu/images/hvm-ssd*/ubuntu-focal-20.04-amd64-server-*");
        assert_eq!(p("16.04"), "ubuntu/images/hvm-ssd*/ubuntu-xenial-16.04-amd64-server-*");
        for bad in ["", "24.10", "25.04", "lucid", "24"] {
            let e = UbuntuRelease::parse(bad).unwrap_err();
            assert_eq!(common::error::exit_status(&e), 2);
            assert!(e.to_string().contains("--ubuntu-release"), "{e}");
        }
    }

    #[test]
    fn pattern_matches_canonical_names_only() {
        // The glob as EC2 applies it: `*` is any run of characters.
        fn glob(p: &str, s: &str) -> bool {
            match p.split_once('*') {
                None => p == s,
                Some((head, rest)) => {
                    s.starts_with(head) && (0..=s.len() - head.len()).any(|i| glob(rest, &s[head.len() + i..]))
                }
            }
        }
        let p = UbuntuRelease::parse("24.04").unwrap().image_name_pattern();
        assert!(glob(&p, "ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-amd64-server-20250610"));
        assert!(glob(&p, "ubuntu/images/hvm-ssd/ubuntu-noble-24.04-amd64-server-20240423"));
        assert!(!glob(&p, "ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-arm64-server-20250610"));
        assert!(!glob(&p, "ubuntu-pro-server/images/hvm-ssd-gp3/ubuntu-noble-24.04-amd64-pro-server-20250610"));
        assert!(!glob(&p, "ubuntu-minimal/images/hvm-ssd-gp3/ubuntu-noble-24.04-amd64-minimal-20250610"));
        assert!(!glob(&p, "ubuntu/images/hvm-ssd/ubuntu-jammy-22.04-amd64-server-20250610"));
    }

    #[test]
    fn canonical_owns_the_images_in_each_partition() {
        assert_eq!(canonical_owner("aws"), "099720109477");
        assert_eq!(canonical_owner(common::aws::partition("cn-north-1")), "837727238323");
        assert_eq!(canonical_owner(common::aws::partition("us-gov-west-1")), "513442679011");
    }

    #[test]
    fn newest_image_wins() {
        let img = |id: &str, name: &str, date: &str| Image {
            id: id.into(),
            name: name.into(),
            creation_date: date.into(),
            root_device_name: None,
        };
        let got = newest_image(vec![
            img("ami-1", "ubuntu-noble-24.04-amd64-server-20250601", "2025-06-01T10:00:00.000Z"),
            img("ami-2", "ubuntu-noble-24.04-amd64-server-20240423", "2025-07-01T10:00:00.000Z"),
            img("ami-3", "ubuntu-noble-24.04-amd64-server-20250101", "2025-01-01T10:00:00.000Z"),
        ]);
        assert_eq!(got.unwrap().id, "ami-2", "creation date decides, not the name");
        let tie = newest_image(vec![
            img("ami-1", "x-20250601", "2025-06-01T10:00:00.000Z"),
            img("ami-2", "x-20250602", "2025-06-01T10:00:00.000Z"),
        ]);
        assert_eq!(tie.unwrap().id, "ami-2");
        assert_eq!(newest_image(vec![]), None);
    }
}
