//! The image index's file in a store (`images/index.json`): the store keeps
//! bytes and locks, the image layer knows what the index means, so reading
//! and writing it live here.

use super::ImageIndex;
use crate::store::{Store, StoreError};
use std::io;
use std::path::PathBuf;

impl Store {
    fn index_path(&self) -> PathBuf {
        self.root().join("images/index.json")
    }

    /// The image index; empty when none was written yet.
    pub fn read_index(&self) -> Result<ImageIndex, StoreError> {
        let path = self.index_path();
        match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|source| StoreError::Corrupt { path, source }),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(ImageIndex::default()),
            Err(e) => Err(StoreError::Io { path, source: e }),
        }
    }

    /// Replaces the image index; the caller holds the exclusive lock.
    pub fn write_index(&self, index: &ImageIndex) -> Result<(), StoreError> {
        let bytes = serde_json::to_vec_pretty(index).expect("index serializes");
        self.write_atomic(&self.index_path(), &bytes)
    }
}
