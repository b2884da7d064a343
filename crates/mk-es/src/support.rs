//! How long AWS supports each engine version: standard support, then paid
//! Extended Support (a fee per normalized instance hour on top of the
//! instance price), then none. Data with its source, the pure lookup, and
//! the plan's finding about it. No I/O but [`Day::today`].

use std::fmt;

use common::Finding;

use crate::desired::{Engine, EngineVersion};

/// A calendar day (UTC), as days since 1970-01-01.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Day(i64);

impl Day {
    /// The day of `year-month-day` (proleptic Gregorian; H. Hinnant's
    /// `days_from_civil`).
    pub const fn ymd(year: i64, month: i64, day: i64) -> Day {
        let y = if month <= 2 { year - 1 } else { year };
        let era = y.div_euclid(400);
        let yoe = y - era * 400;
        let mp = (month + 9) % 12;
        let doy = (153 * mp + 2) / 5 + day - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        Day(era * 146_097 + doe - 719_468)
    }

    /// Today, by the system clock.
    pub fn today() -> Day {
        let secs =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or_default();
        Day(i64::try_from(secs / 86_400).unwrap_or_default())
    }

    /// `(year, month, day)` (H. Hinnant's `civil_from_days`).
    fn civil(self) -> (i64, i64, i64) {
        let z = self.0 + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z - era * 146_097;
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = doy - (153 * mp + 2) / 5 + 1;
        let month = if mp < 10 { mp + 3 } else { mp - 9 };
        (yoe + era * 400 + i64::from(month <= 2), month, day)
    }
}

impl fmt::Display for Day {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (y, m, d) = self.civil();
        write!(f, "{y:04}-{m:02}-{d:02}")
    }
}

/// When a version's standard support ends, and its Extended Support.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Support {
    pub standard_ends: Day,
    pub extended_ends: Day,
}

const fn ends(standard: Day, extended: Day) -> Support {
    Support { standard_ends: standard, extended_ends: extended }
}

const NOV_2025: Day = Day::ymd(2025, 11, 7);
const NOV_2026: Day = Day::ymd(2026, 11, 7);
const NOV_2027: Day = Day::ymd(2027, 11, 7);
const NOV_2028: Day = Day::ymd(2028, 11, 7);
const NOV_2030: Day = Day::ymd(2030, 11, 7);

/// AWS's end-of-support dates, by engine and `major.minor`. Versions not
/// listed (OpenSearch 1.3, 2.11 and later, 3.x) have no end announced.
///
/// Sources: AWS, "Amazon OpenSearch Service" developer guide, "Standard
/// and extended support" (what-is.html#end-of-support), as tracked by
/// endoflife.date (github.com/endoflife-date/endoflife.date,
/// products/amazon-elasticsearch.md revised 2026-09-01, and
/// products/amazon-opensearch.md of 2026-03-09). AWS first gave every
/// listed Elasticsearch version but 5.6 an Extended Support end of
/// 2026-11-07 (SPEC section 6 still says so for 1.5); the 2026-09
/// revision moves it to 2027-11-07 and adds 6.8, 7.9 and 7.10. The
/// OpenSearch rows have had no revision since.
const SCHEDULE: &[(Engine, u32, &[u32], Support)] = &[
    (Engine::Elasticsearch, 1, &[5], ends(NOV_2025, NOV_2027)),
    (Engine::Elasticsearch, 2, &[3], ends(NOV_2025, NOV_2027)),
    (Engine::Elasticsearch, 5, &[1, 3, 5], ends(NOV_2025, NOV_2027)),
    (Engine::Elasticsearch, 5, &[6], ends(NOV_2025, NOV_2028)),
    (Engine::Elasticsearch, 6, &[0, 2, 3, 4, 5, 7], ends(NOV_2025, NOV_2027)),
    (Engine::Elasticsearch, 6, &[8], ends(NOV_2027, NOV_2030)),
    (Engine::Elasticsearch, 7, &[1, 4, 7, 8], ends(NOV_2025, NOV_2027)),
    (Engine::Elasticsearch, 7, &[9], ends(NOV_2027, NOV_2028)),
    (Engine::Elasticsearch, 7, &[10], ends(NOV_2027, NOV_2030)),
    (Engine::OpenSearch, 1, &[0, 1, 2], ends(NOV_2025, NOV_2026)),
    (Engine::OpenSearch, 2, &[3, 5, 7, 9], ends(NOV_2025, NOV_2026)),
];

/// The support dates of a version, if AWS announced them.
pub fn support(v: &EngineVersion) -> Option<Support> {
    SCHEDULE
        .iter()
        .find(|(engine, major, minors, _)| *engine == v.engine && *major == v.major && minors.contains(&v.minor))
        .map(|(_, _, _, s)| *s)
}

/// Where a version is in its support on a day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Standard support (or no end announced).
    Standard,
    /// Paid Extended Support.
    Extended(Support),
    /// Past the end of Extended Support.
    Ended(Support),
}

