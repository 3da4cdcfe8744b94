//! [`Stdio`]: where a container's (or an exec'd process's) standard
//! streams go, and [`Output`]: what a captured run wrote.

/// Where the standard streams of a process rrun starts (`run`, `exec`) go.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Stdio {
    /// The calling process's own stdin (with `interactive`), stdout and
    /// stderr, as the CLI's `run` and `exec` use them.
    #[default]
    Inherit,
    /// `/dev/null` as stdin; stdout and stderr read by rrun and dropped
    /// (a container's log still gets them). With [`crate::Rrun::spawn`] and
    /// [`crate::Rrun::exec_spawn`], `/dev/null` all three.
    Null,
    /// Pipes the caller holds: the write end of stdin, the read ends of
    /// stdout and stderr ([`crate::RunningContainer`],
    /// [`crate::RunningProcess`]). Only [`crate::Rrun::spawn`] and
    /// [`crate::Rrun::exec_spawn`] hand them over; `run` and `exec`, which
    /// return no handle, refuse it (`output` and `exec_output` collect the
    /// output instead).
    Piped,
    /// A pseudo-terminal: its master side for the caller with
    /// [`crate::Rrun::spawn`] and [`crate::Rrun::exec_spawn`] (as `tty`
    /// gives it there); with `run` and `exec`, the same as `tty` with
    /// [`Stdio::Inherit`] (the terminal relayed to the caller's own).
    Pty,
}

/// What a process wrote, and how it ended ([`crate::Rrun::output`],
/// [`crate::Rrun::exec_output`]), as `std::process::Output` has it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Output {
    /// Its exit code (128+N for signal N).
    pub status: i32,
    /// All it wrote to stdout (or to its terminal, with `tty`).
    pub stdout: Vec<u8>,
    /// All it wrote to stderr.
    pub stderr: Vec<u8>,
}
