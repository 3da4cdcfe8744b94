//! `cdi list`: the CDI devices the spec directories define.

use super::format;
use clap::{Args, Subcommand};
use std::path::PathBuf;

#[derive(Subcommand, Debug)]
pub enum CdiCommand {
    /// List the CDI devices of the spec directories (name, spec file)
    #[command(visible_alias = "ls")]
    List(ListArgs),
}

#[derive(Args, Debug)]
pub struct ListArgs {
    /// Only show the device names
    #[arg(short, long)]
    pub quiet: bool,
    /// Output: table, json (one object per line), a Go template ('{{.Name}}'), or 'table TEMPLATE'
    #[arg(long)]
    pub format: Option<String>,
    /// Directory of CDI specs, replacing /etc/cdi and /var/run/cdi (repeatable; later ones win)
    #[arg(long = "cdi-spec-dir")]
    pub cdi_spec_dir: Vec<PathBuf>,
}

pub fn cdi(c: CdiCommand) -> i32 {
    match c {
        CdiCommand::List(a) => list(a),
    }
}

fn list(a: ListArgs) -> i32 {
    let output = match format::Format::parse(a.format.as_deref()) {
        Ok(f) => f,
        Err(e) => return e.report(),
    };
    let found = rrun::Rrun::cdi_devices(&a.cdi_spec_dir);
    // a broken spec file leaves its devices out: say which and why
    for e in &found.errors {
        eprintln!("rrun: warning: {e}");
    }
    let devices = found.devices;
    if a.quiet {
        devices.iter().for_each(|d| println!("{}", d.name));
        return 0;
    }
    if let format::Format::Json = output {
        for d in &devices {
            println!("{}", serde_json::to_string(d).expect("serializes"));
        }
        return 0;
    }
    match format::print_rows(&output, &devices, &[("Name", "NAME"), ("SpecFile", "SPEC FILE")]) {
        Ok(()) => 0,
        Err(e) => e.report(),
    }
}
