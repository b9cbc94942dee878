//! The Ethereum [`ChainWatcher`]: follows the beacon nodes of one network.

use std::time::Duration;

use futures::FutureExt;
use futures::future::BoxFuture;
use serde::Deserialize;
use valwatch_core::{
    ChainTracker, ChainWatcher, Endpoint, WatchContext, WatchError, parse_endpoints,
};

use crate::config::EthereumConfig;

/// Builds the watcher of one configured network.
pub fn watcher(
    config: EthereumConfig,
) -> Result<Box<dyn ChainWatcher>, valwatch_core::ConfigProblem> {
    config.validate()?;
    let endpoints = parse_endpoints("beacon", &config.beacon)?;
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .map_err(|e| valwatch_core::ConfigProblem::new("beacon", e.to_string()))?;
    Ok(Box::new(EthereumWatcher {
        config,
        endpoints,
        client,
    }))
}

struct EthereumWatcher {
    config: EthereumConfig,
    endpoints: Vec<Endpoint>,
    client: reqwest::Client,
}

#[derive(Deserialize)]
struct Syncing {
    data: SyncingData,
}

#[derive(Deserialize)]
struct SyncingData {
    head_slot: String,
}

impl EthereumWatcher {
    async fn head_slot(&self, endpoint: &Endpoint) -> Result<u64, String> {
        let response = self
            .client
            .get(endpoint.join("/eth/v1/node/syncing"))
            .send()
            .await
            .map_err(|e| e.without_url().to_string())?;
        let body: Syncing = response
            .error_for_status()
            .map_err(|e| e.without_url().to_string())?
            .json()
            .await
            .map_err(|e| e.without_url().to_string())?;
        body.data
            .head_slot
            .parse()
            .map_err(|_| "head_slot is not a number".to_string())
    }
}

impl ChainWatcher for EthereumWatcher {
    fn family(&self) -> &'static str {
        "ethereum"
    }

    fn name(&self) -> &str {
        &self.config.name
    }

    fn register(&mut self, _tracker: &ChainTracker) -> Result<(), WatchError> {
        Ok(())
    }

    fn run<'a>(&'a mut self, ctx: &'a WatchContext) -> BoxFuture<'a, Result<(), WatchError>> {
        async move {
            let interval = Duration::from_secs(self.config.poll_interval_seconds);
            loop {
                for endpoint in &self.endpoints {
                    match self.head_slot(endpoint).await {
                        Ok(slot) => {
                            ctx.health.endpoint_up(endpoint, true);
                            ctx.health.set_progress(None, Some(slot));
                            ctx.health.mark_ready();
                        }
                        Err(error) => {
                            ctx.health.endpoint_up(endpoint, false);
                            ctx.health.error("endpoint");
                            tracing::warn!(chain = %self.config.name, %endpoint, %error, "beacon node unreachable");
                        }
                    }
                }
                tokio::select! {
                    _ = ctx.cancel.cancelled() => return Ok(()),
                    _ = tokio::time::sleep(interval) => {}
                }
            }
        }
        .boxed()
    }
}
