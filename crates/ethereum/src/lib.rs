//! valwatch-ethereum: Ethereum beacon-chain validators, watched through the standard Beacon API.
//!
//! The configuration of one network ([`EthereumConfig`]) and its [`ChainWatcher`]
//! ([`watcher`]).

pub mod analysis;
pub mod beacon;
pub mod client;
pub mod config;
pub mod report;
pub mod watcher;

pub use config::EthereumConfig;
pub use watcher::watcher;
