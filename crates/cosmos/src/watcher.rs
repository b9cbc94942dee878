//! The Cosmos [`ChainWatcher`]: follows the RPC nodes of one CometBFT chain.

use std::time::Duration;

use futures::FutureExt;
use futures::future::BoxFuture;
use serde::Deserialize;
use valwatch_core::{
    ChainTracker, ChainWatcher, Endpoint, WatchContext, WatchError, parse_endpoints,
};

use crate::config::CosmosConfig;

/// Builds the watcher of one configured chain.
pub fn watcher(
    config: CosmosConfig,
) -> Result<Box<dyn ChainWatcher>, valwatch_core::ConfigProblem> {
    config.validate()?;
    let endpoints = parse_endpoints("rpc", &config.rpc)?;
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .map_err(|e| valwatch_core::ConfigProblem::new("rpc", e.to_string()))?;
    Ok(Box::new(CosmosWatcher {
        config,
        endpoints,
        client,
    }))
}

struct CosmosWatcher {
    config: CosmosConfig,
    endpoints: Vec<Endpoint>,
    client: reqwest::Client,
}

#[derive(Deserialize)]
struct StatusResponse {
    result: Status,
}

#[derive(Deserialize)]
struct Status {
    sync_info: SyncInfo,
}

#[derive(Deserialize)]
struct SyncInfo {
    latest_block_height: String,
}

impl CosmosWatcher {
    async fn height(&self, endpoint: &Endpoint) -> Result<u64, String> {
        let response = self
            .client
            .get(endpoint.join("/status"))
            .send()
            .await
            .map_err(|e| e.without_url().to_string())?;
        let body: StatusResponse = response
            .error_for_status()
            .map_err(|e| e.without_url().to_string())?
            .json()
            .await
            .map_err(|e| e.without_url().to_string())?;
        body.result
            .sync_info
            .latest_block_height
            .parse()
            .map_err(|_| "latest_block_height is not a number".to_string())
    }
}

impl ChainWatcher for CosmosWatcher {
    fn family(&self) -> &'static str {
        "cosmos"
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
                    match self.height(endpoint).await {
                        Ok(height) => {
                            ctx.health.endpoint_up(endpoint, true);
                            ctx.health.set_progress(None, Some(height));
                            ctx.health.mark_ready();
                        }
                        Err(error) => {
                            ctx.health.endpoint_up(endpoint, false);
                            ctx.health.error("endpoint");
                            tracing::warn!(chain = %self.config.name, %endpoint, %error, "RPC node unreachable");
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
