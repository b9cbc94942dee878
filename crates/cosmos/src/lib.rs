//! valwatch-cosmos: Cosmos SDK / CometBFT validators, watched from outside through CometBFT RPC
//! and Cosmos SDK queries over `abci_query`.
//!
//! - [`rpc`]: JSON-RPC transport and decoding of `/status`, `/block`, `/validators`,
//!   `/abci_query`; several endpoints per chain in an [`rpc::RpcPool`].
//! - [`height`]: the pure verdict of one height (who signed, proposer, empty block, solo miss).
//! - [`sdk`]: protobuf queries of x/staking, x/slashing, x/upgrade and x/gov.
//! - [`address`]: consensus addresses from public keys, hex and bech32.
//! - [`keys`]: configured validator keys resolved to hex consensus addresses.
//! - [`follow`]: the pure rules of the live watcher (resume, records, stall, own window).
//! - [`newblock`]: the CometBFT `NewBlock` websocket subscription that wakes the watcher early.
//! - [`analyze`]: the one-shot analysis of a range of heights.
//! - The configuration of one chain ([`CosmosConfig`]) and its watcher ([`watcher()`]).

pub mod address;
pub mod analyze;
pub mod config;
pub mod follow;
pub mod height;
pub mod keys;
pub mod newblock;
pub mod rpc;
pub mod sdk;
pub mod watcher;

pub use config::CosmosConfig;
pub use watcher::watcher;
