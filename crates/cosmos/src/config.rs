//! The `[[cosmos]]` section of the configuration: one CometBFT chain.
//!
//! Every key has a default except `name` and `rpc`; [`CosmosConfig::validate`] names the key of
//! any bad value. Durations the chain decides (block time, slashing window) are learned from the
//! chain unless the operator overrides them.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;
use valwatch_core::{ConfigProblem, SeriesPolicy, ValidatorsConfig, parse_endpoints};

use crate::rpc::CompatMode;

/// Most heights back-filled after a restart or an outage, whatever the configuration says: each
/// height costs one request, and 100 000 is days of blocks on any chain.
pub const MAX_BACKFILL_BLOCKS: u64 = 100_000;

/// One Cosmos chain to watch.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct CosmosConfig {
    /// Name of the network in metrics (`chain` label) and state files; unique in the process.
    pub name: String,
    /// CometBFT RPC endpoints, used together: the first good answer for a height wins.
    pub rpc: Vec<String>,
    /// Seconds between polls of the RPC nodes; default: about the chain's observed block time.
    #[serde(default)]
    pub poll_interval_seconds: Option<u64>,
    /// Watched validators (operator addresses, consensus addresses or consensus public keys).
    #[serde(default)]
    pub validators: ValidatorsConfig,
    /// Cardinality rule for per-validator series; set by the binary from `[server]`.
    #[serde(skip, default)]
    pub series: SeriesPolicy,
    /// Bech32 prefix of the chain (`cosmos`, `osmo`, ...); default: learned from x/staking.
    #[serde(default)]
    pub bech32_prefix: Option<String>,
    /// RPC dialect: `auto` (from `/status`), `0.34`, `0.37` or `0.38`.
    #[serde(default = "default_compat")]
    pub compat: String,
    /// Most heights judged back after a restart or an outage; older ones are skipped (and
    /// logged). Default 1000.
    #[serde(default = "default_backfill")]
    pub backfill_blocks: u64,
    /// Seconds without a new block before the chain is reported stalled; default: 20 block
    /// times, at least 30 seconds.
    #[serde(default)]
    pub stall_after_seconds: Option<u64>,
    /// Seconds between refreshes of x/staking, x/slashing, x/gov and x/upgrade data.
    #[serde(default = "default_sdk_refresh")]
    pub sdk_refresh_seconds: u64,
    /// Seconds before one RPC request times out.
    #[serde(default = "default_request_timeout")]
    pub request_timeout_seconds: u64,
    /// ICS consumer chains (no x/staking): configured key → consumer consensus address (hex or
    /// valcons) or consensus public key.
    #[serde(default)]
    pub consumer_keys: BTreeMap<String, String>,
    /// Subscribe to CometBFT `NewBlock` events over `<rpc>/websocket` to wake the poll loop as
    /// soon as a block is made (heights are still fetched over HTTP). Default true; polling
    /// alone when false or when no endpoint accepts the subscription.
    #[serde(default = "default_subscribe")]
    pub subscribe: bool,
}

fn default_subscribe() -> bool {
    true
}

fn default_compat() -> String {
    "auto".into()
}

fn default_backfill() -> u64 {
    1000
}

fn default_sdk_refresh() -> u64 {
    30
}

fn default_request_timeout() -> u64 {
    10
}

impl CosmosConfig {
    /// A configuration with every default, for `name` and `rpc`.
    pub fn new(name: &str, rpc: Vec<String>) -> Self {
        CosmosConfig {
            name: name.to_string(),
            rpc,
            poll_interval_seconds: None,
            validators: ValidatorsConfig::default(),
            series: SeriesPolicy::default(),
            bech32_prefix: None,
            compat: default_compat(),
            backfill_blocks: default_backfill(),
            stall_after_seconds: None,
            sdk_refresh_seconds: default_sdk_refresh(),
            request_timeout_seconds: default_request_timeout(),
            consumer_keys: BTreeMap::new(),
            subscribe: default_subscribe(),
        }
    }

