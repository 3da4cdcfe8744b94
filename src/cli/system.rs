//! `version` and `info`.

use super::format::{self, Format};
use clap::Args;
use rrun::{Error, Rrun};

#[derive(Args, Debug)]
pub struct FormatArgs {
    /// Output: text, json, or a Go template ('{{.Version}}')
    #[arg(short, long)]
    pub format: Option<String>,
}

/// Prints `value` as JSON or through a template; `None` when the caller prints text.
fn print_formatted<T: serde::Serialize>(format: Option<&str>, value: &T) -> Result<Option<i32>, Error> {
    match Format::parse(format) {
        Err(e) => Ok(Some(e.report())),
        Ok(Format::Default) => Ok(None),
        Ok(Format::Json) => {
            println!("{}", serde_json::to_string_pretty(value).expect("serializes"));
            Ok(Some(0))
        }
        Ok(f) => Ok(Some(match format::print_objects(&f, std::slice::from_ref(value)) {
            Ok(()) => 0,
            Err(e) => e.report(),
        })),
    }
}

pub fn version(a: FormatArgs) -> Result<i32, Error> {
    let v = rrun::system::version();
    if let Some(code) = print_formatted(a.format.as_deref(), &v)? {
        return Ok(code);
    }
    let rows = [
        ("Version:", v.version.to_string()),
        ("Git commit:", v.git_commit.to_string()),
        ("OCI spec version:", v.oci_spec_version.to_string()),
        ("Rust version:", v.rust_version.to_string()),
        ("libseccomp:", v.libseccomp.clone()),
        ("OS/Arch:", format!("{}/{}", v.os, v.arch)),
    ];
    for (k, val) in rows {
        println!("{k:<18}{val}");
    }
    Ok(0)
}

pub fn info(rrun: &Rrun, a: FormatArgs) -> Result<i32, Error> {
    let i = rrun.info()?;
    if let Some(code) = print_formatted(a.format.as_deref(), &i)? {
        return Ok(code);
    }
    let (h, s, v) = (&i.host, &i.store, &i.version);
    println!("Host:");
    println!("  Hostname: {}", h.hostname);
    println!("  Kernel: {}", h.kernel);
    println!("  Operating system: {}", h.operating_system);
    println!("  Architecture: {}", h.arch);
    println!("  CPUs: {}", h.cpus);
    println!("  Total memory: {}", format::binary_size(h.mem_total));
    println!("  Cgroup version: {}", h.cgroup_version);
    println!("  Cgroup controllers: {}", h.cgroup_controllers.join(" "));
    println!("  Security options: {}", h.security_options.join(" "));
    println!("  Rootless: {}", h.rootless);
    println!("Store:");
    println!("  Root: {}", s.root.display());
    println!("  OCI state root: {}", s.oci_root.display());
    println!("  Storage driver: {}", s.graph_driver);
    println!("  Images: {}", s.images);
    println!("  Containers: {}", s.containers);
    println!("    Running: {}", s.containers_running);
    println!("    Paused: {}", s.containers_paused);
    println!("    Stopped: {}", s.containers_stopped);
    println!("Runtime:");
    println!("  Version: {} (commit {})", v.version, v.git_commit);
    println!("  OCI runtime spec: {}", v.oci_spec_version);
    println!("  libseccomp: {}", v.libseccomp);
    Ok(0)
}
