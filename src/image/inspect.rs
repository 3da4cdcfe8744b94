//! What `rrun image inspect` shows: an image record and its config, in the
//! shape of Docker's `docker image inspect` (field names included), so that
//! tools and templates written for Docker read it unchanged.

use super::{ContainerConfig, ImageConfig, ImageRecord};
use serde::Serialize;
use std::collections::BTreeMap;

/// One image, as `docker image inspect` prints it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
#[non_exhaustive]
pub struct ImageInspect {
    /// The image ID: `sha256:` and the config digest.
    pub id: String,
    /// Its names (`repo:tag`).
    pub repo_tags: Vec<String>,
    /// The digests it was pulled by (`repo@sha256:…`).
    pub repo_digests: Vec<String>,
    /// Docker's local parent image; rrun records none.
    pub parent: String,
    /// The commit message, for an image made by `commit`.
    pub comment: String,
    /// When it was built (RFC 3339).
    pub created: String,
    /// The Docker version that built it (from the config; often empty).
    pub docker_version: String,
    /// Who built it.
    pub author: String,
    /// How to run it, in Docker's field names.
    pub config: InspectConfig,
    /// The CPU architecture.
    pub architecture: String,
    /// The architecture's variant.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
    /// The operating system.
    pub os: String,
    /// Unpacked size in bytes.
    pub size: u64,
    /// Where its layers are on this host (`overlay2`-style).
    pub graph_driver: GraphDriver,
    /// Its layers' uncompressed digests.
    #[serde(rename = "RootFS")]
    pub root_fs: InspectRootFs,
    /// When it was last tagged.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Metadata>,
}

/// Docker's `container.Config` as images carry it.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct InspectConfig {
    /// Docker's `Config.Hostname`; always empty: an image config has none.
    pub hostname: String,
    /// Docker's `Config.Domainname`; always empty: an image config has none.
    pub domainname: String,
    /// Docker's `Config.User`: the image's `USER` (`name`, `uid:gid`…), empty when unset (root).
    pub user: String,
    /// Docker's `Config.AttachStdin`; always false for an image.
    pub attach_stdin: bool,
    /// Docker's `Config.AttachStdout`; always false for an image.
    pub attach_stdout: bool,
    /// Docker's `Config.AttachStderr`; always false for an image.
    pub attach_stderr: bool,
    /// Docker's `Config.ExposedPorts`: the image's `EXPOSE` ports (`80/tcp` → `{}`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exposed_ports: Option<BTreeMap<String, serde_json::Value>>,
    /// Docker's `Config.Tty`; always false for an image.
    pub tty: bool,
    /// Docker's `Config.OpenStdin`; always false for an image.
    pub open_stdin: bool,
    /// Docker's `Config.StdinOnce`; always false for an image.
    pub stdin_once: bool,
    /// Docker's `Config.Env`: the image's environment, `KEY=value`.
    pub env: Option<Vec<String>>,
    /// Docker's `Config.Cmd`: the image's default arguments (`CMD`).
    pub cmd: Option<Vec<String>>,
    /// Docker's `Config.Healthcheck`: the image's `HEALTHCHECK`, as the config has it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub healthcheck: Option<serde_json::Value>,
    /// Docker's `Config.Image`; always empty: rrun records no parent image.
    pub image: String,
    /// Docker's `Config.Volumes`: the image's `VOLUME` paths (path → `{}`).
    pub volumes: Option<BTreeMap<String, serde_json::Value>>,
    /// Docker's `Config.WorkingDir`: the image's `WORKDIR`, empty when unset.
    pub working_dir: String,
    /// Docker's `Config.Entrypoint`: the image's `ENTRYPOINT`.
    pub entrypoint: Option<Vec<String>>,
    /// Docker's `Config.OnBuild`: the image's `ONBUILD` triggers, as the config has them.
    pub on_build: Option<serde_json::Value>,
    /// Docker's `Config.Labels`: the image's `LABEL`s.
    pub labels: Option<BTreeMap<String, String>>,
    /// Docker's `Config.StopSignal`: the image's `STOPSIGNAL` (`SIGTERM`), if set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stop_signal: Option<String>,
}

/// Docker's `GraphDriver`: the storage driver and where the image's layers lie.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct GraphDriver {
    /// Docker's `GraphDriver.Name`: always `overlay`.
    pub name: String,
    /// Docker's `GraphDriver.Data`: `UpperDir` (the top layer's `diff` directory) and
    /// `LowerDir` (the others', top first, `:`-separated).
    pub data: BTreeMap<String, String>,
}

/// Docker's `RootFS`: the image's layers by uncompressed digest.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct InspectRootFs {
    /// Docker's `RootFS.Type`: always `layers`.
    #[serde(rename = "Type")]
    pub kind: String,
    /// Docker's `RootFS.Layers`: the diff-ids (`sha256:…`), bottom first.
    pub layers: Vec<String>,
}

/// Docker's `Metadata`, with one field of rrun's own.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Metadata {
    /// Docker's; rrun does not record when a name was given: Go's zero time, as Docker shows it then.
    pub last_tag_time: String,
    /// rrun's own: the manifest the image is stored under.
    pub manifest_digest: String,
}

