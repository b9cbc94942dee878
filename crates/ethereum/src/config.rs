//! The `[[ethereum]]` section of the configuration: one beacon-chain network.

use serde::Deserialize;
use valwatch_core::{ConfigProblem, ValidatorsConfig, parse_endpoints};

/// One Ethereum network to watch.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct EthereumConfig {
    /// Name of the network in metrics (`chain` label) and state files; unique in the process.
    pub name: String,
    /// Beacon API endpoints, tried in order.
    pub beacon: Vec<String>,
    /// Seconds between polls of the beacon nodes.
    #[serde(default = "default_poll_seconds")]
    pub poll_interval_seconds: u64,
    /// Watched validators (BLS public keys, `0x` + 96 hex digits).
    #[serde(default)]
    pub validators: ValidatorsConfig,
}

fn default_poll_seconds() -> u64 {
    6
}

impl EthereumConfig {
    /// Checks every value; the problem names the key relative to this section.
    pub fn validate(&self) -> Result<(), ConfigProblem> {
        if self.name.trim().is_empty() {
            return Err(ConfigProblem::new("name", "must not be empty"));
        }
        parse_endpoints("beacon", &self.beacon)?;
        if !(1..=3600).contains(&self.poll_interval_seconds) {
            return Err(ConfigProblem::new(
                "poll_interval_seconds",
                "must be between 1 and 3600",
            ));
        }
        Ok(())
    }
}
