//! Integration tests of valwatch-cosmos on recorded real answers (`tests/fixtures/`).

mod dialects;
mod fixtures;
mod hub;
mod live;
mod scripted;

use std::path::PathBuf;

/// Bytes of a fixture file, relative to `tests/fixtures/`.
pub fn fixture(path: &str) -> Vec<u8> {
    let full = fixtures_dir().join(path);
    std::fs::read(&full).unwrap_or_else(|e| panic!("{}: {e}", full.display()))
}

/// The fixture folder.
pub fn fixtures_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}
