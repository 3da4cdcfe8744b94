//! `rrun history`: an image's config history paired with its layers, newest
//! first, in the shape of Docker's image history API.

use super::{ImageConfig, ImageRecord};
use serde::Serialize;

/// One step of an image's history, as Docker's `GET /images/{name}/history` has it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct HistoryEntry {
    /// The image ID for the step that is the image itself (the newest), else `<missing>`.
    pub id: String,
    /// Seconds since the epoch (0 when the config does not say).
    pub created: i64,
    /// Docker's `CreatedBy`: the command that made the step (`/bin/sh -c …`, `commit`), empty if unknown.
    pub created_by: String,
    /// The image's names, on its own row.
    pub tags: Option<Vec<String>>,
    /// Unpacked size of the layer this step made (0 for a step that made none).
    pub size: u64,
    /// Docker's `Comment`: the history entry's comment (a `commit -m` message), empty if none.
    pub comment: String,
}

fn epoch(rfc3339: Option<&str>) -> i64 {
    rfc3339.and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok()).map(|t| t.timestamp()).unwrap_or(0)
}

/// The history of `record`, newest first. Steps that made a layer are paired
/// with the layers in order; `layer_size` gives a layer's unpacked size. An
/// image without history gets one row per layer.
pub fn entries(
    record: &ImageRecord,
    config: &ImageConfig,
    tags: Vec<String>,
    layer_size: impl Fn(&crate::digest::Digest) -> u64,
) -> Vec<HistoryEntry> {
    let mut layers = record.layers.iter();
    let mut rows: Vec<HistoryEntry> = Vec::new();
    for h in &config.history {
        let empty = h.empty_layer().unwrap_or(false);
        let size = if empty { 0 } else { layers.next().map(|l| layer_size(&l.diff_id)).unwrap_or(0) };
        rows.push(HistoryEntry {
            id: "<missing>".into(),
            created: epoch(h.created().as_deref()),
            created_by: h.created_by().clone().unwrap_or_default(),
            tags: None,
            size,
            comment: h.comment().clone().unwrap_or_default(),
        });
    }
    // layers the history does not account for (or no history at all)
    for l in layers {
        rows.push(HistoryEntry {
            id: "<missing>".into(),
            created: epoch(config.created.as_deref()),
            created_by: String::new(),
            tags: None,
            size: layer_size(&l.diff_id),
            comment: String::new(),
        });
    }
    rows.reverse();
    if let Some(top) = rows.first_mut() {
        top.id = record.config.to_string();
        top.tags = (!tags.is_empty()).then_some(tags);
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::digest::Digest;
    use crate::image::{History, LayerRecord};

    fn d(c: char) -> Digest {
        Digest::from_hex(&c.to_string().repeat(64)).unwrap()
    }

    fn record(layers: &[char]) -> ImageRecord {
        ImageRecord {
            manifest: d('a'),
            config: d('c'),
            layers: layers
                .iter()
                .map(|&c| LayerRecord { blob: d(c), media_type: String::new(), size: 0, diff_id: d(c) })
                .collect(),
            created: None,
            size: 0,
            repo_digests: vec![],
        }
    }

    fn step(by: &str, empty: bool, created: &str) -> History {
        let mut h = History::default();
        h.set_created(Some(created.into()));
        h.set_created_by(Some(by.into()));
        h.set_comment((by == "commit").then(|| "a message".to_string()));
        h.set_empty_layer(empty.then_some(true));
        h
    }

    #[test]
    fn steps_pair_with_layers_newest_first() {
        let config = ImageConfig {
            history: vec![
                step("ADD rootfs", false, "2024-01-01T00:00:00Z"),
                step("ENV A=1", true, "2024-01-01T00:00:01Z"),
                step("commit", false, "2024-01-01T00:00:02Z"),
            ],
            ..Default::default()
        };
        let sizes = |x: &Digest| if *x == d('1') { 100 } else { 7 };
        let rows = entries(&record(&['1', '2']), &config, vec!["localhost/x:1".into()], sizes);
        assert_eq!(rows.len(), 3);
        assert_eq!(rows[0].id, d('c').to_string());
        assert_eq!(rows[0].tags, Some(vec!["localhost/x:1".to_string()]));
        assert_eq!((rows[0].created_by.as_str(), rows[0].size, rows[0].comment.as_str()), ("commit", 7, "a message"));
        assert_eq!((rows[1].id.as_str(), rows[1].created_by.as_str(), rows[1].size), ("<missing>", "ENV A=1", 0));
        assert_eq!((rows[2].created_by.as_str(), rows[2].size), ("ADD rootfs", 100));
        assert_eq!(rows[2].created, 1704067200);
    }

    #[test]
    fn an_image_without_history_has_a_row_per_layer() {
        let rows = entries(&record(&['1', '2']), &ImageConfig::default(), vec![], |_| 5);
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].id, d('c').to_string());
        assert_eq!(rows[0].tags, None);
        assert_eq!(rows[1].id, "<missing>");
    }
}
