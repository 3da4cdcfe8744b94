//! `pull`, `push`, `tag`, `login`, `logout`, `search`.

use super::parse::parse_platform;
use clap::Args;
use rrun::{ClientOptions, Credential, PullOptions, RegistriesConf};
use rrun::{Error, Rrun};
use std::io::{BufRead, IsTerminal};
use std::path::PathBuf;

/// Options shared by every command that talks to a registry.
#[derive(Args, Debug, Clone, Default)]
pub struct RegistryArgs {
    /// Registries configuration (TOML, as containers-registries.conf)
    #[arg(long = "registries-conf", env = "RRUN_REGISTRIES_CONF")]
    pub registries_conf: Option<PathBuf>,
    /// Require HTTPS with verified certificates (false: allow HTTP and any certificate)
    #[arg(long = "tls-verify", num_args = 0..=1, default_missing_value = "true")]
    pub tls_verify: Option<bool>,
    /// Directory of per-registry CA certificates (<dir>/<host>/*.crt)
    #[arg(long = "cert-dir")]
    pub cert_dir: Option<PathBuf>,
    /// Credentials file (default: $REGISTRY_AUTH_FILE or $XDG_RUNTIME_DIR/containers/auth.json)
    #[arg(long = "authfile")]
    pub authfile: Option<PathBuf>,
}

impl RegistryArgs {
    pub fn client_options(&self) -> Result<ClientOptions, Error> {
        let mut o = ClientOptions::default();
        o.config = RegistriesConf::load(self.registries_conf.as_deref())?;
        o.tls_verify = self.tls_verify;
        if let Some(d) = &self.cert_dir {
            o.cert_dirs = vec![d.clone()];
        }
        if let Some(f) = &self.authfile {
            o.auth.read.insert(0, f.clone());
            o.auth.write = f.clone();
        }
        Ok(o)
    }
}

#[derive(Args, Debug)]
pub struct PullArgs {
    #[command(flatten)]
    pub registry: RegistryArgs,
    /// Platform to choose from a multi-arch image: os/arch[/variant]
    #[arg(long)]
    pub platform: Option<String>,
    /// No progress output
    #[arg(short, long)]
    pub quiet: bool,
    #[command(flatten)]
    pub explain: super::explain::ExplainArg,
    pub image: String,
}

#[derive(Args, Debug)]
pub struct PushArgs {
    #[command(flatten)]
    pub registry: RegistryArgs,
    /// Local image (name or ID)
    pub image: String,
    /// Destination, when not the image's own name
    pub destination: Option<String>,
}

#[derive(Args, Debug)]
pub struct TagArgs {
    pub source: String,
    pub target: String,
}

#[derive(Args, Debug)]
pub struct LoginArgs {
    #[command(flatten)]
    pub registry: RegistryArgs,
    #[arg(short, long)]
    pub username: Option<String>,
    /// Password (prefer --password-stdin: a password on the command line is visible to other users)
    #[arg(short, long)]
    pub password: Option<String>,
    /// Read the password from standard input
    #[arg(long = "password-stdin")]
    pub password_stdin: bool,
    /// Registry host (default docker.io)
    pub server: Option<String>,
}

#[derive(Args, Debug)]
pub struct LogoutArgs {
    #[command(flatten)]
    pub registry: RegistryArgs,
    pub server: Option<String>,
}

#[derive(Args, Debug)]
pub struct SearchArgs {
    #[command(flatten)]
    pub registry: RegistryArgs,
    /// Maximum number of results
    #[arg(long, default_value_t = 25)]
    pub limit: usize,
    /// Output format: table or json
    #[arg(long, default_value = "table")]
    pub format: String,
    /// `REGISTRY/` lists a registry's catalog; `REGISTRY/TERM` filters it; `TERM` searches Docker Hub
    pub term: String,
}

/// Pulls `image`, drawing a line per layer on stderr (a terminal) unless `quiet`.
pub fn pull_shown(
    rrun: &Rrun,
    image: &str,
    client: &ClientOptions,
    platform: Option<rrun::Platform>,
    quiet: bool,
) -> Result<rrun::LoadedImage, Error> {
    let mut opts = PullOptions::default();
    opts.platform = platform;
    if quiet {
        return rrun.pull(image, client, &opts);
    }
    let bars = super::progress::Progress::new();
    let observed = bars.clone();
    opts.progress = Some(rrun::ProgressFn::new(move |e| observed.observe(e)));
    super::progress::show_while(&bars, false, || rrun.pull(image, client, &opts))
}

pub fn pull(rrun: &Rrun, a: PullArgs) -> Result<i32, Error> {
    let client = a.registry.client_options()?;
    let platform = a.platform.as_deref().map(parse_platform).transpose()?;
    let quiet = a.quiet || !std::io::stderr().is_terminal();
    let loaded = pull_shown(rrun, &a.image, &client, platform, quiet)?;
    if !a.quiet {
        eprintln!("Pulled {}", loaded.names.first().cloned().unwrap_or_else(|| a.image.clone()));
    }
    println!("{}", loaded.record.manifest);
    Ok(0)
}

pub fn push(rrun: &Rrun, a: PushArgs) -> Result<i32, Error> {
    let client = a.registry.client_options()?;
    let digest = rrun.push(&a.image, a.destination.as_deref(), &client)?;
    println!("{digest}");
    Ok(0)
}

pub fn tag(rrun: &Rrun, a: TagArgs) -> Result<i32, Error> {
    rrun.tag(&a.source, &a.target)?;
    Ok(0)
}

pub fn login(rrun: &Rrun, a: LoginArgs) -> Result<i32, Error> {
    let client = a.registry.client_options()?;
    let server = a.server.unwrap_or_else(|| "docker.io".into());
    let username = match a.username {
        Some(u) => u,
        None => {
            eprint!("Username: ");
            read_line()?
        }
    };
    let password = if a.password_stdin {
        read_line()?
    } else if let Some(p) = a.password {
        p
    } else {
        eprint!("Password: ");
        read_line()?
    };
    if username.is_empty() || password.is_empty() {
        eprintln!("rrun: login needs a username and a password");
        return Ok(125);
    }
    rrun.login(&server, &Credential { username, password }, &client)?;
    println!("Login Succeeded!");
    Ok(0)
}

fn read_line() -> Result<String, Error> {
    let mut s = String::new();
    std::io::stdin().lock().read_line(&mut s).map_err(|source| Error::Io { path: "<stdin>".into(), source })?;
    Ok(s.trim_end_matches(['\n', '\r']).to_string())
}

pub fn logout(rrun: &Rrun, a: LogoutArgs) -> Result<i32, Error> {
    let client = a.registry.client_options()?;
    let server = a.server.unwrap_or_else(|| "docker.io".into());
    if rrun.logout(&server, &client)? {
        println!("Removed login credentials for {server}");
        Ok(0)
    } else {
        eprintln!("rrun: not logged into {server}");
        Ok(125)
    }
}

pub fn search(rrun: &Rrun, a: SearchArgs) -> Result<i32, Error> {
    let client = a.registry.client_options()?;
    let results = rrun.search(&a.term, a.limit, &client)?;
    if a.format == "json" {
        println!("{}", serde_json::to_string_pretty(&results).expect("serializes"));
        return Ok(0);
    }
    let rows: Vec<Vec<String>> =
        results.iter().map(|r| vec![r.name.clone(), r.description.clone(), r.stars.to_string()]).collect();
    super::format::table(&["NAME", "DESCRIPTION", "STARS"], &rows);
    Ok(0)
}
