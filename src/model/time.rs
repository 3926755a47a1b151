//! Timestamps and durations as users write them. Pure: "now" is always a parameter.

use chrono::{DateTime, Datelike, NaiveDate, Utc};

/// A point in time, in UTC (chrono's `DateTime<Utc>`); parse one with [`parse_timestamp`].
pub type Timestamp = DateTime<Utc>;

/// Why a timestamp or duration did not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TimeError {
    /// The text is not an RFC 3339 timestamp or a date (the text as given).
    #[error("`{0}` is not a timestamp: expected RFC 3339 (2026-01-31T12:00:00Z) or a date (2026-01-31)")]
    Timestamp(String),
    #[error(
        "`{0}` is not a duration: expected a number with a unit d, h or m, optionally combined (7d, 12h, 1d12h, 30m)"
    )]
    /// The text is not a duration such as `7d`, `12h`, `1d12h`, `30m` (the text as given).
    Duration(String),
    /// A computed time (now ± a duration) falls outside the range wharf can write.
    #[error(
        "{option}: {what} falls outside the years 0000 to 9999 that wharf can record; use a shorter duration or another --as-of"
    )]
    OutOfRange {
        /// The option whose value was out of range (`--ago`, `--as-of`, …).
        option: String,
        /// What was computed (the cutoff, an expiry).
        what: String,
    },
}

/// The earliest instant wharf computes with: 0000-01-01T00:00:00Z.
pub fn earliest() -> Timestamp {
    NaiveDate::from_ymd_opt(0, 1, 1).expect("year 0 exists").and_hms_opt(0, 0, 0).expect("midnight").and_utc()
}

/// The latest instant wharf computes with: 9999-12-31T23:59:59Z. RFC 3339, the format of
/// every report, sidecar and trash record, has four-digit years: a time outside
/// [`earliest`]..=[`latest`] could be written but never read back.
pub fn latest() -> Timestamp {
    NaiveDate::from_ymd_opt(9999, 12, 31).expect("9999-12-31 exists").and_hms_opt(23, 59, 59).expect("valid").and_utc()
}

fn in_range(t: Timestamp) -> Option<Timestamp> {
    (earliest()..=latest()).contains(&t).then_some(t)
}

/// `t - d`, or `None` when it overflows or leaves the recordable range.
pub fn checked_before(t: Timestamp, d: chrono::Duration) -> Option<Timestamp> {
    t.checked_sub_signed(d).and_then(in_range)
}

/// `t + d`, or `None` when it overflows or leaves the recordable range.
pub fn checked_after(t: Timestamp, d: chrono::Duration) -> Option<Timestamp> {
    t.checked_add_signed(d).and_then(in_range)
}

/// `now - d` for a cutoff named by `option` (`--grace`, `--ago`, …): a usage error that
/// names the option when it cannot be represented.
pub fn cutoff(now: Timestamp, d: chrono::Duration, option: &str) -> Result<Timestamp, TimeError> {
    checked_before(now, d).ok_or_else(|| TimeError::OutOfRange {
        option: option.to_string(),
        what: format!("{} before {}", format_duration(d), format_timestamp(&now)),
    })
}

/// `now + d` for an expiry driven by `option`: a usage error naming it when it cannot be
/// represented.
pub fn expiry(now: Timestamp, d: chrono::Duration, option: &str) -> Result<Timestamp, TimeError> {
    checked_after(now, d).ok_or_else(|| TimeError::OutOfRange {
        option: option.to_string(),
        what: format!("{} after {}", format_duration(d), format_timestamp(&now)),
    })
}

/// A file time as a [`Timestamp`], clamped to [`earliest`]..=[`latest`] (a planted mtime
/// far in the future or past must not overflow anything downstream).
pub fn from_system(t: std::time::SystemTime) -> Timestamp {
    let secs = match t.duration_since(std::time::UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        Err(e) => i64::try_from(e.duration().as_secs()).map(|s| -s).unwrap_or(i64::MIN),
    };
    let clamped = secs.clamp(earliest().timestamp(), latest().timestamp());
    DateTime::from_timestamp(clamped, 0).expect("within the recordable range")
}

/// Formats a duration the way users write it: `100000000d`, `1d12h`, `30m`, `0s`.
pub fn format_duration(d: chrono::Duration) -> String {
    let mut s = d.num_seconds();
    if s == 0 {
        return "0s".to_string();
    }
    let mut out = String::new();
    if s < 0 {
        out.push('-');
        s = -s;
    }
    for (unit, len) in [('d', 86_400), ('h', 3_600), ('m', 60), ('s', 1)] {
        if s >= len {
            out.push_str(&format!("{}{unit}", s / len));
            s %= len;
        }
    }
    out
}

/// Parses an RFC 3339 timestamp or a plain date (midnight UTC). Years outside RFC 3339's
/// 0000–9999 are refused (chrono's `%Y` takes `-1` or `+10000`), so every timestamp wharf
/// accepts, and so every time it records, prints as RFC 3339 and reads back.
pub fn parse_timestamp(s: &str) -> Result<Timestamp, TimeError> {
    let t = if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        t.with_timezone(&Utc)
    } else if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        d.and_hms_opt(0, 0, 0).expect("midnight exists").and_utc()
    } else {
        return Err(TimeError::Timestamp(s.to_string()));
    };
    if !(0..=9999).contains(&t.year()) {
        return Err(TimeError::Timestamp(s.to_string()));
    }
    Ok(t)
}

