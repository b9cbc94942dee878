//! valwatch-ethereum: Ethereum beacon-chain validators, watched through the standard Beacon API.
//!
//! - [`beacon`]: typed Beacon API answers; [`client`]: requests with failover;
//!   [`fetch`]: one epoch's inputs for the live watcher; [`compat`]: node quirks.
//! - [`analysis`]: the pure epoch analyser; [`duties`]: its verdicts as tracker records.
//! - [`keys`]: watched keys, the key file, index resolution.
//! - [`watcher`]: the live [`valwatch_core::ChainWatcher`]; [`events`]: the event stream that
//!   wakes it; [`report`]: the one-shot report.
//! - [`EthereumConfig`]: the configuration of one network.

pub mod analysis;
pub mod beacon;
pub mod client;
pub mod compat;
pub mod config;
pub mod duties;
pub mod events;
pub mod fetch;
pub mod keys;
pub mod report;
pub mod watcher;

pub use config::EthereumConfig;
pub use watcher::watcher;
