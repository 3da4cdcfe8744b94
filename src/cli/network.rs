//! `network create|ls|inspect|rm|prune|connect|disconnect`.

use super::format;
use clap::{Args, Subcommand};
use rrun::{CreateNetwork, NetworkInfo};
use rrun::{Error, Rrun};
use std::collections::BTreeMap;

#[derive(Subcommand, Debug)]
pub enum NetworkCommand {
    /// Create a bridge network (its containers resolve each other by name)
    Create(CreateArgs),
    /// List networks
    #[command(alias = "list")]
    Ls(LsArgs),
    /// Show networks as JSON
    Inspect(InspectArgs),
    /// Remove networks (refused while a container is on them)
    #[command(alias = "remove")]
    Rm(RmArgs),
    /// Remove the networks no container uses
    Prune(PruneArgs),
    /// Connect a container to a network
    Connect(ConnectArgs),
    /// Disconnect a container from a network
    Disconnect(DisconnectArgs),
}

#[derive(Args, Debug)]
pub struct CreateArgs {
    /// Driver (only bridge)
    #[arg(short, long, default_value = "bridge")]
    pub driver: String,
    /// Subnet in CIDR form, e.g. 10.90.0.0/24 (default: a free /24 of the configured pool)
    #[arg(long)]
    pub subnet: Option<String>,
    /// Gateway address (default: the subnet's first address)
    #[arg(long)]
    pub gateway: Option<String>,
    /// No way out: no NAT to the host's networks, no published ports
    #[arg(long)]
    pub internal: bool,
    /// Set a label: K=V
    #[arg(short, long)]
    pub label: Vec<String>,
    pub name: String,
}

#[derive(Args, Debug)]
pub struct LsArgs {
    /// Only show IDs
    #[arg(short, long)]
    pub quiet: bool,
    /// Show full IDs
    #[arg(long = "no-trunc")]
    pub no_trunc: bool,
    /// Output: table, json (one object per line), a Go template ('{{.Name}}'), or 'table TEMPLATE'
    #[arg(long)]
    pub format: Option<String>,
    /// Filter: name=SUBSTRING, id=PREFIX, driver=bridge|host|null, label=KEY[=VALUE], type=builtin|custom
    #[arg(short, long)]
    pub filter: Vec<String>,
}

#[derive(Args, Debug)]
pub struct InspectArgs {
    /// Output: json (the default), or a Go template ('{{.IPAM.Config}}')
    #[arg(short, long)]
    pub format: Option<String>,
    #[arg(required = true)]
    pub names: Vec<String>,
}

#[derive(Args, Debug)]
pub struct RmArgs {
    #[arg(required = true)]
    pub names: Vec<String>,
}

#[derive(Args, Debug)]
pub struct PruneArgs {
    /// Do not ask for confirmation
    #[arg(short, long)]
    pub force: bool,
}

#[derive(Args, Debug)]
pub struct ConnectArgs {
    /// Another name the container answers to on this network
    #[arg(long)]
    pub alias: Vec<String>,
    /// Its IPv4 address on this network
    #[arg(long)]
    pub ip: Option<String>,
    pub network: String,
    pub container: String,
}

#[derive(Args, Debug)]
pub struct DisconnectArgs {
    /// Accepted for Docker's command line (a missing connection is still an error)
    #[arg(short, long)]
    pub force: bool,
    pub network: String,
    pub container: String,
}

/// One row of `network ls`, with Docker's field names (`--format`).
#[derive(Debug, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
struct NetworkRow {
    #[serde(rename = "ID")]
    id: String,
    name: String,
    driver: String,
    scope: String,
    #[serde(rename = "IPv6")]
    ipv6: bool,
    internal: bool,
    labels: String,
    created_at: String,
    subnet: String,
}

const FILTER_KEYS: &[&str] = &["name", "id", "driver", "label", "type"];

fn keeps(f: &rrun::Filters, n: &NetworkInfo) -> bool {
    let builtin = matches!(n.name.as_str(), "bridge" | "host" | "none");
    f.any("name", |v| n.name.contains(v))
        && f.any("id", |v| n.id.starts_with(v))
        && f.any("driver", |v| n.driver == v)
        && f.any("type", |v| (v == "builtin") == builtin)
        && f.labels_match(|k| n.labels.get(k).map(String::as_str))
}

