//! Human-readable sizes, ages and tables, as Docker prints them.

/// `4.2MB`, with SI units like `docker images`.
pub fn size(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "kB", "MB", "GB", "TB"];
    let mut v = bytes as f64;
    let mut u = 0;
    while v >= 1000.0 && u < UNITS.len() - 1 {
        v /= 1000.0;
        u += 1;
    }
    // four significant digits, like Go's %.4g in docker's units package
    let decimals = if v >= 100.0 {
        1
    } else if v >= 10.0 {
        2
    } else {
        3
    };
    let mut n = format!("{v:.decimals$}");
    if n.contains('.') {
        n = n.trim_end_matches('0').trim_end_matches('.').to_string();
    }
    format!("{n}{}", UNITS[u])
}

/// `1.5MiB`, with binary units like `docker stats`.
pub fn binary_size(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = bytes as f64;
    let mut u = 0;
    while v >= 1024.0 && u < UNITS.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    format!("{v:.2}{}", UNITS[u]).replace(".00", "")
}

/// `3 seconds`, `2 hours`, `5 weeks`… between an RFC 3339 time and now.
pub fn age(rfc3339: Option<&str>) -> String {
    let Some(t) = rfc3339.and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok()) else {
        return "N/A".into();
    };
    let secs = (chrono::Utc::now() - t.with_timezone(&chrono::Utc)).num_seconds().max(0);
    duration(secs as u64)
}

pub fn duration(secs: u64) -> String {
    let (n, unit) = match secs {
        0 => return "Less than a second".into(),
        s if s < 60 => (s, "second"),
        s if s < 3600 => (s / 60, "minute"),
        s if s < 86400 * 2 => (s / 3600, "hour"),
        s if s < 86400 * 14 => (s / 86400, "day"),
        s if s < 86400 * 60 => (s / (86400 * 7), "week"),
        s if s < 86400 * 365 * 2 => (s / (86400 * 30), "month"),
        s => (s / (86400 * 365), "year"),
    };
    if n == 1 {
        format!("{} {unit}", if unit == "hour" { "An" } else { "1" })
    } else {
        format!("{n} {unit}s")
    }
}

/// Prints rows as left-aligned columns three spaces apart.
pub fn table(header: &[&str], rows: &[Vec<String>]) {
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            widths[i] = widths[i].max(c.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let mut s = String::new();
        for (i, c) in cells.iter().enumerate() {
            if i + 1 == cells.len() {
                s.push_str(c);
            } else {
                s.push_str(&format!("{:<w$}   ", c, w = widths[i]));
            }
        }
        println!("{}", s.trim_end());
    };
    line(header.to_vec());
    for r in rows {
        line(r.iter().map(String::as_str).collect());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(size(999), "999B");
        assert_eq!(size(4_200_000), "4.2MB");
        assert_eq!(size(236_000_000), "236MB");
        assert_eq!(size(1_234_567_890), "1.235GB");
        assert_eq!(size(1_500), "1.5kB");
    }

    #[test]
    fn durations() {
        assert_eq!(duration(5), "5 seconds");
        assert_eq!(duration(3600), "An hour");
        assert_eq!(duration(86400 * 3), "3 days");
        assert_eq!(duration(86400 * 365 * 3), "3 years");
    }
}