impl InspectConfig {
    /// The fields an image config (`config.config`) fills; the others stay empty.
    pub fn from_image(c: &ContainerConfig) -> InspectConfig {
        InspectConfig {
            user: c.user.clone().unwrap_or_default(),
            exposed_ports: c.exposed_ports.clone(),
            env: c.env.clone(),
            cmd: c.cmd.clone(),
            healthcheck: c.healthcheck.as_ref().and_then(|h| serde_json::to_value(h).ok()),
            volumes: c.volumes.clone(),
            working_dir: c.working_dir.clone().unwrap_or_default(),
            entrypoint: c.entrypoint.clone(),
            on_build: c.extra.get("OnBuild").cloned().filter(|v| !v.is_null()),
            labels: c.labels.clone(),
            stop_signal: c.stop_signal.clone(),
            ..Default::default()
        }
    }
}

/// Builds the inspect object of `record`, whose config is `config`, known by
/// the names `tags`. `layer_dirs` are the unpacked layers' `diff` directories,
/// bottom first.
pub fn build(
    record: &ImageRecord,
    config: &ImageConfig,
    tags: Vec<String>,
    layer_dirs: &[std::path::PathBuf],
) -> ImageInspect {
    let string = |k: &str| config.extra.get(k).and_then(|v| v.as_str()).unwrap_or_default().to_string();
    let mut data = BTreeMap::new();
    if let Some((top, lower)) = layer_dirs.split_last() {
        data.insert("UpperDir".to_string(), top.display().to_string());
        if !lower.is_empty() {
            let lowers: Vec<String> = lower.iter().rev().map(|d| d.display().to_string()).collect();
            data.insert("LowerDir".to_string(), lowers.join(":"));
        }
    }
    ImageInspect {
        id: record.config.to_string(),
        repo_tags: tags,
        repo_digests: record.repo_digests.clone(),
        parent: String::new(),
        comment: string("comment"),
        created: config.created.clone().unwrap_or_default(),
        docker_version: string("docker_version"),
        author: config.author.clone().unwrap_or_default(),
        config: config.config.as_ref().map(InspectConfig::from_image).unwrap_or_default(),
        architecture: config.architecture.clone(),
        variant: config.variant.clone(),
        os: config.os.clone(),
        size: record.size,
        graph_driver: GraphDriver { name: "overlay".into(), data },
        root_fs: InspectRootFs { kind: "layers".into(), layers: record.diff_ids().map(|d| d.to_string()).collect() },
        metadata: Some(Metadata {
            last_tag_time: "0001-01-01T00:00:00Z".into(),
            manifest_digest: record.manifest.to_string(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::digest::Digest;
    use crate::image::LayerRecord;

    #[test]
    fn inspect_has_dockers_shape() {
        let config: ImageConfig = serde_json::from_str(
            r#"{"architecture":"amd64","os":"linux","author":"me","comment":"made by hand",
                "created":"2024-01-01T00:00:00Z",
                "config":{"Cmd":["sh"],"Env":["A=1"],"ExposedPorts":{"80/tcp":{}},"Labels":{"k":"v"},
                          "StopSignal":"SIGQUIT","Healthcheck":{"Test":["NONE"]}},
                "rootfs":{"type":"layers","diff_ids":["sha256:1111111111111111111111111111111111111111111111111111111111111111"]}}"#,
        )
        .unwrap();
        let d = |c: char| Digest::from_hex(&c.to_string().repeat(64)).unwrap();
        let record = ImageRecord {
            manifest: d('a'),
            config: d('c'),
            layers: vec![LayerRecord { blob: d('b'), media_type: String::new(), size: 1, diff_id: d('1') }],
            created: config.created.clone(),
            size: 1234,
            repo_digests: vec![format!("docker.io/library/x@{}", d('a'))],
        };
        let v =
            serde_json::to_value(build(&record, &config, vec!["docker.io/library/x:1".into()], &["/l/1/diff".into()]))
                .unwrap();
        assert_eq!(v["Id"], d('c').to_string());
        assert_eq!(v["RepoTags"][0], "docker.io/library/x:1");
        assert_eq!(v["RepoDigests"][0], format!("docker.io/library/x@{}", d('a')));
        assert_eq!(v["Parent"], "");
        assert_eq!(v["Comment"], "made by hand");
        assert_eq!(v["Author"], "me");
        assert_eq!(v["Created"], "2024-01-01T00:00:00Z");
        assert_eq!(v["Config"]["Cmd"][0], "sh");
        assert_eq!(v["Config"]["Env"][0], "A=1");
        assert_eq!(v["Config"]["ExposedPorts"]["80/tcp"], serde_json::json!({}));
        assert_eq!(v["Config"]["Labels"]["k"], "v");
        assert_eq!(v["Config"]["StopSignal"], "SIGQUIT");
        assert_eq!(v["Config"]["Healthcheck"]["Test"][0], "NONE");
        assert_eq!(v["Config"]["WorkingDir"], "");
        assert!(v["Config"]["Entrypoint"].is_null());
        assert_eq!(v["Architecture"], "amd64");
        assert!(v.get("Variant").is_none());
        assert_eq!(v["Os"], "linux");
        assert_eq!(v["Size"], 1234);
        assert_eq!(v["RootFS"]["Type"], "layers");
        assert_eq!(v["RootFS"]["Layers"][0], d('1').to_string());
        assert_eq!(v["GraphDriver"]["Data"]["UpperDir"], "/l/1/diff");
    }
}
