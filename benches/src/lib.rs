//! Benchmark support for valwatch: the data the benches and the end-to-end run use.
//!
//! - [`mainnet`]: a deterministic mainnet-scale Ethereum epoch (1,048,576 validators) as the
//!   Beacon API JSON a node serves, its decoded form and the generator's own verdict.
//! - [`cosmos`]: a generated CometBFT validator set and commit of any size.
//! - [`server`]: a fixture HTTP server that serves a generated epoch on 127.0.0.1, for the
//!   end-to-end figure (`valwatch ethereum analyze` against it).
//! - [`watched`]: what a watcher does after the analysis: copy the outcomes of the watched
//!   validators into per-validator records; and the memory-bound baseline the analyser is
//!   compared with.
//!
//! Run the benches with `cargo bench -p valwatch-benches`, or everything with
//! `scripts/bench.sh` (see BENCHMARKS.md).

pub mod cosmos;
pub mod mainnet;
pub mod rng;
pub mod server;
pub mod watched;
