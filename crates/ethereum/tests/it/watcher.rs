//! The live watcher against a local beacon node double serving a spec fixture chain: the
//! metrics it exports must be what the consensus spec's `expected.json` says, per watched
//! validator; a restart must not count an epoch twice; a dead endpoint fails over; a node
//! answering garbage gives error metrics and no miss.
//!
//! The double serves the fixture files, filters validator lookups by the ids asked (like a
//! real node), answers 404 for data it does not have, and synthesises the head two slots past
//! the fixtures' newest block (slot 49), so that epoch 4 is judgeable in `head` mode. A test
//! can change what it serves while the watcher runs through its [`Script`] (another chain, the
//! finalized checkpoint, pushed events); `watcher_live` uses that.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use valwatch_core::{
    CancellationToken, ChainHealth, ChainSnapshot, ChainTracker, Metrics, WatchContext, WatchError,
};
use valwatch_ethereum::EthereumConfig;

use crate::common::{Expected, fixture, read};

/// Slot of the synthesised head.
pub(crate) const HEAD_SLOT: u64 = 49;

/// Slot of the young head: the chain is too young for a judgeable epoch.
const YOUNG_SLOT: u64 = 16;

#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Behaviour {
    /// A healthy node.
    Normal,
    /// Blocks answer malformed JSON.
    GarbageBlocks,
    /// A healthy node that also serves `/eth/v1/events`: once the young head was served, it
    /// waits a second, moves the head to [`HEAD_SLOT`] and sends a `head` event.
    Events,
    /// A healthy node whose `/eth/v1/events` sends what the test pushes
    /// ([`Script::push_event`]).
    PushedEvents,
    /// `/eth/v1/events` accepts the connection and never answers (not even headers).
    SilentEvents,
    /// `/eth/v1/events` sends one `head` event on the first connection, then nothing ever
    /// again; later connections are never answered.
    OneEventThenStall,
}

/// Where the node double's head is: young (slot [`YOUNG_SLOT`], nothing judgeable) until
/// `young` is cleared.
#[derive(Default)]
pub(crate) struct HeadSwitch {
    pub(crate) young: AtomicBool,
    pub(crate) young_served: AtomicBool,
}

/// What a test changes on the node double while the watcher runs, and what the double saw.
pub(crate) struct Script {
    /// Another scenario served instead of the node's own, and the generation of the head
    /// block on it: switching is a reorg onto that chain with a new head.
    chain: Mutex<Option<(PathBuf, u8)>>,
    /// Epoch of the finalized checkpoint in `finality_checkpoints`.
    pub(crate) finalized_epoch: AtomicU64,
    /// Reads of the head header (one per watcher cycle).
    pub(crate) head_reads: AtomicUsize,
    /// Reads of the finality checkpoints.
    pub(crate) finality_reads: AtomicUsize,
    /// Connections to `/eth/v1/events`.
    pub(crate) event_connections: AtomicUsize,
    /// Events for [`Behaviour::PushedEvents`] streams, as `(event, data)`.
    events: tokio::sync::broadcast::Sender<(String, String)>,
}

impl Default for Script {
    fn default() -> Self {
        Script {
            chain: Mutex::new(None),
            // With the head in epoch 6: epoch 4 and its inclusion window are not final.
            finalized_epoch: AtomicU64::new(4),
            head_reads: AtomicUsize::new(0),
            finality_reads: AtomicUsize::new(0),
            event_connections: AtomicUsize::new(0),
            events: tokio::sync::broadcast::channel(16).0,
        }
    }
}

impl Script {
    /// From now on the node serves `scenario`'s chain, with a head block of a new generation
    /// (a new root whose parent is that chain's block 47): a reorg, as the watcher sees it.
    pub(crate) fn reorg_to(&self, scenario: &str, generation: u8) {
        let dir = fixture(&format!("spec/{scenario}"));
        assert!(dir.is_dir(), "missing fixture {}", dir.display());
        *self.chain.lock().expect("script lock") = Some((dir, generation));
    }

    /// Sends `event` with `data` on every open [`Behaviour::PushedEvents`] stream.
    pub(crate) fn push_event(&self, event: &str, data: &str) {
        let _ = self.events.send((event.to_string(), data.to_string()));
    }
}

