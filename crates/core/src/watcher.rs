//! The [`ChainWatcher`] trait every chain family implements, and what a watcher is given.
//!
//! A watcher follows one configured chain: it reads its nodes, judges the duties of the watched
//! validators unit by unit (a height for Cosmos, an epoch for Ethereum), reports them into its
//! [`ChainTracker`], and reports its own health through [`ChainHealth`]. It never decides how
//! metrics are exposed, how state is saved or when the process stops: the
//! [`crate::Supervisor`] does, the same way for every family, so a new family only implements
//! this trait.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use futures::future::BoxFuture;
use prometheus_client::metrics::counter::Counter;
use tokio_util::sync::CancellationToken;

use crate::endpoint::Endpoint;
use crate::metrics::{ChainMetrics, FloatGauge, MetricsError};
use crate::tracker::ChainTracker;

/// Why a watcher stopped.
#[derive(Debug, thiserror::Error)]
pub enum WatchError {
    /// Registering metrics failed (a programming error: two families with one name).
    #[error(transparent)]
    Metrics(#[from] MetricsError),
    /// A failure the supervisor retries after a backoff (node down, bad answer, ...).
    #[error("{0}")]
    Retryable(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// A failure retrying cannot fix (for example a configuration the node contradicts).
    #[error("{0}")]
    Fatal(String),
}

impl WatchError {
    /// Wraps any error as retryable.
    pub fn retryable(error: impl std::error::Error + Send + Sync + 'static) -> Self {
        WatchError::Retryable(Box::new(error))
    }
}

/// What a watcher is given to work with.
#[derive(Debug, Clone)]
pub struct WatchContext {
    /// Where observations go.
    pub tracker: Arc<ChainTracker>,
    /// Where the watcher reports its own health.
    pub health: ChainHealth,
    /// Cancelled when the process shuts down: `run` must return soon after.
    pub cancel: CancellationToken,
}

/// A chain family's watcher for one configured chain.
pub trait ChainWatcher: Send {
    /// The family, for example `ethereum`; part of the state file name.
    fn family(&self) -> &'static str;

    /// The configured chain name, unique in the process.
    fn name(&self) -> &str;

    /// Registers duties, counters and gauges in `tracker`. Called once, after the tracker got
    /// its restored snapshot and before the first [`ChainWatcher::run`].
    fn register(&mut self, tracker: &ChainTracker) -> Result<(), WatchError>;

    /// Follows the chain until `ctx.cancel` fires (then returns `Ok`). An error is logged and
    /// counted by the supervisor, which calls `run` again after a backoff.
    fn run<'a>(&'a mut self, ctx: &'a WatchContext) -> BoxFuture<'a, Result<(), WatchError>>;
}

/// Health of one watcher: readiness, progress and endpoints. Progress gauges appear once the
/// watcher first reports them, so an unknown value is never shown as 0.
#[derive(Debug, Clone)]
pub struct ChainHealth {
    metrics: ChainMetrics,
    ready: Arc<AtomicBool>,
    ready_gauge: FloatGauge,
}

impl ChainHealth {
    /// Health handles of the chain `metrics.chain()`.
    pub fn new(metrics: ChainMetrics) -> Result<Self, MetricsError> {
        Ok(ChainHealth {
            ready_gauge: metrics.gauge(
                "chain_ready",
                "1 once the chain's watcher completed its first cycle, else 0",
                &[],
            )?,
            ready: Arc::new(AtomicBool::new(false)),
            metrics,
        })
    }

    /// The chain's metric handles.
    pub fn metrics(&self) -> &ChainMetrics {
        &self.metrics
    }

    /// Marks the first complete cycle (`/readyz` turns ready once every chain did).
    pub fn mark_ready(&self) {
        self.ready.store(true, Ordering::Relaxed);
        self.ready_gauge.set(1.0);
    }

    /// Whether [`ChainHealth::mark_ready`] was called.
    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Relaxed)
    }

    fn set(&self, name: &str, help: &str, value: u64) {
        if let Ok(gauge) = self.metrics.gauge(name, help, &[]) {
            gauge.set(value as f64);
        }
    }

    /// Reports progress: the last judged unit and the head, both in the same unit (a height
    /// for Cosmos, an epoch for Ethereum), so that their difference is the lag.
    pub fn set_progress(&self, last_processed: Option<u64>, head: Option<u64>) {
        if let Some(unit) = last_processed {
            self.set(
                "chain_last_processed_unit",
                "Last height (Cosmos) or epoch (Ethereum) whose duties were judged",
                unit,
            );
        }
        if let Some(head) = head {
            self.set(
                "chain_head_unit",
                "Newest unit the chain's nodes report, in the unit of chain_last_processed_unit (height or epoch)",
                head,
            );
        }
        if let (Some(unit), Some(head)) = (last_processed, head) {
            self.set(
                "chain_lag_units",
                "Units between the chain head and the last judged unit, in the unit of chain_last_processed_unit",
                head.saturating_sub(unit),
            );
        }
    }

    /// Reports whether `endpoint` answers (`valwatch_endpoint_up`).
    pub fn endpoint_up(&self, endpoint: &Endpoint, up: bool) {
        if let Ok(gauge) = self.metrics.gauge(
            "endpoint_up",
            "1 if the endpoint answered its last request, else 0.",
            &[("endpoint", endpoint.name())],
        ) {
            gauge.set(if up { 1.0 } else { 0.0 });
        }
    }

    /// Counts an error of kind `kind` (`valwatch_watcher_errors_total`); kinds are a small
    /// fixed set per family, so the label stays bounded.
    pub fn error(&self, kind: &'static str) {
        if let Ok(counter) = self.errors(kind) {
            counter.inc();
        }
    }

    fn errors(&self, kind: &'static str) -> Result<Counter, MetricsError> {
        self.metrics.counter(
            "watcher_errors",
            "Errors met by the chain's watcher, by kind.",
            &[("kind", kind)],
        )
    }
}
