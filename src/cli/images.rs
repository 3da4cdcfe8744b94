//! `load`, `images`, `rmi`, `history`, `save`, `image prune`, `image inspect`
//! and the `image …` command group.

use super::filter::ListingFilters;
use super::format;
use clap::{Args, Subcommand};
use rrun::ImageDeleteItem;
use rrun::{Error, Rrun};
use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct LoadArgs {
    /// Archive to read: OCI layout (dir or tar) or docker-archive tar; standard input when absent or "-"
    #[arg(short, long)]
    pub input: Option<PathBuf>,
    /// Repository for images whose archive names only a tag
    pub name: Option<String>,
    /// Print only the image names
    #[arg(short, long)]
    pub quiet: bool,
    #[command(flatten)]
    pub explain: super::explain::ExplainArg,
}

#[derive(Args, Debug)]
pub struct ImagesArgs {
    /// Output: table, json, a Go template ('{{.Repository}}:{{.Tag}}'), or 'table TEMPLATE'
    #[arg(long)]
    pub format: Option<String>,
    /// Only images that match: dangling=true|false, reference=PATTERN, label=KEY[=VALUE], before=IMAGE, since=IMAGE
    #[arg(short, long)]
    pub filter: Vec<String>,
    /// Only show image IDs
    #[arg(short, long)]
    pub quiet: bool,
    /// Show all images (rrun keeps no intermediate images: the same list)
    #[arg(short, long)]
    pub all: bool,
    /// Show the digest each repository pulled the image by
    #[arg(long)]
    pub digests: bool,
    /// Show full image IDs
    #[arg(long = "no-trunc")]
    pub no_trunc: bool,
    /// Only images of this repository (and tag)
    pub reference: Option<String>,
}

/// One row of `images`, with the field names docker's `--format` templates use.
#[derive(Debug, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
struct ImageRow {
    repository: String,
    tag: String,
    digest: String,
    #[serde(rename = "ID")]
    id: String,
    created_since: String,
    created_at: String,
    size: String,
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
    let loaded = match a.input.as_deref() {
        Some(p) if p != std::path::Path::new("-") => rrun.load(p, a.name.as_deref())?,
        _ => {
            let stdin = std::io::stdin();
            if stdin.is_terminal() {
                eprintln!("rrun: refusing to read an archive from a terminal: use -i FILE, or redirect standard input");
                return Ok(125);
            }
            rrun.load_reader(&mut stdin.lock(), a.name.as_deref())?
        }
    };
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
    let mut list = rrun.images()?;
    if let Some(r) = &a.reference {
        // `docker images busybox`: every tag of the repository; `busybox:1` only that one
        use rrun::ImageRef;
        let parsed = ImageRef::parse(r)?;
        let typed_tag = r.rsplit('/').next().is_some_and(|last| last.contains(':'));
        let tag = parsed.tag.clone().filter(|_| typed_tag);
        let mut repos = vec![parsed.name()];
        if ImageRef::is_short_name(r) {
            repos.extend(ImageRef::parse(&format!("localhost/{r}")).ok().map(|l| l.name()));
        }
        list.retain(|i| repos.contains(&i.repository) && tag.as_ref().is_none_or(|t| &i.tag == t));
    }
    let format = match format::Format::parse(a.format.as_deref()) {
        Ok(f) => f,
        Err(e) => return Ok(e.report()),
    };
    let filters = rrun::Filters::parse(&a.filter, super::filter::IMAGE_KEYS)?;
    filters.validate_dangling()?;
    if !filters.is_empty() {
        let created_of = |name: &str| rrun.image(name).ok().and_then(|i| i.created);
        let mut kept = Vec::with_capacity(list.len());
        for i in list {
            // labels live in the image's config: read only when a label filter asks
            let labels = if filters.get("label").is_empty() {
                Default::default()
            } else {
                let rec = rrun.image(&i.id.to_string())?;
                rrun.image_config(&rec)?.config.and_then(|c| c.labels).unwrap_or_default()
            };
            let label = |k: &str| labels.get(k).map(String::as_str);
            let facts = super::filter::ImageFacts { labels: &label, created_of: &created_of };
            if filters.image_matches(&i.repository, &i.tag, i.created.as_deref(), &facts) {
                kept.push(i);
            }
        }
        list = kept;
    }
    if let format::Format::Json = format {
        println!("{}", serde_json::to_string_pretty(&list).expect("serializes"));
        return Ok(0);
    }
    let id = |d: &rrun::Digest| if a.no_trunc { d.to_string() } else { d.short().to_string() };
    if a.quiet {
        for i in &list {
            println!("{}", id(&i.id));
        }
        return Ok(0);
    }
    let rows: Vec<ImageRow> = list
        .iter()
        .map(|i| ImageRow {
            repository: i.repository.clone(),
            tag: i.tag.clone(),
            digest: i.digest.as_ref().map(|d| d.to_string()).unwrap_or_else(|| "<none>".into()),
            id: id(&i.id),
            created_since: match i.created {
                Some(_) => format!("{} ago", format::age(i.created.as_deref())),
                None => "N/A".into(),
            },
            created_at: i.created.clone().unwrap_or_default(),
            size: format::size(i.size),
        })
        .collect();
    let mut columns = vec![("Repository", "REPOSITORY"), ("Tag", "TAG")];
    if a.digests {
        columns.push(("Digest", "DIGEST"));
    }
    columns.extend([("ID", "IMAGE ID"), ("CreatedSince", "CREATED"), ("Size", "SIZE")]);
    if let Err(e) = format::print_rows(&format, &rows, &columns) {
        return Ok(e.report());
    }
    Ok(0)
}

