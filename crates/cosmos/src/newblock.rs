//! The CometBFT `NewBlock` websocket subscription: a wake-up trigger for the live watcher.
//!
//! Heights are always fetched and judged over HTTP, in order, by [`crate::watcher`]; this task
//! only shortens the wait between polls. It connects to `<rpc>/websocket` of the first endpoint
//! that accepts (`ws://` for `http://`, `wss://` for `https://`), subscribes to
//! `tm.event='NewBlock'`, and wakes the watcher through a [`Notify`] for every event. CometBFT
//! drops a subscriber that falls behind, and a node may have no websocket at all: a closed,
//! refused or silent subscription is reconnected with backoff while polling goes on unchanged.
//! Messages are size-capped; the height is read from an event only for logging.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures::{SinkExt, StreamExt};
use tokio::sync::Notify;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tracing::{debug, info, warn};
use valwatch_core::metrics::FloatGauge;
use valwatch_core::{Backoff, CancellationToken, Endpoint};

/// Largest websocket message accepted: a `NewBlock` event carries the whole block, transactions
/// included. A bigger one closes the subscription (polling goes on).
pub const MAX_MESSAGE: usize = 16 << 20;
/// The JSON-RPC request subscribing to new blocks.
pub const SUBSCRIBE: &str =
    r#"{"jsonrpc":"2.0","method":"subscribe","id":1,"params":{"query":"tm.event='NewBlock'"}}"#;
/// A subscription failure is logged at warn level at most this often while it stays down.
const WARN_INTERVAL: Duration = Duration::from_secs(600);

/// What one websocket message says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A `NewBlock` event, with its height when readable.
    NewBlock(Option<u64>),
    /// The node refused or cancelled the subscription (a JSON-RPC error).
    Refused(String),
    /// Anything else: the subscribe acknowledgement, other events.
    Other,
}

/// Reads one websocket text message.
pub fn parse_event(text: &[u8]) -> Event {
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(text) else {
        return Event::Other;
    };
    if let Some(error) = value.get("error").filter(|e| !e.is_null()) {
        let message = error
            .get("data")
            .and_then(serde_json::Value::as_str)
            .or_else(|| error.get("message").and_then(serde_json::Value::as_str))
            .unwrap_or("error");
        return Event::Refused(message.chars().take(200).collect());
    }
    let data = &value["result"]["data"];
    let is_new_block = data["type"]
        .as_str()
        .is_some_and(|t| t == "tendermint/event/NewBlock" || t.ends_with("/NewBlock"));
    if !is_new_block {
        return Event::Other;
    }
    let height = data["value"]["block"]["header"]["height"]
        .as_str()
        .and_then(|h| h.parse().ok());
    Event::NewBlock(height)
}

/// The websocket URL of an RPC endpoint, or `None` when its scheme has none.
pub fn websocket_url(endpoint: &Endpoint) -> Option<String> {
    let mut url = endpoint.join("websocket");
    let scheme = match url.scheme() {
        "http" | "ws" => "ws",
        "https" | "wss" => "wss",
        _ => return None,
    };
    url.set_scheme(scheme).ok()?;
    Some(url.to_string())
}

/// How long the subscription may stay without an event before it is reconnected: 10 block
/// times, between 30 seconds and 10 minutes; 60 seconds while the block time is unknown.
pub fn silence_limit(block_time_seconds: Option<f64>) -> Duration {
    match block_time_seconds {
        Some(t) if t.is_finite() && t > 0.0 => {
            Duration::from_secs_f64((t * 10.0).clamp(30.0, 600.0))
        }
        _ => Duration::from_secs(60),
    }
}

/// The watcher's side of a running subscription.
pub struct Subscription {
    /// Woken (one permit) for every `NewBlock` event.
    pub wake: Arc<Notify>,
    /// The current [`silence_limit`] in milliseconds; the watcher updates it.
    silence_ms: Arc<AtomicU64>,
    task: tokio::task::JoinHandle<()>,
}

