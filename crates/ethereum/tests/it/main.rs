//! Integration tests of valwatch-ethereum, in one test binary.
//!
//! - `spec_oracle`: the analyser against the consensus spec's own verdicts, every validator of
//!   every generated scenario.
//! - `real_data`: decoding (and analysing) answers real nodes gave.
//! - `watcher`: the live watcher against a local node double serving spec fixture chains.
//! - `watcher_live`: the same watcher while the chain, the finality, the key file or the event
//!   stream change under it (reorgs, finalized mode, key reloads, stalled streams).

mod client;
mod common;
mod real_data;
mod spec_oracle;
mod watcher;
mod watcher_live;