/// Formats a timestamp the way every report and the sidecar write it.
pub fn format_timestamp(t: &Timestamp) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// Parses `7d`, `12h`, `30m`, `45s` or combinations such as `1d12h` (acr purge's `--ago`).
pub fn parse_duration(s: &str) -> Result<chrono::Duration, TimeError> {
    let err = || TimeError::Duration(s.to_string());
    let mut total: i64 = 0;
    let mut num = String::new();
    if s.is_empty() {
        return Err(err());
    }
    for c in s.chars() {
        if c.is_ascii_digit() {
            num.push(c);
            continue;
        }
        let unit: i64 = match c {
            'd' => 86_400,
            'h' => 3_600,
            'm' => 60,
            's' => 1,
            _ => return Err(err()),
        };
        let n: i64 = num.parse().map_err(|_| err())?;
        total = n.checked_mul(unit).and_then(|v| total.checked_add(v)).ok_or_else(err)?;
        num.clear();
    }
    if !num.is_empty() {
        return Err(err());
    }
    chrono::Duration::try_seconds(total).ok_or_else(err)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_table() {
        let cases: &[(&str, Option<i64>)] = &[
            ("7d", Some(7 * 86_400)),
            ("12h", Some(12 * 3_600)),
            ("30m", Some(1_800)),
            ("1d12h", Some(86_400 + 12 * 3_600)),
            ("0d", Some(0)),
            ("10s", Some(10)),
            ("", None),
            ("7", None),
            ("d", None),
            ("7w", None),
            ("-1d", None),
            ("99999999999999999999d", None),
        ];
        for (input, secs) in cases {
            assert_eq!(parse_duration(input).ok().map(|d| d.num_seconds()), *secs, "{input}");
        }
    }

    #[test]
    fn duration_overflow_is_an_error_not_a_panic() {
        let now = parse_timestamp("2026-01-31").unwrap();
        let huge = parse_duration("100000000d").unwrap();
        let e = cutoff(now, huge, "--grace").unwrap_err();
        assert!(e.to_string().starts_with("--grace: 100000000d before 2026-01-31T00:00:00Z"), "{e}");
        assert!(expiry(now, huge, "--days").unwrap_err().to_string().contains("--days"));
        // The largest duration parse_duration accepts, from both ends of the range.
        let max = parse_duration(&format!("{}s", i64::MAX / 1000)).unwrap();
        for t in [earliest(), now, latest()] {
            assert!(checked_before(t, max).is_none() && checked_after(t, max).is_none());
        }
        // In range: exact.
        assert_eq!(
            cutoff(now, parse_duration("1d").unwrap(), "--ago").unwrap(),
            parse_timestamp("2026-01-30").unwrap()
        );
        // Leaving the four-digit years is out of range even where chrono could go on.
        assert!(checked_after(latest(), parse_duration("1s").unwrap()).is_none());
        assert!(checked_before(earliest(), parse_duration("1s").unwrap()).is_none());
        assert_eq!(format_duration(parse_duration("1d12h30m5s").unwrap()), "1d12h30m5s");
    }

    #[test]
    fn file_times_clamp() {
        use std::time::{Duration, UNIX_EPOCH};
        let far = UNIX_EPOCH + Duration::from_secs(1 << 60);
        assert_eq!(from_system(far), latest());
        let before = UNIX_EPOCH - Duration::from_secs(1 << 40);
        assert_eq!(from_system(before), earliest());
        assert_eq!(from_system(UNIX_EPOCH + Duration::from_secs(86_400)), parse_timestamp("1970-01-02").unwrap());
    }

    #[test]
    fn timestamps_table() {
        let t = parse_timestamp("2026-01-31T12:00:00+01:00").unwrap();
        assert_eq!(format_timestamp(&t), "2026-01-31T11:00:00Z");
        assert_eq!(format_timestamp(&parse_timestamp("2026-01-31").unwrap()), "2026-01-31T00:00:00Z");
        assert!(parse_timestamp("yesterday").is_err());
        assert!(parse_timestamp("2026-13-01").is_err());
        // Found by the `reference` fuzz target: chrono's `%Y` accepts signed and 5-digit
        // years, which then print as `-0001-…`/`+10000-…` and do not read back.
        for outside_rfc3339 in ["-1-11-1", "-22-02-8", "+10000-01-01", "-0001-01-01T00:00:00Z"] {
            assert!(parse_timestamp(outside_rfc3339).is_err(), "{outside_rfc3339}");
        }
        assert_eq!(format_timestamp(&parse_timestamp("0000-01-01").unwrap()), "0000-01-01T00:00:00Z");
        assert_eq!(format_timestamp(&parse_timestamp("9999-12-31").unwrap()), "9999-12-31T00:00:00Z");
    }
}
