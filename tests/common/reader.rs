//! Commands as a reader runs them (the README's examples, the book in
//! docs/): in `sh`, from the repository's top directory, with `rrun` on the
//! PATH (this build), a store of the test's own (`RRUN_ROOT`), and a local
//! registry standing in for both `localhost:5000` and docker.io (through a
//! registries.conf mirror), seeded with the fixtures the examples pull.
#![allow(dead_code)]

use super::registry::{Flavour, Registry};
use super::{fixture, TestRoot, RRUN};
use std::path::{Path, PathBuf};
use std::process::Command;

pub struct Reader {
    pub root: TestRoot,
    pub bin: PathBuf,
    pub conf: PathBuf,
    pub registry: Registry,
}

impl Reader {
    /// A registry under `scratch` (docker.io's busybox and alpine, and the
    /// multi-platform `team/tool:1.0`), its registries.conf, and a store.
    pub fn new(scratch: &Path, tag: &str) -> Reader {
        let registry = Registry::start(&scratch.join("registry"), Flavour::Open);
        registry.seed(&fixture("busybox-oci"), "docker.io/library/busybox:latest", "library/alpine:latest");
        registry.seed(&fixture("multiarch-oci"), "latest", "team/tool:1.0");
        let conf = scratch.join("registries.conf");
        std::fs::write(
            &conf,
            format!(
                "unqualified-search-registries = [\"docker.io\"]\n\n[[registry]]\nprefix = \"docker.io\"\n\
                 location = \"docker.io\"\n\n[[registry.mirror]]\nlocation = \"{}\"\ninsecure = true\n",
                registry.host()
            ),
        )
        .unwrap();
        let bin = scratch.join("bin");
        std::fs::create_dir_all(&bin).unwrap();
        std::os::unix::fs::symlink(RRUN, bin.join("rrun")).unwrap();
        Reader { root: TestRoot::new(tag), bin, conf, registry }
    }

    /// `sh -c SCRIPT` from the repository's top directory, killed after
    /// `secs`, with `localhost:5000` meaning the test's registry.
    pub fn command(&self, script: &str, secs: u32) -> Command {
        let script = script.replace("localhost:5000", &self.registry.host());
        let path = format!("{}:{}", self.bin.display(), std::env::var("PATH").unwrap_or_default());
        let mut c = Command::new("timeout");
        c.args(["-k", "5", &secs.to_string(), "sh", "-c", &script])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .env("PATH", path)
            .env("RRUN_ROOT", &self.root.path)
            .env("RRUN_REGISTRIES_CONF", &self.conf)
            .env_remove("RRUN_EXPLAIN")
            .stdin(std::process::Stdio::null());
        c
    }
}
