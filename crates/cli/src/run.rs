//! `valwatch run`: builds every configured watcher, starts the supervisor and the HTTP server,
//! and shuts both down cleanly on SIGINT or SIGTERM (state is saved before the process exits).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use valwatch_core::{Metrics, SeriesPolicy, StateStore, Supervisor};

use crate::config::Config;
use crate::server;

/// Runs the exporter until a signal arrives.
pub fn run(
    path: &Path,
    listen: Option<SocketAddr>,
    state_dir: Option<PathBuf>,
) -> anyhow::Result<()> {
    let mut config = Config::load(path)?;
    if let Some(listen) = listen {
        config.server.listen = listen;
    }
    if let Some(dir) = state_dir {
        config.server.state_dir = dir;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(run_async(config))
}

async fn run_async(config: Config) -> anyhow::Result<()> {
    let metrics = Metrics::new();
    metrics
        .gauge_family("build_info", "valwatch build; the value is always 1.")?
        .get_or_create(&vec![("version", env!("CARGO_PKG_VERSION").to_string())])
        .set(1.0);
    let store = StateStore::new(&config.server.state_dir);
    let mut supervisor = Supervisor::new(
        metrics.clone(),
        store,
        Duration::from_secs(config.server.save_interval_seconds),
    );
    let series = |always: Vec<String>| SeriesPolicy {
        per_validator_max: config.server.per_validator_series_max,
        always,
    };
    for chain in &config.ethereum {
        let mut chain = chain.clone();
        chain.series = series(chain.validators.per_validator.clone());
        let watcher = valwatch_ethereum::watcher(chain.clone())
            .map_err(|p| anyhow::anyhow!("ethereum chain `{}`: {p}", chain.name))?;
        supervisor.add(watcher)?;
    }
    for chain in &config.cosmos {
        let mut chain = chain.clone();
        // The Cosmos watcher resolves `validators.per_validator` (valoper, valcons, pubkey)
        // itself, once it knows the consensus addresses.
        chain.series = series(Vec::new());
        let watcher = valwatch_cosmos::watcher(chain.clone())
            .map_err(|p| anyhow::anyhow!("cosmos chain `{}`: {p}", chain.name))?;
        supervisor.add(watcher)?;
    }
    let stop = supervisor.cancel_token();
    let server = server::serve(
        config.server.listen,
        metrics.clone(),
        supervisor.readiness(),
        stop.clone(),
    )
    .await?;
    tracing::info!(
        chains = config.ethereum.len() + config.cosmos.len(),
        state_dir = %config.server.state_dir.display(),
        "valwatch started"
    );
    tokio::spawn(wait_for_signal(stop.clone()));
    supervisor.run().await;
    let _ = server.await;
    tracing::info!("state saved; exiting");
    Ok(())
}

async fn wait_for_signal(stop: valwatch_core::CancellationToken) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut terminate = match signal(SignalKind::terminate()) {
            Ok(s) => s,
            Err(e) => {
                tracing::error!(error = %e, "cannot listen for SIGTERM");
                let _ = tokio::signal::ctrl_c().await;
                stop.cancel();
                return;
            }
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => tracing::info!("SIGINT received; stopping"),
            _ = terminate.recv() => tracing::info!("SIGTERM received; stopping"),
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
    stop.cancel();
}
