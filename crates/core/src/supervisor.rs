//! Runs every configured [`ChainWatcher`] side by side on tokio, and owns their state files.
//!
//! Each watcher gets a tracker restored from its snapshot (a damaged or foreign snapshot is
//! quarantined with a warning and the chain starts fresh), runs in its own task, and is
//! restarted with exponential backoff when it fails, so one broken chain never stops the
//! others. Snapshots are saved on an interval and once more at shutdown.

use std::sync::Arc;
use std::time::Duration;

use futures::future::join_all;
use tokio_util::sync::CancellationToken;
use tracing::{error, info, warn};

use crate::endpoint::Backoff;
use crate::metrics::{ChainMetrics, Metrics};
use crate::state::StateStore;
use crate::tracker::ChainTracker;
use crate::watcher::{ChainHealth, ChainWatcher, WatchContext, WatchError};

/// How long watchers get to stop after cancellation before they are abandoned.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(3);

struct Chain {
    watcher: Box<dyn ChainWatcher>,
    context: WatchContext,
}

/// The set of running chains.
pub struct Supervisor {
    metrics: Metrics,
    store: StateStore,
    save_interval: Duration,
    chains: Vec<Chain>,
    cancel: CancellationToken,
}

/// A cheap handle telling whether every chain completed a first cycle.
#[derive(Debug, Clone)]
pub struct Readiness {
    chains: Vec<(String, ChainHealth)>,
}

impl Readiness {
    /// Chains that are not ready yet.
    pub fn pending(&self) -> Vec<&str> {
        self.chains
            .iter()
            .filter(|(_, health)| !health.is_ready())
            .map(|(name, _)| name.as_str())
            .collect()
    }
}

impl Supervisor {
    /// A supervisor saving state into `store` every `save_interval`.
    pub fn new(metrics: Metrics, store: StateStore, save_interval: Duration) -> Self {
        Supervisor {
            metrics,
            store,
            save_interval,
            chains: Vec::new(),
            cancel: CancellationToken::new(),
        }
    }

    /// The token that stops everything.
    pub fn cancel_token(&self) -> CancellationToken {
        self.cancel.clone()
    }

    /// Adds a watcher: restores its state and lets it register its metrics.
    pub fn add(&mut self, mut watcher: Box<dyn ChainWatcher>) -> Result<(), WatchError> {
        let family = watcher.family();
        let name = watcher.name().to_string();
        if self.chains.iter().any(|c| c.watcher.name() == name) {
            return Err(WatchError::Fatal(format!(
                "chain name `{name}` is used twice"
            )));
        }
        let chain_metrics = self.metrics.for_chain(&name);
        let tracker = Arc::new(ChainTracker::new(family, chain_metrics.clone()));
        let (snapshot, problem) = self.store.load_or_quarantine(family, &name);
        if let Some(problem) = problem {
            warn!(chain = %name, error = %problem, "previous state not used; starting fresh");
            state_counter(
                &chain_metrics,
                "restore_failures",
                "State files that could not be restored.",
            )
            .inc();
        }
        if let Some(snapshot) = snapshot {
            info!(chain = %name, checkpoint = ?snapshot.checkpoint, "state restored");
            tracker.restore(snapshot);
        }
        watcher.register(&tracker)?;
        let health = ChainHealth::new(chain_metrics)?;
        self.chains.push(Chain {
            watcher,
            context: WatchContext {
                tracker,
                health,
                cancel: self.cancel.child_token(),
            },
        });
        Ok(())
    }

    /// Readiness of the chains added so far.
    pub fn readiness(&self) -> Readiness {
        Readiness {
            chains: self
                .chains
                .iter()
                .map(|c| (c.watcher.name().to_string(), c.context.health.clone()))
                .collect(),
        }
    }

    /// The trackers, for one-off inspection.
    pub fn trackers(&self) -> Vec<Arc<ChainTracker>> {
        self.chains
            .iter()
            .map(|c| c.context.tracker.clone())
            .collect()
    }

    /// Runs until the cancel token fires, then stops the watchers and saves every chain.
    pub async fn run(self) {
        let trackers = self.trackers();
        let cancel = self.cancel.clone();
        let mut tasks = Vec::new();
        for chain in self.chains {
            tasks.push(tokio::spawn(supervise(chain)));
        }
        let saver = {
            let store = self.store.clone();
            let trackers = trackers.clone();
            let cancel = cancel.clone();
            let interval = self.save_interval;
            tokio::spawn(async move {
                let mut ticker = tokio::time::interval(interval);
                ticker.tick().await;
                loop {
                    tokio::select! {
                        _ = cancel.cancelled() => break,
                        _ = ticker.tick() => save_all(&store, &trackers).await,
                    }
                }
            })
        };
        cancel.cancelled().await;
        let stopping = join_all(tasks);
        if tokio::time::timeout(SHUTDOWN_GRACE, stopping)
            .await
            .is_err()
        {
            warn!("some watchers did not stop within {SHUTDOWN_GRACE:?}; saving state anyway");
        }
        let _ = saver.await;
        save_all(&self.store, &trackers).await;
    }
}

async fn supervise(mut chain: Chain) {
    let mut backoff = Backoff::new(Duration::from_secs(1), Duration::from_secs(60));
    let name = chain.watcher.name().to_string();
    let restarts = state_counter(
        chain.context.tracker.metrics(),
        "watcher_restarts",
        "Times the chain's watcher failed and was restarted.",
    );
    loop {
        let result = tokio::select! {
            result = chain.watcher.run(&chain.context) => result,
            _ = chain.context.cancel.cancelled() => Ok(()),
        };
        if chain.context.cancel.is_cancelled() {
            return;
        }
        let delay = backoff.next_delay();
        match result {
            Ok(()) => {
                warn!(chain = %name, "watcher returned without being stopped; restarting in {delay:?}")
            }
            Err(WatchError::Fatal(message)) => {
                error!(chain = %name, error = %message, "watcher stopped for good: fix the configuration and restart valwatch");
                chain.context.health.error("fatal");
                return;
            }
            Err(e) => {
                error!(chain = %name, error = %e, "watcher failed; restarting in {delay:?}");
                chain.context.health.error("watcher");
            }
        }
        restarts.inc();
        tokio::select! {
            _ = tokio::time::sleep(delay) => {}
            _ = chain.context.cancel.cancelled() => return,
        }
    }
}

fn state_counter(
    metrics: &ChainMetrics,
    name: &str,
    help: &str,
) -> prometheus_client::metrics::counter::Counter {
    metrics.counter(name, help, &[]).unwrap_or_default()
}

async fn save_all(store: &StateStore, trackers: &[Arc<ChainTracker>]) {
    for tracker in trackers {
        let encoder = tracker.clone();
        let store = store.clone();
        let saved = tokio::task::spawn_blocking(move || {
            store.save_with(encoder.family(), encoder.chain(), |file| {
                encoder.write_snapshot(file)
            })
        })
        .await;
        let chain = tracker.chain();
        match saved {
            Ok(Ok(())) => {
                if let Ok(gauge) = tracker.metrics().gauge(
                    "state_saved_timestamp_seconds",
                    "Unix time of the last successful state save.",
                    &[],
                ) {
                    let now = std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)
                        .map_or(0.0, |d| d.as_secs_f64());
                    gauge.set(now);
                }
            }
            Ok(Err(e)) => {
                error!(chain, error = %e, "saving state failed");
                state_counter(
                    tracker.metrics(),
                    "state_save_failures",
                    "State saves that failed.",
                )
                .inc();
            }
            Err(e) => error!(chain, error = %e, "state saving task failed"),
        }
    }
}