#[derive(Clone)]
struct Node {
    dir: PathBuf,
    behaviour: Behaviour,
    head: Arc<HeadSwitch>,
    script: Arc<Script>,
}

impl Node {
    /// The directory of the chain served now.
    fn dir(&self) -> PathBuf {
        match &*self.script.chain.lock().expect("script lock") {
            Some((dir, _)) => dir.clone(),
            None => self.dir.clone(),
        }
    }

    fn head_generation(&self) -> u8 {
        self.script
            .chain
            .lock()
            .expect("script lock")
            .as_ref()
            .map_or(0, |(_, generation)| *generation)
    }
}

fn json(bytes: Vec<u8>) -> Response {
    ([("content-type", "application/json")], bytes).into_response()
}

fn not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        r#"{"code":404,"message":"not found"}"#,
    )
        .into_response()
}

fn file(node: &Node, name: &str) -> Response {
    match std::fs::read(node.dir().join(name)) {
        Ok(bytes) => json(bytes),
        Err(_) => not_found(),
    }
}

fn root_of_header(node: &Node, slot: u64) -> String {
    let value: serde_json::Value =
        serde_json::from_slice(&read(&node.dir().join(format!("headers/{slot}.json"))))
            .expect("header json");
    value["data"]["root"].as_str().expect("root").to_string()
}

fn head_header(node: &Node) -> Vec<u8> {
    let parent = root_of_header(node, 47);
    // Generation 0 is the root the node always had; each later one is another block.
    let root = match node.head_generation() {
        0 => format!("0x{}", "49".repeat(32)),
        generation => format!("0x{generation:02x}{}", "49".repeat(31)),
    };
    serde_json::to_vec(&serde_json::json!({
        "data": {
            "root": root,
            "canonical": true,
            "header": {
                "message": {
                    "slot": HEAD_SLOT.to_string(),
                    "proposer_index": "1",
                    "parent_root": parent,
                    "state_root": format!("0x{}", "00".repeat(32)),
                    "body_root": format!("0x{}", "00".repeat(32)),
                },
                "signature": format!("0x{}", "00".repeat(96)),
            }
        }
    }))
    .expect("json")
}

fn young_header() -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "data": {
            "root": format!("0x{}", "16".repeat(32)),
            "canonical": true,
            "header": {
                "message": {
                    "slot": YOUNG_SLOT.to_string(),
                    "proposer_index": "1",
                    "parent_root": format!("0x{}", "15".repeat(32)),
                    "state_root": format!("0x{}", "00".repeat(32)),
                    "body_root": format!("0x{}", "00".repeat(32)),
                },
                "signature": format!("0x{}", "00".repeat(96)),
            }
        }
    }))
    .expect("json")
}

/// `/eth/v1/events` as Lodestar 1.x accepts it (repeated `topics=`; anything else is refused
/// here, where Lodestar would hang): a keep-alive at once, then the `head` event a second after
/// the young head was read, then keep-alives.
fn event_stream(node: &Node, query: &str) -> Response {
    let topics: Vec<&str> = query
        .split('&')
        .filter_map(|kv| kv.strip_prefix("topics="))
        .collect();
    if topics.is_empty() || topics.iter().any(|t| t.contains(',') || t.contains("%2C")) {
        return StatusCode::BAD_REQUEST.into_response();
    }
    let head = node.head.clone();
    let body = futures::stream::unfold(0u32, move |step| {
        let head = head.clone();
        async move {
            let chunk: &'static str = match step {
                0 => ": hello\n\n",
                1 => {
                    while !head.young_served.load(Ordering::SeqCst) {
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    head.young.store(false, Ordering::SeqCst);
                    // CRLF line ends, and the event split in the middle of a line.
                    "event: head\r\ndata: {\"slot\":\"49\","
                }
                2 => "\"epoch_transition\":false}\r\n\r\n",
                _ => {
                    tokio::time::sleep(Duration::from_secs(5)).await;
                    ": keepalive\n\n"
                }
            };
            Some((
                Ok::<_, std::convert::Infallible>(Bytes::from(chunk)),
                step + 1,
            ))
        }
    });
    (
        [("content-type", "text/event-stream")],
        axum::body::Body::from_stream(body),
    )
        .into_response()
}

