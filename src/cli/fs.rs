//! A container's filesystem: `diff`, `export`, `commit`, `cp`.

use clap::Args;
use rrun::{CommitOptions, CopyHost, CopyOptions, Error, Rrun};
use std::io::IsTerminal;
use std::os::fd::AsFd;
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct DiffArgs {
    /// Output format: table or json
    #[arg(long, default_value = "table")]
    pub format: String,
    pub container: String,
}

#[derive(Args, Debug)]
pub struct ExportArgs {
    /// Write to this file instead of standard output
    #[arg(short, long)]
    pub output: Option<PathBuf>,
    pub container: String,
}

#[derive(Args, Debug)]
pub struct CommitArgs {
    /// Commit message
    #[arg(short, long)]
    pub message: Option<String>,
    /// Author (e.g. "Jane <jane@example.com>")
    #[arg(short, long)]
    pub author: Option<String>,
    /// Dockerfile instruction to apply: CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, STOPSIGNAL, USER, VOLUME, WORKDIR
    #[arg(short, long = "change")]
    pub change: Vec<String>,
    /// Pause the container while its changes are written
    #[arg(short, long, default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1,
          default_missing_value = "true", require_equals = true)]
    pub pause: bool,
    pub container: String,
    /// Name of the new image: REPOSITORY[:TAG]
    pub reference: Option<String>,
}

#[derive(Args, Debug)]
pub struct CpArgs {
    /// Keep the source's owner (uid:gid) instead of the destination's user
    #[arg(short, long)]
    pub archive: bool,
    /// Follow a symlink that SRC names
    #[arg(short = 'L', long = "follow-link")]
    pub follow_link: bool,
    /// CONTAINER:PATH, a host path, or - (a tar stream on standard input)
    pub source: String,
    /// CONTAINER:PATH, a host path, or - (a tar stream on standard output)
    pub destination: String,
}

pub fn diff(rrun: &Rrun, a: DiffArgs) -> Result<i32, Error> {
    let changes = rrun.diff(&a.container)?;
    match a.format.as_str() {
        "json" => println!("{}", serde_json::to_string_pretty(&changes).expect("serializes")),
        "table" => changes.iter().for_each(|c| println!("{} {}", c.kind.letter(), c.path)),
        other => {
            eprintln!("rrun: unknown --format {other:?}: expected table or json");
            return Ok(125);
        }
    }
    Ok(0)
}

pub fn export(rrun: &Rrun, a: ExportArgs) -> Result<i32, Error> {
    match &a.output {
        Some(path) if path != std::path::Path::new("-") => rrun.export_to_file(&a.container, path)?,
        _ => {
            let stdout = std::io::stdout();
            if stdout.is_terminal() {
                eprintln!("rrun: refusing to write an archive to a terminal: use -o FILE, or redirect standard output");
                return Ok(125);
            }
            let out = stdout_file()?;
            rrun.export(&a.container, &out)?;
        }
    }
    Ok(0)
}

/// Standard output as a file of its own (written by a helper process too).
fn stdout_file() -> Result<std::fs::File, Error> {
    let fd = std::io::stdout()
        .as_fd()
        .try_clone_to_owned()
        .map_err(|source| Error::Io { path: "<stdout>".into(), source })?;
    Ok(std::fs::File::from(fd))
}

pub fn commit(rrun: &Rrun, a: CommitArgs) -> Result<i32, Error> {
    let mut opts = CommitOptions::default();
    opts.reference = a.reference;
    opts.message = a.message;
    opts.author = a.author;
    opts.changes = a.change;
    opts.pause = a.pause;
    let id = rrun.commit(&a.container, &opts)?;
    println!("{id}");
    Ok(0)
}

/// `CONTAINER:PATH` → the container and its path; a host path (absolute, or
/// `./x:y`, or with a `/` before the colon) → none, as Docker splits them.
fn split_cp_arg(arg: &str) -> (Option<&str>, &str) {
    if arg.starts_with('/') {
        return (None, arg);
    }
    match arg.split_once(':') {
        Some((c, p)) if !c.is_empty() && !c.starts_with('.') && !c.contains('/') => (Some(c), p),
        _ => (None, arg),
    }
}

fn stdin_file() -> Result<std::fs::File, Error> {
    let fd =
        std::io::stdin().as_fd().try_clone_to_owned().map_err(|source| Error::Io { path: "<stdin>".into(), source })?;
    Ok(std::fs::File::from(fd))
}

pub fn cp(rrun: &Rrun, a: CpArgs) -> Result<i32, Error> {
    let mut opts = CopyOptions::default();
    opts.archive = a.archive;
    opts.follow_link = a.follow_link;
    let fail = |msg: &str| {
        eprintln!("rrun: {msg}");
        Ok(125)
    };
    match (split_cp_arg(&a.source), split_cp_arg(&a.destination)) {
        ((Some(_), _), (Some(_), _)) => fail("copying between containers is not supported"),
        ((None, _), (None, _)) => fail("one of SRC and DEST must be CONTAINER:PATH"),
        ((Some(c), path), (None, dest)) => {
            let host = if dest == "-" {
                if std::io::stdout().is_terminal() {
                    return fail("refusing to write an archive to a terminal: redirect standard output");
                }
                CopyHost::Stream(stdout_file()?)
            } else {
                CopyHost::Path(PathBuf::from(dest))
            };
            rrun.copy_from_container(c, path, host, &opts)?;
            Ok(0)
        }
        ((None, src), (Some(c), path)) => {
            let host = if src == "-" {
                if std::io::stdin().is_terminal() {
                    return fail("refusing to read an archive from a terminal: redirect standard input");
                }
                CopyHost::Stream(stdin_file()?)
            } else {
                CopyHost::Path(PathBuf::from(src))
            };
            rrun.copy_to_container(host, c, path, &opts)?;
            Ok(0)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cp_arguments_split_like_dockers() {
        assert_eq!(split_cp_arg("web:/etc/hosts"), (Some("web"), "/etc/hosts"));
        assert_eq!(split_cp_arg("web:rel"), (Some("web"), "rel"));
        assert_eq!(split_cp_arg("/tmp/a:b"), (None, "/tmp/a:b"));
        assert_eq!(split_cp_arg("./a:b"), (None, "./a:b"));
        assert_eq!(split_cp_arg("dir/a:b"), (None, "dir/a:b"));
        assert_eq!(split_cp_arg("file"), (None, "file"));
        assert_eq!(split_cp_arg("-"), (None, "-"));
    }
}
