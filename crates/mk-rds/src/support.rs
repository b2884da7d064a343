//! RDS for MySQL's support calendar: the `EngineLifecycleSupport` a create
//! sends, and the findings for an instance whose major version is past RDS
//! standard support. Pure: the day is given.
//!
//! Past the end of standard support, an instance enrolled in RDS Extended
//! Support (the API's default, `open-source-rds-extended-support`) is billed
//! per vCPU-hour on top of the instance; one with Extended Support disabled
//! is upgraded by RDS itself. A create with Extended Support disabled fails
//! once its major version is past the end of standard support, so MySQL 8.0
//! (ended 2026-07-31) can only be created enrolled, and billed.
//!
//! Sources: RDS User Guide, "Supported MySQL major versions on Amazon RDS",
//! "Amazon RDS Extended Support charges" and "Creating a DB instance with
//! RDS Extended Support"; CreateDBInstance API reference
//! (`EngineLifecycleSupport`); RDS for MySQL pricing, us-east-1.

use common::Finding;
use time::Date;

/// Enrolled in RDS Extended Support (the API's default).
pub const EXTENDED_SUPPORT: &str = "open-source-rds-extended-support";
/// Not enrolled: past the end of standard support, RDS upgrades it.
pub const EXTENDED_SUPPORT_DISABLED: &str = "open-source-rds-extended-support-disabled";

/// `(year, month, day)`.
type Day = (i32, u8, u8);

/// A major version whose RDS standard support has an end in sight.
struct Major {
    version: &'static str,
    /// The last day of RDS standard support (billing starts the day after).
    standard_end: Day,
    /// The first day of the third year of Extended Support: its price doubles.
    year3: Day,
    /// The last day of Extended Support: then RDS upgrades the instance.
    extended_end: Day,
    /// The supported version to upgrade to, and how.
    upgrade: &'static str,
}

const CALENDAR: [Major; 2] = [
    Major {
        version: "5.7",
        standard_end: (2024, 2, 29),
        year3: (2026, 3, 1),
        extended_end: (2027, 2, 28),
        upgrade: "to 8.0, then 8.4 (RDS upgrades one major version at a time)",
    },
    Major {
        version: "8.0",
        standard_end: (2026, 7, 31),
        year3: (2028, 8, 1),
        extended_end: (2029, 7, 31),
        upgrade: "to 8.4",
    },
];

/// Extended Support's price in us-east-1, per vCPU-hour, years 1-2 and 3.
const RATES: (&str, &str) = ("$0.100", "$0.200");

fn day(d: Date) -> Day {
    (d.year(), u8::from(d.month()), d.day())
}

fn show((y, m, d): Day) -> String {
    format!("{y:04}-{m:02}-{d:02}")
}

/// The calendar entry of a version such as `8.0` or `8.0.39`.
fn major(version: &str) -> Option<&'static Major> {
    let mut parts = version.split('.');
    let mm = format!("{}.{}", parts.next()?, parts.next()?);
    CALENDAR.iter().find(|m| m.version == mm)
}

/// Past the end of standard support on `today`.
fn past(m: &Major, today: Date) -> bool {
    day(today) > m.standard_end
}

/// What Extended Support costs for `m` now.
fn rate(m: &Major, today: Date) -> String {
    if day(today) >= m.year3 {
        format!("{} per vCPU-hour in us-east-1 (its third year, since {})", RATES.1, show(m.year3))
    } else {
        format!("{} per vCPU-hour in us-east-1 ({} from {})", RATES.0, RATES.1, show(m.year3))
    }
}

/// The `EngineLifecycleSupport` a create of `version` sends: disabled,
/// unless the version is past standard support (AWS then refuses a create
/// with it disabled).
pub fn create_lifecycle(version: &str, today: Date) -> &'static str {
    match major(version) {
        Some(m) if past(m, today) => EXTENDED_SUPPORT,
        _ => EXTENDED_SUPPORT_DISABLED,
    }
}

/// A create of an old version: what it will cost, or what RDS will do.
pub fn create_finding(id: &str, version: &str, class: &str, today: Date) -> Option<Finding> {
    let m = major(version)?;
    let finding = if past(m, today) {
        Finding::warning(format!(
            "DB instance {id} is created with MySQL {version}, past RDS standard support (ended {}): AWS creates \
             it only enrolled in RDS Extended Support, billed {} per vCPU on top of the {class} instance \
             (db.t3.medium has 2 vCPUs); the default --engine-version 8.4 has no such charge",
            show(m.standard_end),
            rate(m, today)
        ))
        .with_code("extended-support")
    } else {
        Finding::info(format!(
            "DB instance {id} is created with MySQL {version}, whose RDS standard support ends {}: it is created \
             with Extended Support disabled, so RDS upgrades it {} then instead of billing Extended Support",
            show(m.standard_end),
            m.upgrade
        ))
        .with_code("end-of-standard-support")
    };
    Some(finding.about(id))
}