fn labels(items: &[String]) -> Result<BTreeMap<String, String>, Error> {
    items
        .iter()
        .map(|kv| match kv.split_once('=') {
            Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
            None if !kv.is_empty() => Ok((kv.clone(), String::new())),
            _ => Err(Error::Spec(rrun::SpecError::Invalid {
                flag: "--label".into(),
                value: kv.clone(),
                reason: "expected KEY=VALUE".into(),
            })),
        })
        .collect()
}

pub fn network(rrun: &Rrun, c: NetworkCommand) -> Result<i32, Error> {
    match c {
        NetworkCommand::Create(a) => {
            let mut req = CreateNetwork::default();
            req.name = a.name;
            req.driver = Some(a.driver);
            req.subnet = a.subnet;
            req.gateway = a.gateway;
            req.internal = a.internal;
            req.labels = labels(&a.label)?;
            let n = rrun.network_create(&req)?;
            println!("{}", n.id);
            Ok(0)
        }
        NetworkCommand::Ls(a) => {
            let output = match format::Format::parse(a.format.as_deref()) {
                Ok(f) => f,
                Err(e) => return Ok(e.report()),
            };
            let filters = rrun::Filters::parse(&a.filter, FILTER_KEYS)?;
            if let Some(v) = filters.get("type").iter().find(|v| !matches!(v.as_str(), "builtin" | "custom")) {
                return Err(rrun::FilterError::Value {
                    key: "type".into(),
                    value: v.clone(),
                    reason: "expected builtin or custom".into(),
                }
                .into());
            }
            let list: Vec<NetworkInfo> = rrun.networks()?.into_iter().filter(|n| keeps(&filters, n)).collect();
            let id = |n: &NetworkInfo| if a.no_trunc { n.id.clone() } else { n.id[..12].to_string() };
            if a.quiet {
                list.iter().for_each(|n| println!("{}", id(n)));
                return Ok(0);
            }
            let rows: Vec<NetworkRow> = list
                .iter()
                .map(|n| NetworkRow {
                    id: id(n),
                    name: n.name.clone(),
                    driver: n.driver.clone(),
                    scope: n.scope.to_string(),
                    ipv6: n.enable_ipv6,
                    internal: n.internal,
                    labels: n.labels.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(","),
                    created_at: n.created.clone(),
                    subnet: n.ipam["Config"][0]["Subnet"].as_str().unwrap_or("").to_string(),
                })
                .collect();
            if let format::Format::Json = output {
                for r in &rows {
                    println!("{}", serde_json::to_string(r).expect("serializes"));
                }
                return Ok(0);
            }
            let columns = [("ID", "NETWORK ID"), ("Name", "NAME"), ("Driver", "DRIVER"), ("Scope", "SCOPE")];
            if let Err(e) = format::print_rows(&output, &rows, &columns) {
                return Ok(e.report());
            }
            Ok(0)
        }
        NetworkCommand::Inspect(a) => {
            Ok(super::images::print_objects(&a.names, a.format.as_deref(), |n| rrun.network(n)))
        }
        NetworkCommand::Rm(a) => {
            let mut code = 0;
            for n in &a.names {
                match rrun.network_remove(n) {
                    Ok(_) => println!("{n}"),
                    Err(e) => {
                        eprintln!("rrun: {}", super::message(&e));
                        code = e.exit_code();
                    }
                }
            }
            Ok(code)
        }
        NetworkCommand::Prune(a) => {
            if !a.force
                && !super::images::confirm(
                    "WARNING! This will remove all custom networks not used by at least one container.",
                )
            {
                return Ok(0);
            }
            let removed = rrun.network_prune()?;
            if !removed.is_empty() {
                println!("Deleted Networks:");
                removed.iter().for_each(|n| println!("{n}"));
            }
            Ok(0)
        }
        NetworkCommand::Connect(a) => {
            let ip = a.ip.as_deref().map(super::parse::parse_ip).transpose()?;
            rrun.network_connect(&a.network, &a.container, &a.alias, ip)?;
            Ok(0)
        }
        NetworkCommand::Disconnect(a) => {
            rrun.network_disconnect(&a.network, &a.container)?;
            Ok(0)
        }
    }
}
