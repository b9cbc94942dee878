//! The `[[ethereum]]` section of the configuration: one beacon-chain network.
//!
//! Every key has a default except `name` and `beacon`; [`EthereumConfig::validate`] checks each
//! value and names the key it refuses, relative to the section (`ethereum[0].` is added by the
//! caller).

use std::path::PathBuf;

use serde::Deserialize;
use valwatch_core::{ConfigProblem, SeriesPolicy, ValidatorsConfig, parse_endpoints};

use crate::client::DEFAULT_MAX_ANSWER_BYTES;

/// When an epoch is judged.
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Epoch `e` is judged once the node's head is a few slots past the last slot of `e + 1`
    /// (the end of the inclusion window), on the canonical chain of that moment; a later reorg
    /// of those slots is noticed and the epoch judged again.
    #[default]
    Head,
    /// Epoch `e` is judged once `e + 1` is finalized: slower (2 to 3 epochs), never reorged.
    Finalized,
}

/// One Ethereum network to watch.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct EthereumConfig {
    /// Name of the network in metrics (`chain` label) and state files; unique in the process.
    pub name: String,
    /// Beacon API endpoints, tried in order.
    pub beacon: Vec<String>,
    /// Seconds between polls of the beacon nodes' head; default: half a slot
    /// (`SECONDS_PER_SLOT / 2` from the node's spec, at least 0.5 s).
    #[serde(default)]
    pub poll_interval_seconds: Option<u64>,
    /// When an epoch is judged: `head` (default) or `finalized`.
    #[serde(default)]
    pub mode: Mode,
    /// Watch every validator with a duty, keyed by its index (`"1234"`); configured keys keep
    /// their labels. For explorers and benchmarks: above the per-validator threshold only
    /// label aggregates are exported.
    #[serde(default)]
    pub watch_all: bool,
    /// At most this many missed epochs are analysed after a restart or an outage (older ones
    /// are skipped with a warning).
    #[serde(default = "default_backfill_epochs")]
    pub backfill_epochs: u64,
    /// Seconds between re-resolutions of keys (new deposits, status changes).
    #[serde(default = "default_key_refresh_seconds")]
    pub key_refresh_seconds: u64,
    /// Seconds before a request to a beacon node times out.
    #[serde(default = "default_request_timeout_seconds")]
    pub request_timeout_seconds: u64,
    /// Largest answer accepted from a beacon node, in bytes.
    #[serde(default = "default_max_answer_bytes")]
    pub max_answer_bytes: usize,
    /// Watched validators (BLS public keys, `0x` + 96 hex digits).
    #[serde(default)]
    pub validators: ValidatorsConfig,
    /// Open the Beacon API event stream (`/eth/v1/events`) and poll at once on a `head`,
    /// `chain_reorg` or `finalized_checkpoint` event; polling every `poll_interval_seconds`
    /// stays the fallback. `false` = polling only.
    #[serde(default = "default_events")]
    pub events: bool,
    /// Seconds an open event stream may stay silent (not even a keep-alive) before it is
    /// reconnected; default two epochs, at least 120 s.
    #[serde(default)]
    pub events_idle_timeout_seconds: Option<u64>,
    /// Which validators get series of their own; set by the binary from
    /// `[server] per_validator_series_max` and `validators.per_validator`.
    #[serde(skip, default)]
    pub series: SeriesPolicy,
}

/// Default of [`EthereumConfig::backfill_epochs`]: 64 epochs are ≈ 7 h on mainnet, what a
/// non-archive beacon node still serves cheaply.
pub const DEFAULT_BACKFILL_EPOCHS: u64 = 64;

fn default_backfill_epochs() -> u64 {
    DEFAULT_BACKFILL_EPOCHS
}

fn default_events() -> bool {
    true
}

fn default_key_refresh_seconds() -> u64 {
    600
}

fn default_request_timeout_seconds() -> u64 {
    30
}

fn default_max_answer_bytes() -> usize {
    DEFAULT_MAX_ANSWER_BYTES
}

fn range(key: &str, value: u64, low: u64, high: u64) -> Result<(), ConfigProblem> {
    if (low..=high).contains(&value) {
        Ok(())
    } else {
        Err(ConfigProblem::new(
            key,
            format!("{value} is out of range: must be between {low} and {high}"),
        ))
    }
}

impl EthereumConfig {
    /// A configuration with defaults for everything but the name and the endpoints.
    pub fn new(name: impl Into<String>, beacon: Vec<String>) -> Self {
        EthereumConfig {
            name: name.into(),
            beacon,
            poll_interval_seconds: None,
            mode: Mode::default(),
            watch_all: false,
            backfill_epochs: default_backfill_epochs(),
            key_refresh_seconds: default_key_refresh_seconds(),
            request_timeout_seconds: default_request_timeout_seconds(),
            max_answer_bytes: default_max_answer_bytes(),
            events: default_events(),
            events_idle_timeout_seconds: None,
            validators: ValidatorsConfig::default(),
            series: SeriesPolicy::default(),
        }
    }

