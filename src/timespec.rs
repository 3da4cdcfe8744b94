//! Durations and timestamps as Docker's command line writes them: Go
//! durations (`1m30s`, `500ms`, `1.5h`) for `--health-interval` and
//! friends, and `--since`/`--until` values (a duration before now, a Unix
//! timestamp, or an RFC 3339 date and time).

use std::time::Duration;

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

/// Now, in RFC 3339 with nanoseconds (UTC): the timestamps of records and logs.
pub fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_print_as_go_prints_them() {
        assert_eq!(format_duration(Duration::from_secs(30)), "30s");
        assert_eq!(format_duration(Duration::from_secs(90)), "1m30s");
        assert_eq!(format_duration(Duration::from_secs(3600)), "1h0m0s");
        assert_eq!(format_duration(Duration::from_millis(500)), "500ms");
        assert_eq!(format_duration(Duration::from_millis(1500)), "1.5s");
        assert_eq!(format_duration(Duration::ZERO), "0s");
    }
}
