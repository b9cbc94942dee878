//! The metrics registry: one explicit `prometheus-client` registry for the whole process.
//!
//! Every family name gets the `valwatch_` prefix; counters get `_total` from the encoder. A
//! family is registered once, however many chains use it: chains are told apart by a `chain`
//! label, never by registering the same name twice (which would make the exposition invalid).
//! Asking for an existing family returns it, asking for it with another type is an error.

use std::collections::HashMap;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex, PoisonError, RwLock};

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

/// Label pairs of one series, keys are static and values owned.
pub type LabelPairs = Vec<(&'static str, String)>;
/// A counter family with dynamic labels.
pub type CounterFamily = Family<LabelPairs, Counter>;
/// A floating-point gauge (integers up to 2^53 are exact).
pub type FloatGauge = Gauge<f64, AtomicU64>;
/// A gauge family with dynamic labels.
pub type GaugeFamily = Family<LabelPairs, FloatGauge>;

/// Prefix of every metric name.
pub const PREFIX: &str = "valwatch";

/// Why a family could not be registered.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum MetricsError {
    /// Name not of the form `[a-z][a-z0-9_]*`, or a counter name ending in `_total`.
    #[error("invalid metric name `{0}`")]
    InvalidName(String),
    /// The name is taken by a family of another type.
    #[error("metric `{0}` is already registered with another type")]
    TypeConflict(String),
}

#[derive(Clone)]
enum Registered {
    Counter(CounterFamily),
    Gauge(GaugeFamily),
}

struct Inner {
    registry: RwLock<Registry>,
    families: Mutex<HashMap<String, Registered>>,
}

/// The process-wide registry; cheap to clone.
#[derive(Clone)]
pub struct Metrics {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

impl Metrics {
    /// An empty registry.
    pub fn new() -> Self {
        Metrics {
            inner: Arc::new(Inner {
                registry: RwLock::new(Registry::with_prefix(PREFIX)),
                families: Mutex::new(HashMap::new()),
            }),
        }
    }

    /// The counter family `valwatch_<name>_total`.
    pub fn counter_family(&self, name: &str, help: &str) -> Result<CounterFamily, MetricsError> {
        if !valid_name(name) || name.ends_with("_total") {
            return Err(MetricsError::InvalidName(name.to_string()));
        }
        match self.family(name, help, || Registered::Counter(CounterFamily::default()))? {
            Registered::Counter(family) => Ok(family),
            Registered::Gauge(_) => Err(MetricsError::TypeConflict(name.to_string())),
        }
    }

    /// The gauge family `valwatch_<name>`.
    pub fn gauge_family(&self, name: &str, help: &str) -> Result<GaugeFamily, MetricsError> {
        if !valid_name(name) {
            return Err(MetricsError::InvalidName(name.to_string()));
        }
        match self.family(name, help, || Registered::Gauge(GaugeFamily::default()))? {
            Registered::Gauge(family) => Ok(family),
            Registered::Counter(_) => Err(MetricsError::TypeConflict(name.to_string())),
        }
    }

    fn family(
        &self,
        name: &str,
        help: &str,
        create: impl FnOnce() -> Registered,
    ) -> Result<Registered, MetricsError> {
        let mut families = self
            .inner
            .families
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(existing) = families.get(name) {
            return Ok(existing.clone());
        }
        let created = create();
        // The encoder ends HELP text with a period of its own.
        let help = help.trim_end_matches('.');
        let mut registry = self
            .inner
            .registry
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        match &created {
            Registered::Counter(family) => registry.register(name, help, family.clone()),
            Registered::Gauge(family) => registry.register(name, help, family.clone()),
        }
        families.insert(name.to_string(), created.clone());
        Ok(created)
    }

    /// The whole registry in the OpenMetrics text format.
    pub fn encode(&self) -> String {
        let mut out = String::with_capacity(64 * 1024);
        let registry = self
            .inner
            .registry
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        // Writing into a String cannot fail.
        let _ = encode(&mut out, &registry);
        out
    }

    /// Handles for one chain: every series carries `chain="<name>"`.
    pub fn for_chain(&self, chain: &str) -> ChainMetrics {
        ChainMetrics {
            metrics: self.clone(),
            chain: chain.into(),
        }
    }
}

/// Metrics of one chain: the `chain` label is filled in.
#[derive(Clone, Debug)]
pub struct ChainMetrics {
    metrics: Metrics,
    chain: Arc<str>,
}

impl ChainMetrics {
    /// The chain name.
    pub fn chain(&self) -> &str {
        &self.chain
    }

    /// The process registry.
    pub fn registry(&self) -> &Metrics {
        &self.metrics
    }

    /// Label pairs starting with `chain`.
    pub fn labels(&self, extra: &[(&'static str, &str)]) -> LabelPairs {
        std::iter::once(("chain", self.chain.to_string()))
            .chain(extra.iter().map(|(k, v)| (*k, v.to_string())))
            .collect()
    }

    /// The gauge `valwatch_<name>{chain, extra...}`.
    pub fn gauge(
        &self,
        name: &str,
        help: &str,
        extra: &[(&'static str, &str)],
    ) -> Result<FloatGauge, MetricsError> {
        Ok(self
            .metrics
            .gauge_family(name, help)?
            .get_or_create_owned(&self.labels(extra)))
    }

    /// The counter `valwatch_<name>_total{chain, extra...}`.
    pub fn counter(
        &self,
        name: &str,
        help: &str,
        extra: &[(&'static str, &str)],
    ) -> Result<Counter, MetricsError> {
        Ok(self
            .metrics
            .counter_family(name, help)?
            .get_or_create_owned(&self.labels(extra)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families_are_shared_across_chains_and_named_with_the_prefix() {
        let metrics = Metrics::new();
        let a = metrics.for_chain("mainnet");
        let b = metrics.for_chain("hub");
        a.counter("blocks", "Blocks seen.", &[]).expect("ok").inc();
        b.counter("blocks", "Blocks seen.", &[])
            .expect("ok")
            .inc_by(2);
        a.gauge("height", "Chain height.", &[("endpoint", "n1")])
            .expect("ok")
            .set(7.0);
        let text = metrics.encode();
        assert_eq!(
            text.matches("# TYPE valwatch_blocks counter").count(),
            1,
            "{text}"
        );
        assert!(
            text.contains("valwatch_blocks_total{chain=\"mainnet\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("valwatch_blocks_total{chain=\"hub\"} 2"),
            "{text}"
        );
        assert!(
            text.contains("valwatch_height{chain=\"mainnet\",endpoint=\"n1\"} 7"),
            "{text}"
        );
        assert!(
            text.contains("# HELP valwatch_height Chain height."),
            "{text}"
        );
        assert!(text.ends_with("# EOF\n"));
    }

    #[test]
    fn bad_names_and_type_conflicts_are_refused() {
        let metrics = Metrics::new();
        assert!(metrics.counter_family("x_total", "h").is_err());
        assert!(metrics.counter_family("Bad", "h").is_err());
        metrics.gauge_family("thing", "h").expect("ok");
        assert_eq!(
            metrics.counter_family("thing", "h").unwrap_err(),
            MetricsError::TypeConflict("thing".into())
        );
    }
}