pub fn phase(v: &EngineVersion, today: Day) -> Phase {
    match support(v) {
        Some(s) if today >= s.extended_ends => Phase::Ended(s),
        Some(s) if today >= s.standard_ends => Phase::Extended(s),
        _ => Phase::Standard,
    }
}

/// A warning when `version` is past AWS's standard support on `today`
/// for domain `name`: paid Extended Support (naming the fee), or no support
/// at all.
pub fn finding(name: &str, version: &EngineVersion, today: Day) -> Option<Finding> {
    let finding = match phase(version, today) {
        Phase::Standard => return None,
        Phase::Extended(s) => Finding::warning(format!(
            "domain {name}: {version} is in paid Extended Support: AWS standard support ended {}, \
             the end of AWS support is {}, and until then AWS bills an Extended Support fee per normalized \
             instance hour on top of the instance price; upgrade to a version in standard support \
             (Elasticsearch_7.10 or OpenSearch, which the pipeline's 7.x client reaches) to stop the fee",
            s.standard_ends, s.extended_ends
        ))
        .with_code("extended-support"),
        Phase::Ended(s) => Finding::warning(format!(
            "domain {name}: {version} is past the end of AWS support (standard support ended {}, \
             Extended Support ended {}): AWS may refuse it or upgrade it; the pipeline's client is 7.x: \
             prefer Elasticsearch_7.10",
            s.standard_ends, s.extended_ends
        ))
        .with_code("support-ended"),
    };
    Some(finding.about(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> EngineVersion {
        EngineVersion::parse(s).unwrap()
    }

    #[test]
    fn days() {
        assert_eq!(Day::ymd(1970, 1, 1), Day(0));
        assert_eq!(Day::ymd(2000, 3, 1), Day(11_017));
        assert_eq!(Day::ymd(2025, 11, 7).to_string(), "2025-11-07");
        assert_eq!(Day::ymd(2024, 2, 29).to_string(), "2024-02-29");
        assert_eq!(Day(Day::ymd(2026, 12, 31).0 + 1), Day::ymd(2027, 1, 1));
        assert!(Day::today() > Day::ymd(2026, 1, 1));
    }

    #[test]
    fn the_schedule() {
        let dec_2026 = Day::ymd(2026, 12, 3);
        assert_eq!(phase(&v("Elasticsearch_1.5"), dec_2026), Phase::Extended(ends(NOV_2025, NOV_2027)));
        assert_eq!(phase(&v("Elasticsearch_5.6"), dec_2026), Phase::Extended(ends(NOV_2025, NOV_2028)));
        assert_eq!(phase(&v("Elasticsearch_7.10"), dec_2026), Phase::Standard);
        assert_eq!(phase(&v("Elasticsearch_7.10"), Day::ymd(2028, 1, 1)), Phase::Extended(ends(NOV_2027, NOV_2030)));
        assert_eq!(phase(&v("Elasticsearch_1.5"), NOV_2027), Phase::Ended(ends(NOV_2025, NOV_2027)));
        assert_eq!(phase(&v("Elasticsearch_1.5"), Day::ymd(2025, 11, 6)), Phase::Standard);
        assert_eq!(phase(&v("OpenSearch_2.9"), dec_2026), Phase::Ended(ends(NOV_2025, NOV_2026)));
        for current in ["OpenSearch_1.3", "OpenSearch_2.11", "OpenSearch_2.19", "OpenSearch_3.1"] {
            assert_eq!(phase(&v(current), dec_2026), Phase::Standard, "{current}");
        }
        assert_eq!(support(&v("Elasticsearch_6.1")), None, "never offered");
    }

    #[test]
    fn findings_name_the_fee_and_the_dates() {
        let dec_2026 = Day::ymd(2026, 12, 3);
        let f = finding("acme-es", &v("Elasticsearch_1.5"), dec_2026).unwrap();
        assert_eq!((f.severity, f.code), (common::Severity::Warning, Some("extended-support")));
        assert!(
            f.message.starts_with("domain acme-es: Elasticsearch_1.5 is in paid Extended Support"),
            "{}",
            f.message
        );
        for part in ["ended 2025-11-07", "end of AWS support is 2027-11-07", "Extended Support fee per normalized"] {
            assert!(f.message.contains(part), "{part}: {}", f.message);
        }
        let f = finding("acme-es", &v("Elasticsearch_1.5"), Day::ymd(2027, 12, 1)).unwrap();
        assert_eq!(f.code, Some("support-ended"));
        assert!(f.message.contains("past the end of AWS support"), "{}", f.message);
        assert_eq!(finding("acme-es", &v("Elasticsearch_7.10"), dec_2026), None);
        let later = finding("acme-es", &v("Elasticsearch_7.10"), NOV_2027).unwrap();
        assert_eq!(later.code, Some("extended-support"));
    }
}