    /// Checks every value; the problem names the key relative to this section.
    pub fn validate(&self) -> Result<(), ConfigProblem> {
        if self.name.trim().is_empty() {
            return Err(ConfigProblem::new("name", "must not be empty"));
        }
        parse_endpoints("rpc", &self.rpc)?;
        let range = |key: &str, value: u64, min: u64, max: u64| {
            if (min..=max).contains(&value) {
                Ok(())
            } else {
                Err(ConfigProblem::new(
                    key,
                    format!("must be between {min} and {max}, found {value}"),
                ))
            }
        };
        if let Some(poll) = self.poll_interval_seconds {
            range("poll_interval_seconds", poll, 1, 3600)?;
        }
        range(
            "backfill_blocks",
            self.backfill_blocks,
            0,
            MAX_BACKFILL_BLOCKS,
        )?;
        if let Some(stall) = self.stall_after_seconds {
            range("stall_after_seconds", stall, 1, 86_400)?;
        }
        range("sdk_refresh_seconds", self.sdk_refresh_seconds, 1, 86_400)?;
        range(
            "request_timeout_seconds",
            self.request_timeout_seconds,
            1,
            600,
        )?;
        self.compat_mode()?;
        if let Some(prefix) = &self.bech32_prefix
            && (prefix.is_empty()
                || !prefix
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit()))
        {
            return Err(ConfigProblem::new(
                "bech32_prefix",
                "must be lower-case letters and digits, like `cosmos`",
            ));
        }
        for (key, value) in &self.consumer_keys {
            crate::keys::parse_consensus_key(value)
                .map_err(|reason| ConfigProblem::new(format!("consumer_keys.\"{key}\""), reason))?;
        }
        Ok(())
    }

    /// The dialect override: `None` for `auto`.
    pub fn compat_mode(&self) -> Result<Option<CompatMode>, ConfigProblem> {
        match self.compat.trim() {
            "auto" => Ok(None),
            "0.34" => Ok(Some(CompatMode::V0_34)),
            "0.37" => Ok(Some(CompatMode::V0_37)),
            "0.38" => Ok(Some(CompatMode::V0_38)),
            other => Err(ConfigProblem::new(
                "compat",
                format!("`{other}` is not one of auto, 0.34, 0.37, 0.38"),
            )),
        }
    }

    /// The request timeout.
    pub fn request_timeout(&self) -> Duration {
        Duration::from_secs(self.request_timeout_seconds)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(extra: &str) -> Result<CosmosConfig, String> {
        let text = format!("name = \"hub\"\nrpc = [\"http://127.0.0.1:26657\"]\n{extra}");
        toml::from_str::<CosmosConfig>(&text).map_err(|e| e.to_string())
    }

    #[test]
    fn defaults_are_filled_in() {
        let config = parse("").expect("parses");
        assert_eq!(config, CosmosConfig::new("hub", config.rpc.clone()));
        assert_eq!(config.backfill_blocks, 1000);
        assert!(config.subscribe);
        assert_eq!(config.compat_mode(), Ok(None));
        config.validate().expect("valid");
    }

    #[test]
    fn bad_values_name_their_key() {
        for (extra, key) in [
            ("compat = \"0.39\"", "compat"),
            ("backfill_blocks = 1000000", "backfill_blocks"),
            ("sdk_refresh_seconds = 0", "sdk_refresh_seconds"),
            ("request_timeout_seconds = 0", "request_timeout_seconds"),
            ("stall_after_seconds = 0", "stall_after_seconds"),
            ("poll_interval_seconds = 0", "poll_interval_seconds"),
            ("bech32_prefix = \"Cosmos\"", "bech32_prefix"),
            ("[consumer_keys]\nx = \"nope\"", "consumer_keys.\"x\""),
        ] {
            let problem = parse(extra).expect("parses").validate().expect_err(extra);
            assert_eq!(problem.key, key, "{extra}: {problem}");
        }
        assert!(!parse("subscribe = false").expect("parses").subscribe);
        assert!(
            parse("subscribe = \"yes\"").is_err(),
            "subscribe is a boolean"
        );
        assert!(
            parse("unknown_key = 1").is_err(),
            "unknown keys are refused"
        );
        assert_eq!(
            parse("compat = \"0.37\"").expect("ok").compat_mode(),
            Ok(Some(CompatMode::V0_37))
        );
    }
}
