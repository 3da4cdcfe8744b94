//! `version`, `info`, `system df` and `system prune`.

use super::format::{self, Format};
use super::images::{confirm, print_prune_report};
use clap::{Args, Subcommand};
use rrun::{Error, Rrun};

#[derive(Subcommand, Debug)]
pub enum SystemCommand {
    /// Disk space used by images, containers and volumes
    Df(DfArgs),
    /// Remove stopped containers and unused images
    Prune(SystemPruneArgs),
    /// Show the host, the store and the runtime (as `rrun info`)
    Info(FormatArgs),
    /// What happened to containers and images (as `rrun events`)
    Events(super::container::EventsArgs),
}

#[derive(Args, Debug)]
pub struct DfArgs {
    /// Every image and container, with its size
    #[arg(short, long)]
    pub verbose: bool,
    /// Output: table, json, a Go template ('{{.Type}} {{.Size}}'), or 'table TEMPLATE'
    #[arg(long)]
    pub format: Option<String>,
}

/// One row of `system df`, with the field names docker's templates use.
#[derive(Debug, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
struct DfRow {
    #[serde(rename = "Type")]
    kind: String,
    total_count: String,
    active: String,
    size: String,
    reclaimable: String,
}

#[derive(Args, Debug)]
pub struct SystemPruneArgs {
    /// Remove every image no container uses, not only dangling ones
    #[arg(short, long)]
    pub all: bool,
    /// Do not ask for confirmation
    #[arg(short, long)]
    pub force: bool,
    /// Prune anonymous volumes no container uses too
    #[arg(long)]
    pub volumes: bool,
}

pub fn system(rrun: &Rrun, c: SystemCommand) -> Result<i32, Error> {
    match c {
        SystemCommand::Df(a) => df(rrun, a),
        SystemCommand::Prune(a) => prune(rrun, a),
        SystemCommand::Info(a) => info(rrun, a),
        SystemCommand::Events(a) => super::container::events(rrun, a),
    }
}

/// `4.26MB (100%)`: a reclaimable size with its share of the total, as Docker prints it.
fn reclaimable(part: u64, total: u64) -> String {
    if total == 0 {
        return format::size(part);
    }
    format!("{} ({}%)", format::size(part), part * 100 / total)
}

pub fn df(rrun: &Rrun, a: DfArgs) -> Result<i32, Error> {
    let usage = rrun.disk_usage()?;
    let output = match Format::parse(a.format.as_deref()) {
        Ok(f) => f,
        Err(e) => return Ok(e.report()),
    };
    if let Format::Json = output {
        let json = if a.verbose {
            serde_json::to_string_pretty(&usage)
        } else {
            serde_json::to_string_pretty(&usage.summary())
        };
        println!("{}", json.expect("serializes"));
        return Ok(0);
    }
    if !a.verbose {
        let rows: Vec<DfRow> = usage
            .summary()
            .iter()
            .map(|r| DfRow {
                kind: r.kind.clone(),
                total_count: r.total_count.to_string(),
                active: r.active.to_string(),
                size: format::size(r.size),
                reclaimable: if r.kind == "Build Cache" {
                    format::size(r.reclaimable)
                } else {
                    reclaimable(r.reclaimable, r.size)
                },
            })
            .collect();
        let columns = [
            ("Type", "TYPE"),
            ("TotalCount", "TOTAL"),
            ("Active", "ACTIVE"),
            ("Size", "SIZE"),
            ("Reclaimable", "RECLAIMABLE"),
        ];
        if let Err(e) = format::print_rows(&output, &rows, &columns) {
            return Ok(e.report());
        }
        return Ok(0);
    }
    println!("Images space usage:\n");
    let images: Vec<Vec<String>> = usage
        .images
        .iter()
        .map(|i| {
            vec![
                i.repository.clone(),
                i.tag.clone(),
                i.id.short().to_string(),
                i.created.as_deref().map(|c| format!("{} ago", format::age(Some(c)))).unwrap_or_else(|| "N/A".into()),
                format::size(i.size),
                format::size(i.shared_size),
                format::size(i.unique_size),
                i.containers.to_string(),
            ]
        })
        .collect();
    format::table(
        &["REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE", "SHARED SIZE", "UNIQUE SIZE", "CONTAINERS"],
        &images,
    );
    println!("\nContainers space usage:\n");
    let containers: Vec<Vec<String>> = usage
        .containers
        .iter()
        .map(|c| {
            let status = match c.status {
                rrun::Status::Created => "Created",
                rrun::Status::Running => "Running",
                rrun::Status::Paused => "Paused",
                rrun::Status::Exited => "Exited",
                _ => "Unknown",
            };
            vec![
                c.id[..12].to_string(),
                c.image.clone(),
                format!("\"{}\"", c.command.join(" ")),
                "0".into(),
                format::size(c.size_rw),
                format!("{} ago", format::age(Some(&c.created))),
                status.to_string(),
                c.name.clone(),
            ]
        })
        .collect();
    format::table(
        &["CONTAINER ID", "IMAGE", "COMMAND", "LOCAL VOLUMES", "SIZE", "CREATED", "STATUS", "NAMES"],
        &containers,
    );
    println!("\nLocal Volumes space usage:\n");
    let volumes: Vec<Vec<String>> =
        usage.volumes.iter().map(|v| vec![v.name.clone(), v.links.to_string(), format::size(v.size)]).collect();
    format::table(&["VOLUME NAME", "LINKS", "SIZE"], &volumes);
    let u = usage.unreferenced;
    println!(
        "\nUnreferenced store data (removed by rrun image prune, rrun system prune): {} ({} layers, {} blobs, {} leftovers of killed commands)",
        format::size(u.size),
        u.layers,
        u.blobs,
        u.stray
    );
    println!("\nBuild cache usage: 0B\n");
    format::table(&["CACHE ID", "CACHE TYPE", "SIZE", "CREATED", "LAST USED", "USAGE", "SHARED"], &[]);
    Ok(0)
}

pub fn prune(rrun: &Rrun, a: SystemPruneArgs) -> Result<i32, Error> {
    let mut warning = String::from(
        "WARNING! This will remove:\n  - all stopped containers\n  - all networks not used by at least one container\n",
    );
    if a.volumes {
        warning.push_str("  - all anonymous volumes not used by at least one container\n");
    }
    warning.push_str(if a.all {
        "  - all images without at least one container associated to them\n"
    } else {
        "  - all dangling images\n"
    });
    if !a.force && !confirm(&warning) {
        return Ok(0);
    }
    print_prune_report(&rrun.system_prune(a.all, a.volumes)?);
    Ok(0)
}

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
    let v = rrun::Rrun::version();
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
    if let Some(r) = &h.rootless_setup {
        println!("    Id mapping: {} (uids {}; gids {})", r.id_mapping, r.uid_map.join(" "), r.gid_map.join(" "));
        println!("    Overlay: {}", r.overlay);
        println!("    Cgroup delegation: {}", r.cgroup_delegation);
        println!("    Network: {}", r.network);
        for m in &r.missing {
            println!("    Missing: {m}");
        }
    }
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
