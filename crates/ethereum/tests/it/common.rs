//! Shared helpers: fixture paths and file reading, the spec oracle's `expected.json`, local
//! servers.

use std::path::{Path, PathBuf};

use serde::Deserialize;

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

/// Serves `app` on a free loopback port for the rest of the test; returns its base URL.
pub async fn serve_on_loopback(app: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let address = listener.local_addr().expect("address");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    format!("http://{address}")
}

/// A URL nobody listens on (a port bound then released), followed by `path`.
pub async fn dead_url(path: &str) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let address = listener.local_addr().expect("address");
    drop(listener);
    format!("http://{address}{path}")
}

/// The spec oracle's verdicts of one scenario (`expected.json`, see the fixtures' README).
#[derive(Deserialize)]
pub struct Expected {
    pub epoch: u64,
    pub slots_per_epoch: u64,
    pub attestations: Vec<ExpectedAttestation>,
    pub proposals: Vec<ExpectedProposal>,
    pub sync: Vec<ExpectedSync>,
}

#[derive(Deserialize)]
pub struct ExpectedAttestation {
    pub index: u64,
    pub committee_slot: u64,
    pub committee_index: u64,
    pub source_timely: bool,
    pub target_timely: bool,
    pub head_timely: bool,
    pub included: bool,
    pub inclusion_slot: Option<u64>,
    pub inclusion_delay: Option<u64>,
    pub inclusions: Vec<Inclusion>,
}

#[derive(Deserialize)]
pub struct Inclusion {
    pub vote: String,
}

#[derive(Deserialize)]
pub struct ExpectedProposal {
    pub slot: u64,
    pub proposer_index: u64,
    pub proposed: bool,
}

#[derive(Deserialize)]
pub struct ExpectedSync {
    pub slot: u64,
    pub block_present: bool,
    pub signed: Option<Vec<u64>>,
    pub not_signed: Option<Vec<u64>>,
}