pub fn rmi(rrun: &Rrun, a: RmiArgs) -> Result<i32, Error> {
    let mut code = 0;
    for name in &a.images {
        match rrun.remove_image(name, a.force) {
            Ok(removal) => removal.items().iter().for_each(|item| println!("{item}")),
            Err(e) => {
                eprintln!("rrun: {}", super::message(&e));
                code = e.exit_code().max(1);
            }
        }
    }
    Ok(code)
}

#[derive(Args, Debug)]
pub struct ImageInspectArgs {
    /// Output: json (the default), or a Go template ('{{.Config.Cmd}}')
    #[arg(short, long)]
    pub format: Option<String>,
    #[arg(required = true)]
    pub images: Vec<String>,
}

#[derive(Args, Debug)]
pub struct HistoryArgs {
    /// Do not truncate IDs and commands
    #[arg(long = "no-trunc")]
    pub no_trunc: bool,
    /// Only show IDs
    #[arg(short, long)]
    pub quiet: bool,
    /// Sizes and dates in human-readable form (--human=false: bytes and RFC 3339 times)
    #[arg(short = 'H', long, default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1,
          default_missing_value = "true", require_equals = true)]
    pub human: bool,
    /// Output: table, json, a Go template ('{{.CreatedBy}}'), or 'table TEMPLATE'
    #[arg(long)]
    pub format: Option<String>,
    pub image: String,
}

/// One row of `history`, with the field names docker's `--format` templates use.
#[derive(Debug, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
struct HistoryRow {
    #[serde(rename = "ID")]
    id: String,
    created_since: String,
    created_at: String,
    created_by: String,
    size: String,
    comment: String,
}

#[derive(Args, Debug)]
pub struct SaveArgs {
    /// Write to this file instead of standard output
    #[arg(short, long)]
    pub output: Option<PathBuf>,
    /// Archive format: docker-archive or oci-archive
    #[arg(long, default_value = "docker-archive")]
    pub format: String,
    #[arg(required = true)]
    pub images: Vec<String>,
}

#[derive(Args, Debug)]
pub struct PruneArgs {
    /// Remove every image no container uses, not only dangling ones
    #[arg(short, long)]
    pub all: bool,
    /// Do not ask for confirmation
    #[arg(short, long)]
    pub force: bool,
}

