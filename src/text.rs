//! Text from outside (file contents, archive member names, a peer's error)
//! made fit for a one-line message: control characters, invalid UTF-8 and
//! the replacement character escaped, and the whole cut short.

/// `s` with every control character, and every U+FFFD (where invalid UTF-8
/// was), written as an escape (`\x1b`, `\u{fffd}`), cut to about `max` characters.
pub fn printable(s: &str, max: usize) -> String {
    let mut out = String::new();
    for (n, c) in s.chars().enumerate() {
        if n >= max {
            out.push('…');
            break;
        }
        match c {
            '\u{fffd}' => out.push_str("\\u{fffd}"),
            c if c.is_control() => out.extend(c.escape_default()),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_and_invalid_utf8_are_escaped_and_cut() {
        assert_eq!(printable("a\nb\x1b[31m", 100), "a\\nb\\u{1b}[31m");
        assert_eq!(printable(&String::from_utf8_lossy(b"ok\xff\xfe"), 100), "ok\\u{fffd}\\u{fffd}");
        assert_eq!(printable("abcdef", 3), "abc…");
        assert_eq!(printable("héllo", 10), "héllo", "printable non-ASCII stays");
    }
}
