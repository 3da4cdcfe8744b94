//! `volume create|ls|inspect|rm|prune`.

use super::filter::ListingFilters;
use super::format;
use clap::{Args, Subcommand};
use rrun::{CreateVolume, Volume};
use rrun::{Error, Rrun};
use std::collections::BTreeMap;

#[derive(Subcommand, Debug)]
pub enum VolumeCommand {
    /// Create a volume
    Create(CreateArgs),
    /// List volumes
    #[command(alias = "list")]
    Ls(LsArgs),
    /// Show volumes as JSON
    Inspect(InspectArgs),
    /// Remove volumes (refused while a container uses them)
    #[command(alias = "remove")]
    Rm(RmArgs),
    /// Remove unused anonymous volumes (all unused ones with -a)
    Prune(PruneArgs),
}

#[derive(Args, Debug)]
pub struct CreateArgs {
    /// Volume driver (only local)
    #[arg(short, long, default_value = "local")]
    pub driver: String,
    /// Set a label: K=V
    #[arg(long)]
    pub label: Vec<String>,
    /// Driver option K=V: type=none, o=bind, device=DIR binds a host directory
    #[arg(short = 'o', long = "opt")]
    pub opt: Vec<String>,
    /// Name (default: a random 64-hex name)
    pub name: Option<String>,
}

#[derive(Args, Debug)]
pub struct LsArgs {
    /// Only show names
    #[arg(short, long)]
    pub quiet: bool,
    /// Output: table, json (one object per line), a Go template ('{{.Name}}'), or 'table TEMPLATE'
    #[arg(long)]
    pub format: Option<String>,
    /// Filter: dangling=true|false, name=SUBSTRING, label=KEY[=VALUE], driver=local
    #[arg(short, long)]
    pub filter: Vec<String>,
}

#[derive(Args, Debug)]
pub struct InspectArgs {
    /// Output: json (the default), or a Go template ('{{.Mountpoint}}')
    #[arg(short, long)]
    pub format: Option<String>,
    #[arg(required = true)]
    pub names: Vec<String>,
}

#[derive(Args, Debug)]
pub struct RmArgs {
    /// A missing volume is no error
    #[arg(short, long)]
    pub force: bool,
    #[arg(required = true)]
    pub names: Vec<String>,
}

#[derive(Args, Debug)]
pub struct PruneArgs {
    /// Do not ask for confirmation
    #[arg(short, long)]
    pub force: bool,
    /// Remove every unused volume, named ones too
    #[arg(short, long)]
    pub all: bool,
}

/// One row of `volume ls`, with Docker's field names (`--format json`).
#[derive(Debug, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct VolumeRow {
    pub availability: &'static str,
    pub driver: String,
    pub group: &'static str,
    /// `k=v,k2=v2`, as Docker's template field shows them.
    pub labels: String,
    pub links: String,
    pub mountpoint: String,
    pub name: String,
    pub scope: String,
    pub size: &'static str,
    pub status: &'static str,
}

impl VolumeRow {
    fn of(v: &Volume, users: usize) -> VolumeRow {
        VolumeRow {
            availability: "N/A",
            driver: v.driver.clone(),
            group: "N/A",
            labels: v.labels.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(","),
            links: users.to_string(),
            mountpoint: v.mountpoint.display().to_string(),
            name: v.name.clone(),
            scope: v.scope.clone(),
            size: "N/A",
            status: "N/A",
        }
    }
}

fn key_values(flag: &str, items: &[String]) -> Result<BTreeMap<String, String>, Error> {
    items
        .iter()
        .map(|kv| match kv.split_once('=') {
            Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
            None if flag == "--label" && !kv.is_empty() => Ok((kv.clone(), String::new())),
            _ => Err(Error::Spec(rrun::SpecError::Invalid {
                flag: flag.into(),
                value: kv.clone(),
                reason: "expected KEY=VALUE".into(),
            })),
        })
        .collect()
}

pub fn volume(rrun: &Rrun, c: VolumeCommand) -> Result<i32, Error> {
    match c {
        VolumeCommand::Create(a) => {
            let mut req = CreateVolume::default();
            req.name = a.name;
            req.driver = Some(a.driver);
            req.labels = key_values("--label", &a.label)?;
            req.options = key_values("--opt", &a.opt)?;
            let v = rrun.volume_create(&req)?;
            println!("{}", v.name);
            Ok(0)
        }
        VolumeCommand::Ls(a) => {
            let output = match format::Format::parse(a.format.as_deref()) {
                Ok(f) => f,
                Err(e) => return Ok(e.report()),
            };
            let filters = rrun::Filters::parse(&a.filter, super::filter::VOLUME_KEYS)?;
            filters.validate_dangling()?;
            let list: Vec<(Volume, Vec<String>)> = rrun
                .volumes_with_users()?
                .into_iter()
                .filter(|(v, users)| filters.volume_matches(v, !users.is_empty()))
                .collect();
            if a.quiet {
                list.iter().for_each(|(v, _)| println!("{}", v.name));
                return Ok(0);
            }
            if let format::Format::Json = output {
                for (v, users) in &list {
                    println!("{}", serde_json::to_string(&VolumeRow::of(v, users.len())).expect("serializes"));
                }
                return Ok(0);
            }
            let rows: Vec<VolumeRow> = list.iter().map(|(v, users)| VolumeRow::of(v, users.len())).collect();
            if let Err(e) = format::print_rows(&output, &rows, &[("Driver", "DRIVER"), ("Name", "VOLUME NAME")]) {
                return Ok(e.report());
            }
            Ok(0)
        }
        VolumeCommand::Inspect(a) => {
            Ok(super::images::print_objects(&a.names, a.format.as_deref(), |n| rrun.volume(n)))
        }
        VolumeCommand::Rm(a) => {
            let mut code = 0;
            for n in &a.names {
                match rrun.volume_remove(n, a.force) {
                    Ok(()) => println!("{n}"),
                    Err(e) => {
                        eprintln!("rrun: {}", super::message(&e));
                        code = 125;
                    }
                }
            }
            Ok(code)
        }
        VolumeCommand::Prune(a) => {
            let what = if a.all { "all local volumes" } else { "anonymous local volumes" };
            if !a.force
                && !super::images::confirm(&format!(
                    "WARNING! This will remove {what} not used by at least one container."
                ))
            {
                return Ok(0);
            }
            let pruned = rrun.volume_prune(a.all)?;
            if !pruned.volumes.is_empty() {
                println!("Deleted Volumes:");
                pruned.volumes.iter().for_each(|n| println!("{n}"));
                println!();
            }
            println!("Total reclaimed space: {}", format::size(pruned.space));
            Ok(0)
        }
    }
}