impl ImageCommand {
    /// The `--explain` of `image load|pull`.
    pub fn explain(&self) -> Option<&str> {
        match self {
            ImageCommand::Load(a) => a.explain.explain.as_deref(),
            ImageCommand::Pull(a) => a.explain.explain.as_deref(),
            _ => None,
        }
    }
}

/// `rrun image …`: the same commands as the top-level ones.
#[derive(Subcommand, Debug)]
pub enum ImageCommand {
    /// List images
    #[command(visible_alias = "list")]
    Ls(ImagesArgs),
    /// Remove images
    #[command(visible_alias = "remove", alias = "rmi")]
    Rm(RmiArgs),
    /// Everything known about images, as JSON
    Inspect(ImageInspectArgs),
    /// Show the steps an image was made of
    History(HistoryArgs),
    /// Write images to an archive
    Save(SaveArgs),
    /// Import images from an archive
    Load(LoadArgs),
    /// Pull an image from a registry
    Pull(super::registry::PullArgs),
    /// Push an image to a registry
    Push(super::registry::PushArgs),
    /// Give an image another name
    Tag(super::registry::TagArgs),
    /// Remove unused images
    Prune(PruneArgs),
}

pub fn image(rrun: &Rrun, c: ImageCommand) -> Result<i32, Error> {
    match c {
        ImageCommand::Ls(a) => images(rrun, a),
        ImageCommand::Rm(a) => rmi(rrun, a),
        ImageCommand::Inspect(a) => inspect(rrun, a),
        ImageCommand::History(a) => history(rrun, a),
        ImageCommand::Save(a) => save(rrun, a),
        ImageCommand::Load(a) => load(rrun, a),
        ImageCommand::Pull(a) => super::registry::pull(rrun, a),
        ImageCommand::Push(a) => super::registry::push(rrun, a),
        ImageCommand::Tag(a) => super::registry::tag(rrun, a),
        ImageCommand::Prune(a) => prune(rrun, a),
    }
}

/// Prints the objects found, as one JSON array or each through `--format`'s
/// template; an error for each name not found (exit 125).
pub fn print_objects<T: serde::Serialize>(
    names: &[String],
    format: Option<&str>,
    mut find: impl FnMut(&str) -> Result<T, Error>,
) -> i32 {
    let format = match format::Format::parse(format) {
        Ok(f) => f,
        Err(e) => return e.report(),
    };
    let mut found = Vec::new();
    let mut code = 0;
    for n in names {
        match find(n) {
            Ok(v) => found.push(v),
            Err(e) => {
                eprintln!("rrun: {}", super::message(&e));
                code = e.exit_code();
            }
        }
    }
    match format::print_objects(&format, &found) {
        Ok(()) => code,
        Err(e) => e.report(),
    }
}

pub fn inspect(rrun: &Rrun, a: ImageInspectArgs) -> Result<i32, Error> {
    Ok(print_objects(&a.images, a.format.as_deref(), |n| rrun.inspect_image(n)))
}

/// `…` in place of the rest when `s` has more than `max` characters, as Docker's table cells.
fn ellipsis(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    s.chars().take(max - 1).collect::<String>() + "…"
}