    /// Checks every value; the problem names the key relative to this section.
    pub fn validate(&self) -> Result<(), ConfigProblem> {
        if self.name.trim().is_empty() {
            return Err(ConfigProblem::new("name", "must not be empty"));
        }
        parse_endpoints("beacon", &self.beacon)?;
        if let Some(poll) = self.poll_interval_seconds {
            range("poll_interval_seconds", poll, 1, 3600)?;
        }
        if let Some(idle) = self.events_idle_timeout_seconds {
            range("events_idle_timeout_seconds", idle, 1, 86_400)?;
        }
        range("backfill_epochs", self.backfill_epochs, 0, 100_000)?;
        range("key_refresh_seconds", self.key_refresh_seconds, 10, 86_400)?;
        range(
            "request_timeout_seconds",
            self.request_timeout_seconds,
            1,
            600,
        )?;
        range(
            "max_answer_bytes",
            self.max_answer_bytes as u64,
            64 * 1024,
            4 * 1024 * 1024 * 1024,
        )?;
        crate::keys::check_labels(&self.validators.labels)
            .map_err(|e| ConfigProblem::new("validators.labels", e))?;
        for (i, key) in self.validators.per_validator.iter().enumerate() {
            let valid = crate::keys::normalize_pubkey(key).is_ok()
                || (self.watch_all && key.parse::<u64>().is_ok());
            if !valid {
                return Err(ConfigProblem::new(
                    format!("validators.per_validator[{i}]"),
                    format!("`{key}` is not a BLS public key (0x + 96 hex digits)"),
                ));
            }
        }
        if let Some(path) = &self.validators.keys_file {
            crate::keys::read_keys_file(path)
                .map_err(|e| ConfigProblem::new("validators.keys_file", e))?;
        }
        Ok(())
    }

    /// The key file, if any.
    pub fn keys_file(&self) -> Option<&PathBuf> {
        self.validators.keys_file.as_ref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "0xa48cc260df1df875176cb17493a5b53d669c091da74d5075acb8952a641b1b7ef68d01f009c1a365d2fa80937c79dd6b";

    fn parse(extra: &str) -> Result<EthereumConfig, String> {
        let text = format!(
            "name = \"dev\"\nbeacon = [\"http://127.0.0.1:9596\"]\n{extra}\n[validators.labels]\ns1 = [\"{KEY}\"]\n"
        );
        let config: EthereumConfig = toml::from_str(&text).map_err(|e| e.to_string())?;
        config.validate().map_err(|p| p.to_string())?;
        Ok(config)
    }

    #[test]
    fn defaults_apply_and_mode_parses() {
        let config = parse("").expect("valid");
        assert_eq!(config.mode, Mode::Head);
        assert_eq!(config.backfill_epochs, DEFAULT_BACKFILL_EPOCHS);
        assert!(!config.watch_all);
        assert!(config.events, "the event stream is on by default");
        assert!(!parse("events = false").expect("valid").events);
        assert!(parse("events = \"yes\"").is_err());
        assert_eq!(config.events_idle_timeout_seconds, None);
        let idle = parse("events_idle_timeout_seconds = 5").expect("valid");
        assert_eq!(idle.events_idle_timeout_seconds, Some(5));
        let config = parse("mode = \"finalized\"\nwatch_all = true").expect("valid");
        assert_eq!(config.mode, Mode::Finalized);
        assert!(parse("mode = \"safe\"").is_err());
        assert!(parse("unknown_key = 1").is_err());
    }

    #[test]
    fn each_bad_value_names_its_key() {
        for (line, key) in [
            ("poll_interval_seconds = 0", "poll_interval_seconds"),
            (
                "events_idle_timeout_seconds = 0",
                "events_idle_timeout_seconds",
            ),
            ("backfill_epochs = 1000000", "backfill_epochs"),
            ("key_refresh_seconds = 1", "key_refresh_seconds"),
            ("request_timeout_seconds = 0", "request_timeout_seconds"),
            ("max_answer_bytes = 10", "max_answer_bytes"),
        ] {
            let error = parse(line).expect_err(line);
            assert!(error.contains(&format!("`{key}`")), "{line}: {error}");
        }
    }

    #[test]
    fn bad_pubkeys_and_key_files_are_refused() {
        let mut config = EthereumConfig::new("dev", vec!["http://127.0.0.1:1".into()]);
        config
            .validate()
            .expect("watching nothing is allowed (health only)");
        config
            .validators
            .labels
            .insert("s1".into(), vec!["0x1234".into()]);
        let problem = config.validate().expect_err("short key");
        assert_eq!(problem.key, "validators.labels");
        assert!(problem.message.contains("0x1234"), "{problem}");
        config
            .validators
            .labels
            .insert("s1".into(), vec![KEY.to_uppercase().replace("0X", "0x")]);
        config.validate().expect("upper-case hex is accepted");
        config.validators.keys_file = Some("/nonexistent/keys.yaml".into());
        assert_eq!(
            config.validate().expect_err("missing file").key,
            "validators.keys_file"
        );
    }
}
