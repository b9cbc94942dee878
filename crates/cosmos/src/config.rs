//! The `[[cosmos]]` section of the configuration: one CometBFT chain.

use serde::Deserialize;
use valwatch_core::{ConfigProblem, ValidatorsConfig, parse_endpoints};

/// One Cosmos chain to watch.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct CosmosConfig {
    /// Name of the network in metrics (`chain` label) and state files; unique in the process.
    pub name: String,
    /// CometBFT RPC endpoints, tried in order.
    pub rpc: Vec<String>,
    /// Seconds between polls of the RPC nodes.
    #[serde(default = "default_poll_seconds")]
    pub poll_interval_seconds: u64,
    /// Watched validators (operator addresses, consensus addresses or consensus public keys).
    #[serde(default)]
    pub validators: ValidatorsConfig,
}

fn default_poll_seconds() -> u64 {
    2
}

impl CosmosConfig {
    /// Checks every value; the problem names the key relative to this section.
    pub fn validate(&self) -> Result<(), ConfigProblem> {
        if self.name.trim().is_empty() {
            return Err(ConfigProblem::new("name", "must not be empty"));
        }
        parse_endpoints("rpc", &self.rpc)?;
        if !(1..=3600).contains(&self.poll_interval_seconds) {
            return Err(ConfigProblem::new(
                "poll_interval_seconds",
                "must be between 1 and 3600",
            ));
        }
        Ok(())
    }
}
