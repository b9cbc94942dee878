//! valwatch-core: what every chain family shares.
//!
//! - [`ChainWatcher`]: the trait a chain family implements; [`Supervisor`] runs any number of
//!   them side by side, restarts failed ones with backoff and saves their state.
//! - [`MissWindow`] / [`WindowTable`]: x/slashing-style sliding windows of missed units, where a
//!   unit never observed is unknown, never a miss.
//! - [`ValidatorSet`]: the operator's `label → keys` groups and the per-validator cardinality
//!   rule.
//! - [`ChainTracker`]: windows, grouped counters and gauges of one chain, turned into metrics
//!   on the explicit [`Metrics`] registry, and persisted through [`StateStore`].
//!
//! The logic here is pure or sits behind small interfaces: no module reads the clock or the
//! network except the supervisor's timers.

pub mod config;
pub mod duty_windows;
pub mod endpoint;
pub mod labels;
pub mod metrics;
pub mod saved;
pub mod state;
pub mod supervisor;
pub mod tracker;
pub mod watcher;
pub mod window;

pub use config::{ChainDefaults, ConfigProblem, ValidatorsConfig, parse_endpoints};
pub use endpoint::{Backoff, Endpoint, EndpointError};
pub use labels::{
    ALL_GROUP, GroupId, IndexLabels, LabelError, LabelMap, SeriesPolicy, ValidatorId, ValidatorSet,
    read_key_file,
};
pub use metrics::{ChainMetrics, Metrics, MetricsError};
pub use state::{ChainSnapshot, StateError, StateStore};
pub use supervisor::{Readiness, Supervisor};
pub use tracker::{Aggregate, CategoryId, ChainTracker, CounterId, DutyId, GaugeId, Update};
pub use watcher::{ChainHealth, ChainWatcher, WatchContext, WatchError};
pub use window::{MissWindow, RecordOutcome, WindowStats, WindowTable};

pub use tokio_util::sync::CancellationToken;

/// An error and its sources as one line (`a: b: c`), for logs: HTTP client errors often say
/// only "error sending request" at the top and the cause (connection refused) below.
pub fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}
