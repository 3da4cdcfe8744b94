//! Durations and timestamps as Docker's command line writes them: Go
//! durations (`1m30s`, `500ms`, `1.5h`) for `--health-interval` and
//! friends, and `--since`/`--until` values (a duration before now, a Unix
//! timestamp, or an RFC 3339 date and time).

use std::time::Duration;

/// A Go duration: a sequence of decimal numbers with units `ns`, `us`
/// (or `µs`), `ms`, `s`, `m`, `h`; `0` alone is zero. No sign.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let bad = || format!("invalid duration {s:?}: expected e.g. 30s, 1m30s, 500ms or 1.5h");
    if s == "0" {
        return Ok(Duration::ZERO);
    }
    if s.is_empty() {
        return Err(bad());
    }
    let mut rest = s;
    let mut total = 0f64;
    while !rest.is_empty() {
        let num_len = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).ok_or_else(bad)?;
        let number: f64 = rest[..num_len].parse().map_err(|_| bad())?;
        rest = &rest[num_len..];
        let unit_len = rest.find(|c: char| c.is_ascii_digit() || c == '.').unwrap_or(rest.len());
        let nanos_per = match &rest[..unit_len] {
            "ns" => 1e0,
            "us" | "µs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return Err(bad()),
        };
        rest = &rest[unit_len..];
        total += number * nanos_per;
    }
    if !total.is_finite() || total > u64::MAX as f64 {
        return Err(bad());
    }
    Ok(Duration::from_nanos(total as u64))
}

/// Go's spelling of a duration, as Docker prints one: `30s`, `1m30s`, `500ms`, `1h0m0s`.
pub fn format_duration(d: Duration) -> String {
    let ns = d.as_nanos();
    if ns == 0 {
        return "0s".into();
    }
    if ns < 1_000_000_000 {
        return match ns {
            n if n % 1_000_000 == 0 => format!("{}ms", n / 1_000_000),
            n if n % 1_000 == 0 => format!("{}µs", n / 1_000),
            n => format!("{n}ns"),
        };
    }
    let secs = d.as_secs();
    let frac = d.subsec_nanos();
    let s = if frac == 0 {
        format!("{}s", secs % 60)
    } else {
        let f = format!("{:09}", frac);
        format!("{}.{}s", secs % 60, f.trim_end_matches('0'))
    };
    match (secs / 3600, secs % 3600 / 60) {
        (0, 0) => s,
        (0, m) => format!("{m}m{s}"),
        (h, m) => format!("{h}h{m}m{s}"),
    }
}

/// A `--since`/`--until` value as nanoseconds since the epoch: a duration
/// counts back from `now_ns` (`10m` is ten minutes ago), a number is a Unix
/// timestamp (`1700000000`, `1700000000.5`), anything else a date and time
/// (`2024-01-02T03:04:05Z`, `2024-01-02T03:04:05.5+01:00`, or in local time
/// `2024-01-02T03:04:05`, `2024-01-02T03:04`, `2024-01-02`).
pub fn parse_timestamp(s: &str, now_ns: i64) -> Result<i64, String> {
    let bad = || format!("failed to parse value as time or duration: {s:?}");
    if let Ok(d) = parse_duration(s) {
        return Ok(now_ns.saturating_sub(d.as_nanos().min(i64::MAX as u128) as i64));
    }
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        let (secs, frac) = s.split_once('.').unwrap_or((s, ""));
        let secs: i64 = secs.parse().map_err(|_| bad())?;
        if frac.len() > 9 || !frac.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        let nanos: i64 = if frac.is_empty() { 0 } else { format!("{frac:0<9}").parse().map_err(|_| bad())? };
        return secs.checked_mul(1_000_000_000).and_then(|v| v.checked_add(nanos)).ok_or_else(bad);
    }
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s) {
        return t.timestamp_nanos_opt().ok_or_else(bad);
    }
    use chrono::TimeZone;
    let naive = chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f")
        .or_else(|_| chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M"))
        .or_else(|_| {
            chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").map(|d| d.and_hms_opt(0, 0, 0).expect("midnight"))
        })
        .map_err(|_| bad())?;
    let local = chrono::Local.from_local_datetime(&naive).earliest().ok_or_else(bad)?;
    local.timestamp_nanos_opt().ok_or_else(bad)
}

/// Now, in RFC 3339 with nanoseconds (UTC): the timestamps of records and logs.
pub fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations() {
        assert_eq!(parse_duration("30s").unwrap(), Duration::from_secs(30));
        assert_eq!(parse_duration("1m30s").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_duration("1.5h").unwrap(), Duration::from_secs(5400));
        assert_eq!(parse_duration("0").unwrap(), Duration::ZERO);
        assert_eq!(parse_duration("2us").unwrap(), Duration::from_micros(2));
        for bad in ["", "10", "s", "1x", "-1s", "1.2.3s"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn durations_print_as_go_prints_them() {
        assert_eq!(format_duration(Duration::from_secs(30)), "30s");
        assert_eq!(format_duration(Duration::from_secs(90)), "1m30s");
        assert_eq!(format_duration(Duration::from_secs(3600)), "1h0m0s");
        assert_eq!(format_duration(Duration::from_millis(500)), "500ms");
        assert_eq!(format_duration(Duration::from_millis(1500)), "1.5s");
        assert_eq!(format_duration(Duration::ZERO), "0s");
    }

    #[test]
    fn timestamps_like_docker() {
        let now = 1_700_000_000_000_000_000;
        assert_eq!(parse_timestamp("10m", now).unwrap(), now - 600_000_000_000);
        assert_eq!(parse_timestamp("0s", now).unwrap(), now);
        assert_eq!(parse_timestamp("1700000000", now).unwrap(), 1_700_000_000_000_000_000);
        assert_eq!(parse_timestamp("1700000000.25", now).unwrap(), 1_700_000_000_250_000_000);
        assert_eq!(parse_timestamp("2023-11-14T22:13:20Z", now).unwrap(), 1_700_000_000_000_000_000);
        assert_eq!(parse_timestamp("2023-11-14T23:13:20.5+01:00", now).unwrap(), 1_700_000_000_500_000_000);
        assert!(parse_timestamp("2023-11-14", now).is_ok());
        assert!(parse_timestamp("2023-11-14T22:13", now).is_ok());
        assert!(parse_timestamp("yesterday", now).is_err());
        assert!(parse_timestamp("1.2.3", now).is_err());
    }
}
