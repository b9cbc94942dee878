//! valwatch-cosmos: Cosmos beacon-chain validators, watched through CometBFT RPC and Cosmos SDK queries.
//!
//! The configuration of one chain ([`CosmosConfig`]) and its [`ChainWatcher`]
//! ([`watcher`]).

pub mod config;
pub mod watcher;

pub use config::CosmosConfig;
pub use watcher::watcher;
