//! `load`, `images`, `rmi`.

use super::format;
use clap::Args;
use rrun::{Error, Rrun};
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct LoadArgs {
    /// Archive to read: OCI layout (dir or tar) or docker-archive tar
    #[arg(short, long)]
    pub input: PathBuf,
    /// Repository for images whose archive names only a tag
    pub name: Option<String>,
    /// Print only the image names
    #[arg(short, long)]
    pub quiet: bool,
}

#[derive(Args, Debug)]
pub struct ImagesArgs {
    /// Output format: table or json
    #[arg(long, default_value = "table")]
    pub format: String,
    /// Only show image IDs
    #[arg(short, long)]
    pub quiet: bool,
}

#[derive(Args, Debug)]
pub struct RmiArgs {
    /// Remove even if containers use the image, and every name of an image given by ID
    #[arg(short, long)]
    pub force: bool,
    #[arg(required = true)]
    pub images: Vec<String>,
}

pub fn load(rrun: &Rrun, a: LoadArgs) -> Result<i32, Error> {
    let loaded = rrun.load(&a.input, a.name.as_deref())?;
    for img in loaded {
        if img.names.is_empty() {
            println!("Loaded image: {}", img.record.config);
        }
        for n in img.names {
            if a.quiet {
                println!("{n}");
            } else {
                println!("Loaded image: {n}");
            }
        }
    }
    Ok(0)
}

pub fn images(rrun: &Rrun, a: ImagesArgs) -> Result<i32, Error> {
    let list = rrun.images()?;
    if a.format == "json" {
        println!("{}", serde_json::to_string_pretty(&list).expect("serializes"));
        return Ok(0);
    }
    if a.format != "table" {
        eprintln!("rrun: unknown --format {:?}: expected table or json", a.format);
        return Ok(125);
    }
    if a.quiet {
        for i in list {
            println!("{}", i.id.short());
        }
        return Ok(0);
    }
    let rows: Vec<Vec<String>> = list
        .iter()
        .map(|i| {
            let created = match i.created {
                Some(_) => format!("{} ago", format::age(i.created.as_deref())),
                None => "N/A".into(),
            };
            vec![i.repository.clone(), i.tag.clone(), i.id.short().to_string(), created, format::size(i.size)]
        })
        .collect();
    format::table(&["NAME", "TAG", "IMAGE ID", "CREATED", "SIZE"], &rows);
    Ok(0)
}

pub fn rmi(rrun: &Rrun, a: RmiArgs) -> Result<i32, Error> {
    let mut code = 0;
    for name in &a.images {
        match rrun.remove_image(name, a.force) {
            Ok(lines) => lines.iter().for_each(|l| println!("{l}")),
            Err(e) => {
                eprintln!("rrun: {e}");
                code = e.exit_code().max(1);
            }
        }
    }
    Ok(code)
}