/// An SSE response whose body is `chunks`.
fn sse(chunks: impl futures::Stream<Item = String> + Send + 'static) -> Response {
    use futures::StreamExt;
    let body = chunks.map(|chunk| Ok::<_, std::convert::Infallible>(Bytes::from(chunk)));
    (
        [("content-type", "text/event-stream")],
        axum::body::Body::from_stream(body),
    )
        .into_response()
}

/// `/eth/v1/events` for the scripted behaviours (see [`Behaviour`]).
async fn scripted_event_stream(node: &Node) -> Response {
    let connection = node.script.event_connections.fetch_add(1, Ordering::SeqCst);
    match node.behaviour {
        Behaviour::PushedEvents => {
            let receiver = node.script.events.subscribe();
            let pushed = futures::stream::unfold(receiver, |mut receiver| async move {
                loop {
                    match receiver.recv().await {
                        Ok((event, data)) => {
                            return Some((format!("event: {event}\ndata: {data}\n\n"), receiver));
                        }
                        Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                        Err(tokio::sync::broadcast::error::RecvError::Closed) => return None,
                    }
                }
            });
            use futures::StreamExt;
            sse(futures::stream::once(async { ": hello\n\n".to_string() }).chain(pushed))
        }
        Behaviour::OneEventThenStall if connection == 0 => {
            use futures::StreamExt;
            let event = format!("event: head\ndata: {{\"slot\":\"{YOUNG_SLOT}\"}}\n\n");
            sse(futures::stream::once(async move { event }).chain(futures::stream::pending()))
        }
        _ => std::future::pending().await,
    }
}

fn finality(node: &Node) -> Response {
    node.script.finality_reads.fetch_add(1, Ordering::SeqCst);
    let finalized = node.script.finalized_epoch.load(Ordering::SeqCst);
    let checkpoint = |epoch: u64| serde_json::json!({"epoch": epoch.to_string(), "root": format!("0x{}", "0f".repeat(32))});
    json(
        serde_json::to_vec(&serde_json::json!({
            "data": {
                "previous_justified": checkpoint(finalized + 1),
                "current_justified": checkpoint(finalized + 1),
                "finalized": checkpoint(finalized),
            }
        }))
        .expect("json"),
    )
}

/// The validators answer, keeping only the asked ids (pubkeys or indices).
fn validators(node: &Node, ids: &[String]) -> Response {
    let mut all: serde_json::Value =
        serde_json::from_slice(&read(&node.dir().join("validators.json"))).expect("validators");
    let asked = |entry: &serde_json::Value| {
        ids.iter().any(|id| {
            entry["index"].as_str() == Some(id.as_str())
                || entry["validator"]["pubkey"].as_str() == Some(id.as_str())
        })
    };
    let kept: Vec<serde_json::Value> = all["data"]
        .as_array()
        .expect("data")
        .iter()
        .filter(|e| asked(e))
        .cloned()
        .collect();
    all["data"] = serde_json::Value::Array(kept);
    json(serde_json::to_vec(&all).expect("json"))
}

