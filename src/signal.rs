//! [`Signal`]: a signal to send to a container's process, parsed as Docker
//! parses `docker kill --signal` and `--stop-signal`.

use std::fmt;
use std::str::FromStr;

/// A signal rrun can send to a container (`kill`, a stop signal): one of
/// the host's standard signals.
///
/// Parsed as Docker parses it: a name with or without `SIG`, in any case
/// (`TERM`, `SIGTERM`, `sigterm`), or its number (`15`). Shown as its full
/// name (`SIGTERM`).
///
/// ```
/// let s: rrun::Signal = "term".parse().unwrap();
/// assert_eq!(s, rrun::Signal::TERM);
/// assert_eq!(s.to_string(), "SIGTERM");
/// assert_eq!(s.number(), 15);
/// assert_eq!("9".parse::<rrun::Signal>().unwrap(), rrun::Signal::KILL);
/// assert!("NOPE".parse::<rrun::Signal>().is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Signal(nix::sys::signal::Signal);

/// A text that names no signal (see [`Signal`]'s `FromStr`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid signal {0:?}")]
pub struct ParseSignalError(pub String);

impl Signal {
    /// `SIGHUP` (1).
    pub const HUP: Signal = Signal(nix::sys::signal::Signal::SIGHUP);
    /// `SIGINT` (2).
    pub const INT: Signal = Signal(nix::sys::signal::Signal::SIGINT);
    /// `SIGQUIT` (3).
    pub const QUIT: Signal = Signal(nix::sys::signal::Signal::SIGQUIT);
    /// `SIGKILL` (9): cannot be caught; `kill`'s default.
    pub const KILL: Signal = Signal(nix::sys::signal::Signal::SIGKILL);
    /// `SIGUSR1` (10).
    pub const USR1: Signal = Signal(nix::sys::signal::Signal::SIGUSR1);
    /// `SIGUSR2` (12).
    pub const USR2: Signal = Signal(nix::sys::signal::Signal::SIGUSR2);
    /// `SIGTERM` (15): the default stop signal.
    pub const TERM: Signal = Signal(nix::sys::signal::Signal::SIGTERM);
    /// `SIGCONT` (18).
    pub const CONT: Signal = Signal(nix::sys::signal::Signal::SIGCONT);
    /// `SIGSTOP` (19).
    pub const STOP: Signal = Signal(nix::sys::signal::Signal::SIGSTOP);
    /// `SIGWINCH` (28).
    pub const WINCH: Signal = Signal(nix::sys::signal::Signal::SIGWINCH);

    /// The signal with this number, if the host has one.
    pub fn from_number(n: i32) -> Option<Signal> {
        nix::sys::signal::Signal::try_from(n).ok().map(Signal)
    }

    /// Its number (as libc and `kill(2)` take it).
    pub fn number(self) -> i32 {
        self.0 as i32
    }

    /// Its full name, e.g. `SIGTERM`.
    pub fn name(self) -> &'static str {
        self.0.as_str()
    }
}

impl FromStr for Signal {
    type Err = ParseSignalError;

    fn from_str(s: &str) -> Result<Signal, ParseSignalError> {
        let bad = || ParseSignalError(s.to_string());
        if let Ok(n) = s.parse::<i32>() {
            return Signal::from_number(n).ok_or_else(bad);
        }
        let up = s.to_ascii_uppercase();
        let name = if up.starts_with("SIG") { up } else { format!("SIG{up}") };
        name.parse().map(Signal).map_err(|_| bad())
    }
}

impl fmt::Display for Signal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl From<nix::sys::signal::Signal> for Signal {
    fn from(s: nix::sys::signal::Signal) -> Signal {
        Signal(s)
    }
}

impl From<Signal> for nix::sys::signal::Signal {
    fn from(s: Signal) -> nix::sys::signal::Signal {
        s.0
    }
}

impl From<Signal> for i32 {
    fn from(s: Signal) -> i32 {
        s.number()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_names_in_any_case_with_or_without_sig_and_numbers() {
        for text in ["TERM", "SIGTERM", "sigterm", "term", "Sigterm", "15"] {
            assert_eq!(text.parse::<Signal>(), Ok(Signal::TERM), "{text}");
        }
        assert_eq!("usr1".parse::<Signal>(), Ok(Signal::USR1));
        assert_eq!("9".parse::<Signal>(), Ok(Signal::KILL));
    }

    #[test]
    fn refuses_what_names_no_signal() {
        for text in ["", "0", "NOPE", "SIG", "-1", "65", "SIGTERM "] {
            let e = text.parse::<Signal>().unwrap_err();
            assert_eq!(e, ParseSignalError(text.to_string()));
            assert_eq!(e.to_string(), format!("invalid signal {text:?}"));
        }
    }

    #[test]
    fn shows_its_full_name_and_converts_to_the_number() {
        assert_eq!(Signal::KILL.to_string(), "SIGKILL");
        assert_eq!(Signal::HUP.name(), "SIGHUP");
        assert_eq!(i32::from(Signal::TERM), libc::SIGTERM);
        assert_eq!(nix::sys::signal::Signal::from(Signal::INT), nix::sys::signal::Signal::SIGINT);
        assert_eq!(Signal::from_number(libc::SIGWINCH), Some(Signal::WINCH));
        assert_eq!(Signal::from_number(0), None);
    }
}