impl Subscription {
    /// Starts the task following `endpoints` in order; `up` is set to 1 while subscribed.
    pub fn start(
        chain: String,
        endpoints: Vec<Endpoint>,
        connect_timeout: Duration,
        up: FloatGauge,
        cancel: CancellationToken,
    ) -> Subscription {
        let wake = Arc::new(Notify::new());
        let silence_ms = Arc::new(AtomicU64::new(millis(silence_limit(None))));
        let task = tokio::spawn(
            Task {
                chain,
                endpoints,
                connect_timeout,
                up,
                wake: wake.clone(),
                silence_ms: silence_ms.clone(),
                last_warn: None,
            }
            .run(cancel),
        );
        Subscription {
            wake,
            silence_ms,
            task,
        }
    }

    /// Updates how long the subscription may stay silent.
    pub fn set_silence_limit(&self, limit: Duration) {
        self.silence_ms.store(millis(limit), Ordering::Relaxed);
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

struct Task {
    chain: String,
    endpoints: Vec<Endpoint>,
    connect_timeout: Duration,
    up: FloatGauge,
    wake: Arc<Notify>,
    silence_ms: Arc<AtomicU64>,
    last_warn: Option<Instant>,
}

impl Task {
    async fn run(mut self, cancel: CancellationToken) {
        let mut backoff = Backoff::new(Duration::from_secs(1), Duration::from_secs(60));
        self.up.set(0.0);
        loop {
            let mut failures = Vec::new();
            for endpoint in self.endpoints.clone() {
                let Some(url) = websocket_url(&endpoint) else {
                    continue;
                };
                let outcome = tokio::select! {
                    _ = cancel.cancelled() => return,
                    outcome = self.follow(&url, &endpoint, &mut backoff) => outcome,
                };
                self.up.set(0.0);
                failures.push(format!("{}: {outcome}", endpoint.name()));
            }
            self.log_down(&failures);
            tokio::select! {
                _ = cancel.cancelled() => return,
                _ = tokio::time::sleep(backoff.next_delay()) => {}
            }
        }
    }

    /// Rate-limited: warn on the first failure and then at most every [`WARN_INTERVAL`].
    fn log_down(&mut self, failures: &[String]) {
        let error = if failures.is_empty() {
            "no endpoint has a websocket URL".to_string()
        } else {
            failures.join("; ")
        };
        if self
            .last_warn
            .is_none_or(|at| at.elapsed() >= WARN_INTERVAL)
        {
            warn!(chain = %self.chain, %error, "NewBlock subscription down; heights are still polled, reconnecting with backoff");
            self.last_warn = Some(Instant::now());
        } else {
            debug!(chain = %self.chain, %error, "NewBlock subscription still down");
        }
    }

    /// One connection: connects, subscribes, wakes the watcher per event. Returns why it ended.
    async fn follow(&mut self, url: &str, endpoint: &Endpoint, backoff: &mut Backoff) -> String {
        let config = WebSocketConfig::default()
            .max_message_size(Some(MAX_MESSAGE))
            .max_frame_size(Some(MAX_MESSAGE));
        let connect = tokio_tungstenite::connect_async_with_config(url, Some(config), true);
        let mut socket = match tokio::time::timeout(self.connect_timeout, connect).await {
            Err(_) => return "connection timed out".into(),
            Ok(Err(e)) => return format!("cannot connect: {e}"),
            Ok(Ok((socket, _))) => socket,
        };
        if let Err(e) = socket.send(Message::text(SUBSCRIBE)).await {
            return format!("cannot subscribe: {e}");
        }
        let mut subscribed = false;
        loop {
            let silence = Duration::from_millis(self.silence_ms.load(Ordering::Relaxed));
            // Until acknowledged, the subscription must answer within the connect timeout.
            let limit = if subscribed {
                silence
            } else {
                self.connect_timeout
            };
            let message = match tokio::time::timeout(limit, socket.next()).await {
                Err(_) => return format!("no NewBlock event for {}s", limit.as_secs()),
                Ok(None) => return "connection closed".into(),
                Ok(Some(Err(e))) => return format!("read failed: {e}"),
                Ok(Some(Ok(message))) => message,
            };
            let text: &[u8] = match &message {
                Message::Text(text) => text.as_bytes(),
                Message::Binary(bytes) => bytes,
                Message::Close(_) => return "closed by the node".into(),
                // Pings are answered by the library; they do not prove events still flow.
                _ => continue,
            };
            match parse_event(text) {
                Event::Refused(reason) => return format!("subscription refused: {reason}"),
                Event::NewBlock(height) => {
                    if !subscribed {
                        self.subscribed(endpoint, backoff);
                        subscribed = true;
                    }
                    debug!(chain = %self.chain, height, "NewBlock event");
                    self.wake.notify_one();
                }
                Event::Other => {
                    if !subscribed {
                        self.subscribed(endpoint, backoff);
                        subscribed = true;
                    }
                }
            }
        }
    }

    fn subscribed(&mut self, endpoint: &Endpoint, backoff: &mut Backoff) {
        self.up.set(1.0);
        backoff.reset();
        if self.last_warn.take().is_some() {
            info!(chain = %self.chain, endpoint = %endpoint.name(), "NewBlock subscription up again");
        } else {
            debug!(chain = %self.chain, endpoint = %endpoint.name(), "NewBlock subscription up");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIXTURE: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/cometbft-kvstore/v0_38/subscribe_newblock_0.json"
    );

    fn fixture() -> Vec<u8> {
        std::fs::read(FIXTURE).unwrap_or_else(|e| panic!("{FIXTURE}: {e}"))
    }

    #[test]
    fn the_recorded_new_block_event_gives_its_height() {
        assert_eq!(parse_event(&fixture()), Event::NewBlock(Some(235)));
    }

    #[test]
    fn an_event_without_a_readable_height_still_wakes() {
        let mut value: serde_json::Value = serde_json::from_slice(&fixture()).expect("json");
        value["result"]["data"]["value"]["block"]["header"]["height"] = serde_json::json!(7);
        assert_eq!(
            parse_event(value.to_string().as_bytes()),
            Event::NewBlock(None)
        );
    }

    #[test]
    fn the_ack_other_events_and_garbage_are_ignored_and_errors_refuse() {
        assert_eq!(
            parse_event(br#"{"jsonrpc":"2.0","id":1,"result":{}}"#),
            Event::Other
        );
        assert_eq!(
            parse_event(
                br#"{"jsonrpc":"2.0","id":1,"result":{"data":{"type":"tendermint/event/Tx","value":{}}}}"#
            ),
            Event::Other
        );
        assert_eq!(parse_event(b"{\"jsonrpc\":\"2.0\",\"res"), Event::Other);
        assert_eq!(
            parse_event(
                br#"{"jsonrpc":"2.0","id":1,"error":{"code":-32603,"message":"Internal error","data":"subscription was cancelled (reason: client is not pulling messages fast enough)"}}"#
            ),
            Event::Refused(
                "subscription was cancelled (reason: client is not pulling messages fast enough)"
                    .into()
            )
        );
    }

    #[test]
    fn websocket_urls_follow_the_rpc_scheme_and_path() {
        let url = |u: &str| websocket_url(&Endpoint::parse(u, None).expect("url"));
        assert_eq!(
            url("http://127.0.0.1:26657").as_deref(),
            Some("ws://127.0.0.1:26657/websocket")
        );
        assert_eq!(
            url("https://rpc.example.com/prefix/").as_deref(),
            Some("wss://rpc.example.com/prefix/websocket")
        );
    }

    #[test]
    fn the_silence_limit_follows_the_block_time_within_bounds() {
        assert_eq!(silence_limit(None), Duration::from_secs(60));
        assert_eq!(silence_limit(Some(6.0)), Duration::from_secs(60));
        assert_eq!(silence_limit(Some(0.5)), Duration::from_secs(30));
        assert_eq!(silence_limit(Some(600.0)), Duration::from_secs(600));
        assert_eq!(silence_limit(Some(f64::NAN)), Duration::from_secs(60));
    }
}