pub fn history(rrun: &Rrun, a: HistoryArgs) -> Result<i32, Error> {
    let output = match format::Format::parse(a.format.as_deref()) {
        Ok(f) => f,
        Err(e) => return Ok(e.report()),
    };
    let rows = rrun.history(&a.image)?;
    if let format::Format::Json = output {
        println!("{}", serde_json::to_string_pretty(&rows).expect("serializes"));
        return Ok(0);
    }
    let id = |s: &str| match s.parse::<rrun::Digest>() {
        Ok(d) if !a.no_trunc => d.short().to_string(),
        _ => s.to_string(),
    };
    if a.quiet {
        rows.iter().for_each(|r| println!("{}", id(&r.id)));
        return Ok(0);
    }
    let table: Vec<HistoryRow> = rows
        .iter()
        .map(|r| {
            let time = chrono::DateTime::from_timestamp(r.created, 0);
            let by = r.created_by.replace('\t', " ");
            HistoryRow {
                id: id(&r.id),
                created_since: match (time, a.human) {
                    (None, _) => "N/A".to_string(),
                    (Some(t), true) => format!("{} ago", format::age(Some(&t.to_rfc3339()))),
                    (Some(t), false) => t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                },
                created_at: time.map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)).unwrap_or_default(),
                created_by: if a.no_trunc { by } else { ellipsis(&by, 45) },
                size: if a.human { format::size(r.size) } else { r.size.to_string() },
                comment: r.comment.clone(),
            }
        })
        .collect();
    let columns = [
        ("ID", "IMAGE"),
        ("CreatedSince", "CREATED"),
        ("CreatedBy", "CREATED BY"),
        ("Size", "SIZE"),
        ("Comment", "COMMENT"),
    ];
    if let Err(e) = format::print_rows(&output, &table, &columns) {
        return Ok(e.report());
    }
    Ok(0)
}

pub fn save(rrun: &Rrun, a: SaveArgs) -> Result<i32, Error> {
    let format: rrun::ArchiveFormat = a.format.parse()?;
    match &a.output {
        Some(path) if path != std::path::Path::new("-") => rrun.save_to_file(&a.images, format, path)?,
        _ => {
            let stdout = std::io::stdout();
            if stdout.is_terminal() {
                eprintln!("rrun: refusing to write an archive to a terminal: use -o FILE, or redirect standard output");
                return Ok(125);
            }
            let mut w = std::io::BufWriter::with_capacity(1 << 20, stdout.lock());
            rrun.save(&a.images, format, &mut w)?;
            w.flush().map_err(|source| Error::Io { path: "<stdout>".into(), source })?;
        }
    }
    Ok(0)
}

/// Asks on stdout, as docker and podman do, and reads the answer from stdin:
/// true only for `y` or `Y`, as docker reads it.
pub fn confirm(warning: &str) -> bool {
    print!("{warning}\nAre you sure you want to continue? [y/N] ");
    let _ = std::io::stdout().flush();
    let mut answer = String::new();
    if std::io::stdin().lock().read_line(&mut answer).is_err() {
        return false;
    }
    matches!(answer.trim(), "y" | "Y")
}

/// Docker's prune report: what went, then the space it freed.
pub fn print_prune_report(r: &rrun::PruneReport) {
    if !r.containers_deleted.is_empty() {
        println!("Deleted Containers:");
        r.containers_deleted.iter().for_each(|id| println!("{id}"));
        println!();
    }
    if !r.networks_deleted.is_empty() {
        println!("Deleted Networks:");
        r.networks_deleted.iter().for_each(|n| println!("{n}"));
        println!();
    }
    if !r.volumes_deleted.is_empty() {
        println!("Deleted Volumes:");
        r.volumes_deleted.iter().for_each(|v| println!("{v}"));
        println!();
    }
    if !r.images_deleted.is_empty() {
        println!("Deleted Images:");
        for item in &r.images_deleted {
            match item {
                ImageDeleteItem::Untagged(n) => println!("untagged: {n}"),
                ImageDeleteItem::Deleted(d) => println!("deleted: {d}"),
            }
        }
        println!();
    }
    println!("Total reclaimed space: {}", format::size(r.space_reclaimed));
}

pub fn prune(rrun: &Rrun, a: PruneArgs) -> Result<i32, Error> {
    let warning = if a.all {
        "WARNING! This will remove all images without at least one container associated to them."
    } else {
        "WARNING! This will remove all dangling images."
    };
    if !a.force && !confirm(warning) {
        return Ok(0);
    }
    print_prune_report(&rrun.prune_images(a.all)?);
    Ok(0)
}
