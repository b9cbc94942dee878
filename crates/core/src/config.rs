//! Configuration pieces every chain family shares, and the error that names the bad key.

use serde::Deserialize;

use crate::endpoint::Endpoint;
use crate::labels::{LabelMap, SeriesPolicy};

/// A configuration value that is wrong: which key, and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("key `{key}`: {message}")]
pub struct ConfigProblem {
    /// Dotted path of the key, for example `ethereum[0].beacon[1]`.
    pub key: String,
    /// What is wrong, and what is expected.
    pub message: String,
}

impl ConfigProblem {
    /// A problem with `key`.
    pub fn new(key: impl Into<String>, message: impl Into<String>) -> Self {
        ConfigProblem {
            key: key.into(),
            message: message.into(),
        }
    }

    /// The same problem one level deeper, under `prefix` (`ethereum[0]` + `beacon` →
    /// `ethereum[0].beacon`).
    pub fn within(self, prefix: &str) -> Self {
        ConfigProblem {
            key: format!("{prefix}.{}", self.key),
            message: self.message,
        }
    }
}

/// Parses endpoint URLs of key `key`, naming the index of a bad one.
pub fn parse_endpoints(key: &str, urls: &[String]) -> Result<Vec<Endpoint>, ConfigProblem> {
    if urls.is_empty() {
        return Err(ConfigProblem::new(key, "at least one URL is required"));
    }
    urls.iter()
        .enumerate()
        .map(|(i, url)| {
            Endpoint::parse(url, None)
                .map_err(|e| ConfigProblem::new(format!("{key}[{i}]"), e.to_string()))
        })
        .collect()
}

/// The validators of a chain as configured: inline labels, a key file, or both.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ValidatorsConfig {
    /// `label → [keys]`.
    #[serde(default)]
    pub labels: LabelMap,
    /// A file of `label → [keys]` (YAML form, `.toml` or `.json`), re-read when it changes.
    #[serde(default)]
    pub keys_file: Option<std::path::PathBuf>,
    /// Keys that always get per-validator series.
    #[serde(default)]
    pub per_validator: Vec<String>,
}

/// Process-wide options that chains inherit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainDefaults {
    /// Cardinality rule for per-validator series.
    pub series: SeriesPolicy,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn problems_name_the_full_key() {
        let problem = parse_endpoints("rpc", &["http://a:1".into(), "bad".into()]).unwrap_err();
        assert_eq!(problem.within("cosmos[2]").key, "cosmos[2].rpc[1]");
        assert!(
            parse_endpoints("rpc", &[])
                .unwrap_err()
                .message
                .contains("at least one")
        );
    }
}