async fn serve(State(node): State<Node>, request: Request) -> Response {
    let path = request.uri().path().to_string();
    let query = request.uri().query().unwrap_or("").to_string();
    let is_post = request.method() == axum::http::Method::POST;
    let body: Bytes = axum::body::to_bytes(request.into_body(), 1 << 20)
        .await
        .unwrap_or_default();
    let param = |name: &str| {
        query
            .split('&')
            .filter_map(|kv| kv.split_once('='))
            .filter(|(k, _)| *k == name)
            .map(|(_, v)| v.to_string())
            .collect::<Vec<_>>()
    };
    let last = path.rsplit('/').next().unwrap_or("").to_string();
    match path.as_str() {
        "/eth/v1/config/spec" => return file(&node, "config_spec.json"),
        "/eth/v1/beacon/genesis" => return file(&node, "genesis.json"),
        "/eth/v1/node/syncing" => {
            return json(
                format!(r#"{{"data":{{"head_slot":"{HEAD_SLOT}","sync_distance":"0","is_syncing":false,"is_optimistic":false}}}}"#)
                    .into_bytes(),
            );
        }
        _ => {}
    }
    if path == "/eth/v1/events" && node.behaviour == Behaviour::Events {
        return event_stream(&node, &query);
    }
    if path == "/eth/v1/events"
        && matches!(
            node.behaviour,
            Behaviour::PushedEvents | Behaviour::SilentEvents | Behaviour::OneEventThenStall
        )
    {
        return scripted_event_stream(&node).await;
    }
    if path == "/eth/v1/beacon/states/head/finality_checkpoints" {
        return finality(&node);
    }
    if path == "/eth/v1/beacon/headers/head" {
        node.script.head_reads.fetch_add(1, Ordering::SeqCst);
    }
    if path.starts_with("/eth/v1/beacon/headers/") {
        if node.head.young.load(Ordering::SeqCst) {
            node.head.young_served.store(true, Ordering::SeqCst);
            return match last.as_str() {
                "head" => json(young_header()),
                _ => not_found(),
            };
        }
        return match last.parse::<u64>() {
            _ if last == "head" => json(head_header(&node)),
            Ok(HEAD_SLOT) => json(head_header(&node)),
            Ok(slot) => file(&node, &format!("headers/{slot}.json")),
            Err(_) => not_found(),
        };
    }
    if path.starts_with("/eth/v2/beacon/blocks/") {
        if node.behaviour == Behaviour::GarbageBlocks {
            return json(br#"{"version":"fulu","data":{"message": [1, 2"#.to_vec());
        }
        return file(&node, &format!("blocks/{last}.json"));
    }
    let epoch = param("epoch").into_iter().next().unwrap_or_default();
    if path.ends_with("/sync_committees") {
        return file(&node, &format!("sync_committees_{epoch}.json"));
    }
    if path.ends_with("/committees") {
        return file(&node, &format!("committees_{epoch}.json"));
    }
    if path.starts_with("/eth/v1/validator/duties/proposer/") {
        return file(&node, &format!("proposer_duties_{last}.json"));
    }
    if path.ends_with("/validators") {
        let ids: Vec<String> = if is_post {
            #[derive(Deserialize)]
            struct Ids {
                ids: Vec<String>,
            }
            match serde_json::from_slice::<Ids>(&body) {
                Ok(ids) => ids.ids,
                Err(_) => return StatusCode::BAD_REQUEST.into_response(),
            }
        } else {
            param("id")
        };
        return validators(&node, &ids);
    }
    not_found()
}

async fn start_node(scenario: &str, behaviour: Behaviour) -> String {
    start_node_with(scenario, behaviour, Arc::default()).await
}

async fn start_node_with(scenario: &str, behaviour: Behaviour, head: Arc<HeadSwitch>) -> String {
    start_scripted_node(scenario, behaviour, head, Arc::default()).await
}

/// A node double serving `scenario` that the test steers through `head` and `script`.
pub(crate) async fn start_scripted_node(
    scenario: &str,
    behaviour: Behaviour,
    head: Arc<HeadSwitch>,
    script: Arc<Script>,
) -> String {
    let dir = fixture(&format!("spec/{scenario}"));
    assert!(dir.is_dir(), "missing fixture {}", dir.display());
    let app = axum::Router::new().fallback(serve).with_state(Node {
        dir,
        behaviour,
        head,
        script,
    });
    crate::common::serve_on_loopback(app).await
}

async fn dead_url() -> String {
    crate::common::dead_url("").await
}

pub(crate) struct Running {
    pub(crate) metrics: Metrics,
    pub(crate) tracker: Arc<ChainTracker>,
    cancel: CancellationToken,
    task: tokio::task::JoinHandle<Result<(), WatchError>>,
}

impl Running {
    pub(crate) fn start(config: EthereumConfig, snapshot: Option<ChainSnapshot>) -> Self {
        let metrics = Metrics::new();
        let chain_metrics = metrics.for_chain(&config.name);
        let tracker = Arc::new(ChainTracker::new("ethereum", chain_metrics.clone()));
        if let Some(snapshot) = snapshot {
            tracker.restore(snapshot);
        }
        let mut watcher = valwatch_ethereum::watcher(config).expect("valid config");
        watcher.register(&tracker).expect("register");
        let cancel = CancellationToken::new();
        let ctx = WatchContext {
            tracker: tracker.clone(),
            health: ChainHealth::new(chain_metrics).expect("health"),
            cancel: cancel.clone(),
        };
        let task = tokio::spawn(async move { watcher.run(&ctx).await });
        Running {
            metrics,
            tracker,
            cancel,
            task,
        }
    }

    /// Waits until `done` holds for the encoded metrics, failing after a generous timeout.
    pub(crate) async fn wait_for(&self, what: &str, done: impl Fn(&str) -> bool) -> String {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        loop {
            let text = self.metrics.encode();
            if done(&text) {
                return text;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "timed out waiting for {what}; metrics:\n{text}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub(crate) async fn stop(self) -> (Arc<ChainTracker>, Metrics) {
        self.cancel.cancel();
        let result = tokio::time::timeout(Duration::from_secs(10), self.task)
            .await
            .expect("watcher stops when cancelled")
            .expect("task");
        assert!(result.is_ok(), "watcher returned {result:?}");
        (self.tracker, self.metrics)
    }
}

/// The value of the series `series` (name and labels, exactly as encoded), if present.
pub(crate) fn value(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.trim().parse().ok())
}

pub(crate) fn pubkeys(scenario: &str) -> Vec<String> {
    let answer = read(&fixture(&format!("spec/{scenario}/validators.json")));
    valwatch_ethereum::beacon::decode_validators(&answer)
        .expect("validators")
        .into_iter()
        .map(|v| v.pubkey)
        .collect()
}

pub(crate) fn config(name: &str, urls: Vec<String>, keys: &[String]) -> EthereumConfig {
    let mut config = EthereumConfig::new(name, urls);
    config.poll_interval_seconds = Some(1);
    config
        .validators
        .labels
        .insert("even".into(), keys.iter().step_by(2).cloned().collect());
    config.validators.labels.insert(
        "odd".into(),
        keys.iter().skip(1).step_by(2).cloned().collect(),
    );
    config
}

/// Per validator index, what the spec says the watcher must count for epoch 4.
#[derive(Debug, Default, Clone, PartialEq)]
pub(crate) struct Counts {
    pub(crate) attestation: (f64, f64),
    pub(crate) proposal: (f64, f64),
    pub(crate) sync: (f64, f64),
    /// `[vote][reason]`, vote source/target/head, reason wrong/late.
    pub(crate) votes: [[f64; 2]; 3],
}

pub(crate) fn expected_counts(scenario: &str) -> HashMap<u64, Counts> {
    let expected: Expected =
        serde_json::from_slice(&read(&fixture(&format!("spec/{scenario}/expected.json"))))
            .expect("expected.json");
    let mut counts: HashMap<u64, Counts> = HashMap::new();
    for a in &expected.attestations {
        let c = counts.entry(a.index).or_default();
        if !a.included {
            c.attestation.1 += 1.0;
            continue;
        }
        c.attestation.0 += 1.0;
        let target_correct = a
            .inclusions
            .iter()
            .any(|i| i.vote == "correct" || i.vote == "wrong_head");
        let head_correct = a.inclusions.iter().any(|i| i.vote == "correct");
        let verdicts = [
            (true, a.source_timely),
            (target_correct, a.target_timely),
            (head_correct, a.head_timely),
        ];
        for (vote, (correct, timely)) in verdicts.into_iter().enumerate() {
            if !timely {
                c.votes[vote][usize::from(correct)] += 1.0;
            }
        }
    }
    // Epoch 4 = slots 32..40.
    for p in expected
        .proposals
        .iter()
        .filter(|p| (32..40).contains(&p.slot))
    {
        let c = counts.entry(p.proposer_index).or_default();
        if p.proposed {
            c.proposal.0 += 1.0;
        } else {
            c.proposal.1 += 1.0;
        }
    }
    for s in expected.sync.iter().filter(|s| (32..40).contains(&s.slot)) {
        if !s.block_present {
            continue;
        }
        let signed = s.signed.clone().unwrap_or_default();
        let mut members = signed.clone();
        members.extend(s.not_signed.clone().unwrap_or_default());
        members.sort_unstable();
        members.dedup();
        for member in members {
            let c = counts.entry(member).or_default();
            if signed.contains(&member) {
                c.sync.0 += 1.0;
            } else {
                c.sync.1 += 1.0;
            }
        }
    }
    counts
}

pub(crate) fn observed_counts(text: &str, chain: &str, pubkey: &str) -> Counts {
    let get = |family: &str, extra: &str| {
        value(
            text,
            &format!(
                r#"valwatch_validator_{family}{{chain="{chain}",validator="{pubkey}"{extra}}}"#
            ),
        )
        .unwrap_or_else(|| panic!("no {family}{extra} series for {pubkey}"))
    };
    let duty = |name: &str| {
        (
            get("duty_performed_total", &format!(r#",duty="{name}""#)),
            get("duty_missed_total", &format!(r#",duty="{name}""#)),
        )
    };
    let mut votes = [[0.0; 2]; 3];
    for (v, vote) in ["source", "target", "head"].iter().enumerate() {
        for (r, reason) in ["wrong", "late"].iter().enumerate() {
            votes[v][r] = get(
                "ethereum_attestation_votes_not_timely_total",
                &format!(r#",vote="{vote}",reason="{reason}""#),
            );
        }
    }
    Counts {
        attestation: duty("attestation"),
        proposal: duty("proposal"),
        sync: duty("sync"),
        votes,
    }
}

pub(crate) fn assert_matches_spec(text: &str, chain: &str, scenario: &str) {
    let keys = pubkeys(scenario);
    let expected = expected_counts(scenario);
    for (index, key) in keys.iter().enumerate() {
        let want = expected.get(&(index as u64)).cloned().unwrap_or_default();
        let got = observed_counts(text, chain, key);
        assert_eq!(got, want, "{scenario}: validator {index}");
    }
    let missed: f64 = expected.values().map(|c| c.attestation.1).sum();
    assert_eq!(
        value(
            text,
            &format!(
                r#"valwatch_duty_missed_total{{chain="{chain}",group="all",duty="attestation"}}"#
            )
        ),
        Some(missed)
    );
}

#[tokio::test]
async fn metrics_follow_the_spec_for_every_watched_key_after_failover() {
    for scenario in ["fulu_chaos", "deneb_chaos", "fulu_offline"] {
        let good = start_node(scenario, Behaviour::Normal).await;
        let dead = dead_url().await;
        let chain = format!("eth-{scenario}");
        let run = Running::start(
            config(&chain, vec![dead.clone(), good.clone()], &pubkeys(scenario)),
            None,
        );
        let epoch = format!(r#"valwatch_ethereum_last_analysed_epoch{{chain="{chain}"}} 4"#);
        let text = run.wait_for("epoch 4", |t| t.contains(&epoch)).await;
        assert_matches_spec(&text, &chain, scenario);
        for (series, want) in [
            (format!(r#"valwatch_chain_ready{{chain="{chain}"}}"#), 1.0),
            (
                format!(r#"valwatch_ethereum_epochs_analysed_total{{chain="{chain}"}}"#),
                1.0,
            ),
            (
                format!(r#"valwatch_ethereum_keys_resolved{{chain="{chain}"}}"#),
                64.0,
            ),
            (
                format!(r#"valwatch_ethereum_keys_unresolved{{chain="{chain}"}}"#),
                0.0,
            ),
            (
                format!(
                    r#"valwatch_ethereum_key_status{{chain="{chain}",group="even",status="active_ongoing"}}"#
                ),
                32.0,
            ),
        ] {
            assert_eq!(value(&text, &series), Some(want), "{series}\n{text}");
        }
        // Failover: the dead endpoint is reported down, the live one up, and no miss came
        // from the dead one.
        let host = |url: &str| url.trim_end_matches('/').to_string();
        let up = |url: &str| {
            value(
                &text,
                &format!(
                    r#"valwatch_endpoint_up{{chain="{chain}",endpoint="{}"}}"#,
                    host(url)
                ),
            )
        };
        assert_eq!(up(&dead), Some(0.0), "{text}");
        assert_eq!(up(&good), Some(1.0), "{text}");
        run.stop().await;
    }
}

#[tokio::test]
async fn a_restart_from_a_saved_snapshot_does_not_count_twice() {
    let scenario = "fulu_chaos";
    let url = start_node(scenario, Behaviour::Normal).await;
    let chain = "eth-restart";
    let keys = pubkeys(scenario);
    let first = Running::start(config(chain, vec![url.clone()], &keys), None);
    let done = format!(r#"valwatch_ethereum_last_analysed_epoch{{chain="{chain}"}} 4"#);
    first.wait_for("epoch 4", |t| t.contains(&done)).await;
    let (tracker, metrics) = first.stop().await;
    let before = metrics.encode();
    // A snapshot whose checkpoint is older than its windows (saved between the two), so the
    // restarted watcher judges epoch 4 again.
    let mut snapshot = tracker.snapshot();
    assert_eq!(snapshot.checkpoint, Some(4));
    snapshot.checkpoint = Some(3);
    let second = Running::start(config(chain, vec![url], &keys), Some(snapshot));
    let judged = format!(r#"valwatch_ethereum_epochs_analysed_total{{chain="{chain}"}} 1"#);
    let after = second
        .wait_for("epoch 4 again", |t| t.contains(&judged))
        .await;
    assert_matches_spec(&after, chain, scenario);
    let counters = |text: &str| -> Vec<String> {
        let mut lines: Vec<String> = text
            .lines()
            .filter(|l| !l.starts_with('#') && l.contains("_total{"))
            .filter(|l| !l.contains("ethereum_epochs_analysed") && !l.contains("watcher_errors"))
            .map(str::to_string)
            .collect();
        lines.sort();
        lines
    };
    let (before, after) = (counters(&before), counters(&after));
    assert!(before.len() > 100, "{before:?}");
    let differ: Vec<_> = before
        .iter()
        .zip(&after)
        .filter(|(b, a)| b != a)
        .take(5)
        .collect();
    assert!(
        differ.is_empty() && before.len() == after.len(),
        "{differ:?}"
    );
    second.stop().await;
}

#[tokio::test]
async fn a_node_answering_garbage_gives_errors_and_no_miss() {
    let scenario = "fulu_offline";
    let url = start_node(scenario, Behaviour::GarbageBlocks).await;
    let chain = "eth-garbage";
    let run = Running::start(config(chain, vec![url], &pubkeys(scenario)), None);
    let errors = format!(r#"valwatch_watcher_errors_total{{chain="{chain}",kind="answer"}}"#);
    let text = run
        .wait_for("an answer error", |t| {
            value(t, &errors).is_some_and(|v| v >= 1.0)
        })
        .await;
    // Nothing was judged: no miss anywhere, the epoch is reported as lag.
    assert!(
        !text
            .lines()
            .any(|l| l.starts_with("valwatch_duty_missed_total")
                && l.contains(chain)
                && !l.ends_with(" 0")),
        "{text}"
    );
    assert_eq!(
        value(
            &text,
            &format!(r#"valwatch_ethereum_epochs_behind{{chain="{chain}"}}"#)
        ),
        Some(1.0)
    );
    assert_eq!(
        value(
            &text,
            &format!(r#"valwatch_chain_ready{{chain="{chain}"}}"#)
        ),
        Some(0.0)
    );
    let (tracker, _) = run.stop().await;
    assert_eq!(tracker.checkpoint().0, None);
}

#[tokio::test]
async fn watch_all_watches_every_committee_member_by_index() {
    let scenario = "fulu_offline";
    let url = start_node(scenario, Behaviour::Normal).await;
    let chain = "eth-all";
    let mut config = EthereumConfig::new(chain, vec![url]);
    config.poll_interval_seconds = Some(1);
    config.watch_all = true;
    let run = Running::start(config, None);
    let done = format!(r#"valwatch_ethereum_last_analysed_epoch{{chain="{chain}"}} 4"#);
    let text = run.wait_for("epoch 4", |t| t.contains(&done)).await;
    let expected = expected_counts(scenario);
    let missed: f64 = expected.values().map(|c| c.attestation.1).sum();
    assert!(missed > 0.0);
    assert_eq!(
        value(
            &text,
            &format!(
                r#"valwatch_duty_missed_total{{chain="{chain}",group="all",duty="attestation"}}"#
            )
        ),
        Some(missed)
    );
    for (index, want) in &expected {
        let got = value(
            &text,
            &format!(
                r#"valwatch_validator_duty_missed_total{{chain="{chain}",validator="{index}",duty="attestation"}}"#
            ),
        );
        assert_eq!(got, Some(want.attestation.1), "validator {index}");
    }
    run.stop().await;
}

#[tokio::test]
async fn a_head_event_wakes_the_watcher_long_before_the_poll_interval() {
    let scenario = "fulu_chaos";
    let head = Arc::new(HeadSwitch::default());
    head.young.store(true, Ordering::SeqCst);
    let url = start_node_with(scenario, Behaviour::Events, head.clone()).await;
    let chain = "eth-events";
    let mut config = config(chain, vec![url], &pubkeys(scenario));
    config.poll_interval_seconds = Some(60);
    let started = tokio::time::Instant::now();
    let run = Running::start(config, None);
    let done = format!(r#"valwatch_ethereum_last_analysed_epoch{{chain="{chain}"}} 4"#);
    let text = run.wait_for("epoch 4", |t| t.contains(&done)).await;
    let elapsed = started.elapsed();
    assert!(head.young_served.load(Ordering::SeqCst));
    // The event comes about 1 s after the first (young) head read; the next poll would be at 60 s.
    assert!(
        elapsed < Duration::from_secs(15),
        "judged after {elapsed:?}"
    );
    assert_matches_spec(&text, chain, scenario);
    assert_eq!(
        value(
            &text,
            &format!(r#"valwatch_ethereum_event_stream_up{{chain="{chain}"}}"#)
        ),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        value(
            &text,
            &format!(r#"valwatch_watcher_errors_total{{chain="{chain}",kind="events"}}"#)
        ),
        None,
        "{text}"
    );
    run.stop().await;
}

#[tokio::test]
async fn without_the_events_endpoint_polling_goes_on() {
    let scenario = "fulu_chaos";
    let head = Arc::new(HeadSwitch::default());
    head.young.store(true, Ordering::SeqCst);
    // A node answering 404 for /eth/v1/events; the head moves a second after it was first read.
    let url = start_node_with(scenario, Behaviour::Normal, head.clone()).await;
    let chain = "eth-no-events";
    let run = Running::start(config(chain, vec![url], &pubkeys(scenario)), None);
    let mover = head.clone();
    tokio::spawn(async move {
        while !mover.young_served.load(Ordering::SeqCst) {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
        mover.young.store(false, Ordering::SeqCst);
    });
    let done = format!(r#"valwatch_ethereum_last_analysed_epoch{{chain="{chain}"}} 4"#);
    let errors = format!(r#"valwatch_watcher_errors_total{{chain="{chain}",kind="events"}}"#);
    let text = run
        .wait_for("epoch 4 and an events error", |t| {
            t.contains(&done) && value(t, &errors).is_some_and(|v| v >= 1.0)
        })
        .await;
    assert_matches_spec(&text, chain, scenario);
    assert_eq!(
        value(
            &text,
            &format!(r#"valwatch_ethereum_event_stream_up{{chain="{chain}"}}"#)
        ),
        Some(0.0),
        "{text}"
    );
    run.stop().await;
}

#[tokio::test]
async fn events_false_opens_no_stream() {
    let scenario = "fulu_offline";
    let url = start_node(scenario, Behaviour::Events).await;
    let chain = "eth-events-off";
    let mut config = config(chain, vec![url], &pubkeys(scenario));
    config.events = false;
    let run = Running::start(config, None);
    let done = format!(r#"valwatch_ethereum_last_analysed_epoch{{chain="{chain}"}} 4"#);
    let text = run.wait_for("epoch 4", |t| t.contains(&done)).await;
    assert!(
        !text.contains("valwatch_ethereum_event_stream_up{"),
        "{text}"
    );
    run.stop().await;
}
