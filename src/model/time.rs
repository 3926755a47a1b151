//! Timestamps and durations as users write them. Pure: "now" is always a parameter.

use chrono::{DateTime, Datelike, NaiveDate, Utc};

pub type Timestamp = DateTime<Utc>;

/// Why a timestamp or duration did not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TimeError {
    #[error("`{0}` is not a timestamp: expected RFC 3339 (2026-01-31T12:00:00Z) or a date (2026-01-31)")]
    Timestamp(String),
    #[error(
        "`{0}` is not a duration: expected a number with a unit d, h or m, optionally combined (7d, 12h, 1d12h, 30m)"
    )]
    Duration(String),
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
