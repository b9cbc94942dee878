//! The configuration file: one TOML file for the exporter and every chain it watches.
//!
//! Parsing refuses unknown keys; every error names the file, the key and what is wrong, for
//! example `valwatch.toml: key `cosmos[1].rpc[0]`: not a valid URL: ...`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use valwatch_core::{ConfigProblem, labels::DEFAULT_PER_VALIDATOR_MAX};
use valwatch_cosmos::CosmosConfig;
use valwatch_ethereum::EthereumConfig;

/// The whole file.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Exporter settings.
    #[serde(default)]
    pub server: ServerConfig,
    /// Ethereum networks.
    #[serde(default)]
    pub ethereum: Vec<EthereumConfig>,
    /// CometBFT / Cosmos SDK chains.
    #[serde(default)]
    pub cosmos: Vec<CosmosConfig>,
}

/// The `[server]` table.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    /// Address of the HTTP server (`/metrics`, `/healthz`, `/readyz`).
    #[serde(default = "default_listen")]
    pub listen: SocketAddr,
    /// Directory of the state files.
    #[serde(default = "default_state_dir")]
    pub state_dir: PathBuf,
    /// Seconds between state saves (state is also saved at shutdown).
    #[serde(default = "default_save_interval")]
    pub save_interval_seconds: u64,
    /// Per-validator series for every validator of a chain while it watches at most this many.
    #[serde(default = "default_per_validator_max")]
    pub per_validator_series_max: usize,
}

/// Default listen address; 9615 is not used by the common chain clients.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:9615";

fn default_listen() -> SocketAddr {
    DEFAULT_LISTEN
        .parse()
        .unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 9615)))
}

fn default_state_dir() -> PathBuf {
    PathBuf::from("valwatch-state")
}

fn default_save_interval() -> u64 {
    30
}

fn default_per_validator_max() -> usize {
    DEFAULT_PER_VALIDATOR_MAX
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            listen: default_listen(),
            state_dir: default_state_dir(),
            save_interval_seconds: default_save_interval(),
            per_validator_series_max: default_per_validator_max(),
        }
    }
}

impl Config {
    /// Reads and checks `path`. The error message names the file and the key.
    pub fn load(path: &Path) -> anyhow::Result<Config> {
        let shown = path.display();
        let text = std::fs::read_to_string(path)
            .map_err(|e| anyhow::anyhow!("{shown}: cannot read the configuration: {e}"))?;
        let config: Config = toml::from_str(&text)
            .map_err(|e| anyhow::anyhow!("{shown}: {}", e.to_string().trim_end()))?;
        config
            .validate()
            .map_err(|problem| anyhow::anyhow!("{shown}: {problem}"))?;
        Ok(config)
    }

    /// Checks every value of every chain.
    pub fn validate(&self) -> Result<(), ConfigProblem> {
        if !(1..=86_400).contains(&self.server.save_interval_seconds) {
            return Err(ConfigProblem::new(
                "server.save_interval_seconds",
                "must be between 1 and 86400",
            ));
        }
        let mut names: Vec<(String, String)> = Vec::new();
        let mut check_name = |key: String, name: &str| {
            if let Some((other, _)) = names.iter().find(|(_, n)| n == name) {
                return Err(ConfigProblem::new(
                    key,
                    format!("chain name `{name}` is already used by `{other}`"),
                ));
            }
            names.push((key, name.to_string()));
            Ok(())
        };
        for (i, chain) in self.ethereum.iter().enumerate() {
            let prefix = format!("ethereum[{i}]");
            chain.validate().map_err(|p| p.within(&prefix))?;
            check_name(format!("{prefix}.name"), &chain.name)?;
        }
        for (i, chain) in self.cosmos.iter().enumerate() {
            let prefix = format!("cosmos[{i}]");
            chain.validate().map_err(|p| p.within(&prefix))?;
            check_name(format!("{prefix}.name"), &chain.name)?;
        }
        Ok(())
    }

    /// A one-line summary for `check-config`.
    pub fn summary(&self) -> String {
        let keys = |labels: &valwatch_core::LabelMap| labels.values().map(Vec::len).sum::<usize>();
        let eth_keys: usize = self
            .ethereum
            .iter()
            .map(|c| keys(&c.validators.labels))
            .sum();
        let cosmos_keys: usize = self.cosmos.iter().map(|c| keys(&c.validators.labels)).sum();
        format!(
            "{} ethereum network(s) with {eth_keys} inline key(s), {} cosmos chain(s) with {cosmos_keys} inline key(s); metrics on http://{}/metrics; state in {}",
            self.ethereum.len(),
            self.cosmos.len(),
            self.server.listen,
            self.server.state_dir.display()
        )
    }
}