/// An existing instance (ours, adopted, or a `--join-sg` one) that runs a
/// MySQL major version past standard support: billed Extended Support
/// (`lifecycle` enabled, or not reported: the API's default), or an upgrade
/// RDS will make itself (disabled).
pub fn running_finding(id: &str, engine: &str, version: &str, lifecycle: Option<&str>, today: Date) -> Option<Finding> {
    if engine != "mysql" {
        return None;
    }
    let m = major(version).filter(|m| past(m, today))?;
    let how = format!(
        "upgrade it {}: try it on a restored snapshot first, then `aws rds modify-db-instance \
         --db-instance-identifier {id} --engine-version <new> --allow-major-version-upgrade` in a maintenance \
         window (or a blue/green deployment, for less downtime)",
        m.upgrade
    );
    let finding = if lifecycle == Some(EXTENDED_SUPPORT_DISABLED) {
        Finding::warning(format!(
            "DB instance {id} runs MySQL {version}, past RDS standard support (ended {}), with Extended Support \
             disabled: RDS upgrades it itself, in a maintenance window of its choosing; {how}",
            show(m.standard_end)
        ))
        .with_code("forced-upgrade")
    } else {
        Finding::warning(format!(
            "DB instance {id} runs MySQL {version}, past RDS standard support (ended {}): it is in RDS Extended \
             Support, billed {} per vCPU on top of the instance, until {} (then RDS upgrades it itself); {how}",
            show(m.standard_end),
            rate(m, today),
            show(m.extended_end)
        ))
        .with_code("extended-support")
    };
    Some(finding.about(id))
}

#[cfg(test)]
mod tests {
    use time::Month;

    use super::*;

    fn on(y: i32, m: u8, d: u8) -> Date {
        Date::from_calendar_date(y, Month::try_from(m).unwrap(), d).unwrap()
    }

    #[test]
    fn creates_disable_extended_support_unless_aws_would_refuse() {
        let dec_2026 = on(2026, 12, 3);
        assert_eq!(create_lifecycle("8.4", dec_2026), EXTENDED_SUPPORT_DISABLED);
        assert_eq!(create_lifecycle("8.4.3", dec_2026), EXTENDED_SUPPORT_DISABLED);
        assert_eq!(create_lifecycle("8.0", on(2026, 7, 31)), EXTENDED_SUPPORT_DISABLED, "its last day");
        assert_eq!(create_lifecycle("8.0", on(2026, 8, 1)), EXTENDED_SUPPORT);
        assert_eq!(create_lifecycle("8.0.39", dec_2026), EXTENDED_SUPPORT);
        assert!(create_finding("db", "8.4", "db.t3.medium", dec_2026).is_none());
        let f = create_finding("db", "8.0", "db.t3.medium", dec_2026).unwrap();
        assert_eq!((f.code, f.severity), (Some("extended-support"), common::Severity::Warning));
        assert!(f.message.contains("2026-07-31") && f.message.contains("$0.100 per vCPU-hour"), "{}", f.message);
        let f = create_finding("db", "8.0", "db.t3.medium", on(2026, 5, 1)).unwrap();
        assert_eq!((f.code, f.severity), (Some("end-of-standard-support"), common::Severity::Info));
    }

    #[test]
    fn running_an_old_version_names_the_cost_or_the_forced_upgrade() {
        let dec_2026 = on(2026, 12, 3);
        assert!(running_finding("db", "mysql", "8.4.3", None, dec_2026).is_none());
        assert!(running_finding("db", "mysql", "8.0.39", None, on(2026, 7, 1)).is_none(), "still supported");
        assert!(running_finding("db", "postgres", "8.0", None, dec_2026).is_none());
        for lifecycle in [None, Some(EXTENDED_SUPPORT)] {
            let f = running_finding("edxapp", "mysql", "8.0.39", lifecycle, dec_2026).unwrap();
            assert_eq!(f.code, Some("extended-support"));
            assert_eq!(f.resource.as_deref(), Some("edxapp"));
            for needle in ["8.0.39", "2026-07-31", "$0.100 per vCPU-hour", "$0.200 from 2028-08-01", "to 8.4"] {
                assert!(f.message.contains(needle), "{needle}: {}", f.message);
            }
        }
        let f = running_finding("old", "mysql", "5.7.44", None, dec_2026).unwrap();
        assert!(f.message.contains("$0.200 per vCPU-hour") && f.message.contains("to 8.0, then 8.4"), "{}", f.message);
        let f = running_finding("db", "mysql", "8.0.39", Some(EXTENDED_SUPPORT_DISABLED), dec_2026).unwrap();
        assert_eq!((f.code, f.severity), (Some("forced-upgrade"), common::Severity::Warning));
    }
}
