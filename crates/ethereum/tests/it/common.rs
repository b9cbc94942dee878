//! Shared helpers: fixture paths and file reading.

use std::path::{Path, PathBuf};

/// `crates/ethereum/tests/fixtures/<rest>`.
pub fn fixture(rest: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(rest)
}

/// Reads a fixture file, failing the test with its path when it is missing.
pub fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}
