//! A small scripted CometBFT chain served over HTTP by axum, for the live watcher's tests.
//!
//! Answers are the recorded real ones (`tests/fixtures/`) with the fields valwatch reads
//! replaced: `/status` from the 0.38 kvstore node, `/block` from its block at height 10,
//! `/validators` from the cosmoshub-4 page, `/abci_query` from the cosmoshub-4 envelope with
//! protobuf answers built by cosmos-sdk-proto. Each test scripts who is in the set and how each
//! validator voted at each height, and can make an endpoint fail.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use axum::Router;
use axum::extract::State;
use axum::extract::ws::{Message as WsMessage, WebSocket, WebSocketUpgrade};
use axum::http::{StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use cosmos_sdk_proto::Any;
use cosmos_sdk_proto::cosmos::base::query::v1beta1::PageResponse;
use cosmos_sdk_proto::cosmos::{crypto, gov, slashing, staking, upgrade};
use cosmos_sdk_proto::prost::Message;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tokio::sync::broadcast;
use valwatch_cosmos::address::{self, Address, KeyKind};
use valwatch_cosmos::height::Flag;

use crate::fixture;

/// One validator of the scripted chain.
#[derive(Debug, Clone)]
pub struct Val {
    /// ed25519 public key.
    pub pubkey: [u8; 32],
    /// Consensus address.
    pub addr: Address,
    /// Operator address.
    pub valoper: String,
    /// Tokens (and voting power).
    pub tokens: u64,
    /// A BLS key in x/staking (valwatch cannot derive its address): not in the CometBFT set.
    pub bls: bool,
}

impl Val {
    /// Validator number `n` with `tokens`.
    pub fn new(n: u8, tokens: u64) -> Self {
        let pubkey = [n.wrapping_mul(31).wrapping_add(7); 32];
        Val {
            pubkey,
            addr: address::consensus_address(KeyKind::Ed25519, &pubkey).expect("32 bytes"),
            valoper: address::to_bech32("cosmosvaloper", &[n; 20]),
            tokens,
            bls: false,
        }
    }

    /// Upper-case hex consensus address.
    pub fn hex(&self) -> String {
        address::to_hex(&self.addr)
    }

    /// Bech32 consensus address.
    pub fn valcons(&self) -> String {
        address::to_bech32("cosmosvalcons", &self.addr)
    }

    /// Base64 public key.
    pub fn pubkey_b64(&self) -> String {
        String::from_utf8(subtle_encoding::base64::encode(self.pubkey)).expect("ascii")
    }
}

/// What happens at one height.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Indexes into the validators, in set order.
    pub set: Vec<usize>,
    /// Vote of each set member for this height (carried by block H+1).
    pub flags: Vec<Flag>,
    /// Index into `set` of the proposer.
    pub proposer: usize,
    /// Transactions in the block.
    pub txs: usize,
}

/// The script: the plan of each height.
pub type Script = Box<dyn Fn(u64) -> Plan + Send>;

/// The chain every endpoint serves.
pub struct Chain {
    /// Chain id.
    pub chain_id: String,
    /// Validators (staking order).
    pub vals: Vec<Val>,
    script: Script,
    plans: Vec<Plan>,
    times: Vec<String>,
    /// Blocks visible.
    pub head: u64,
    /// x/slashing missed_blocks_counter by validator index.
    pub missed_counter: BTreeMap<usize, u64>,
    /// Validator indexes x/staking reports jailed (and unbonded).
    pub jailed: BTreeSet<usize>,
    /// Operators who voted on proposal 7.
    pub voted: BTreeSet<String>,
    /// When set, block H+1 carries a commit for H with one signature missing.
    pub short_commit_for: Option<u64>,
}

impl Chain {
    /// A chain of `vals` following `script`, with no block yet.
    pub fn new(vals: Vec<Val>, script: Script) -> Self {
        Chain {
            chain_id: "scripted-1".into(),
            vals,
            script,
            plans: Vec::new(),
            times: Vec::new(),
            head: 0,
            missed_counter: BTreeMap::new(),
            jailed: BTreeSet::new(),
            voted: BTreeSet::new(),
            short_commit_for: None,
        }
    }

    /// Makes `n` more blocks, timed now.
    pub fn produce(&mut self, n: u64) {
        for _ in 0..n {
            self.head += 1;
            let plan = (self.script)(self.head);
            assert_eq!(plan.set.len(), plan.flags.len(), "plan of {}", self.head);
            self.plans.push(plan);
            let now = SystemTime::now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .expect("clock");
            let time =
                tendermint::Time::from_unix_timestamp(now.as_secs() as i64, now.subsec_nanos())
                    .expect("time");
            self.times.push(time.to_rfc3339());
        }
    }

    /// The plan of height `h`.
    pub fn plan(&self, h: u64) -> &Plan {
        &self.plans[(h - 1) as usize]
    }

    fn set_hash(&self, h: u64) -> String {
        let mut hasher = Sha256::new();
        for &i in &self.plan(h).set {
            hasher.update(self.vals[i].addr);
            hasher.update(self.vals[i].tokens.to_be_bytes());
        }
        hex::encode_upper(hasher.finalize())
    }

    fn status(&self) -> Value {
        let mut status = template("cometbft-kvstore/v0_38/status.json");
        let sync = &mut status["result"]["sync_info"];
        sync["latest_block_height"] = json!(self.head.to_string());
        sync["latest_block_time"] = json!(self.times[(self.head - 1) as usize]);
        sync["earliest_block_height"] = json!("1");
        status["result"]["node_info"]["network"] = json!(self.chain_id);
        status["result"]["node_info"]["version"] = json!("0.38.17");
        status
    }

    fn block(&self, h: u64) -> Option<Value> {
        if h == 0 || h > self.head {
            return None;
        }
        let plan = self.plan(h);
        let mut block = template("cometbft-kvstore/v0_38/block_at_height_10.json");
        let b = &mut block["result"]["block"];
        b["header"]["height"] = json!(h.to_string());
        b["header"]["chain_id"] = json!(self.chain_id);
        b["header"]["time"] = json!(self.times[(h - 1) as usize]);
        b["header"]["proposer_address"] = json!(self.vals[plan.set[plan.proposer]].hex());
        b["header"]["validators_hash"] = json!(self.set_hash(h));
        b["data"]["txs"] = json!(vec!["dHg="; plan.txs]);
        let template_sig = b["last_commit"]["signatures"][0].clone();
        let mut signatures = Vec::new();
        if h > 1 {
            let prev = self.plan(h - 1);
            for (i, flag) in prev.set.iter().zip(&prev.flags) {
                let mut sig = template_sig.clone();
                match flag {
                    Flag::Absent => {
                        sig["block_id_flag"] = json!(1);
                        sig["validator_address"] = json!("");
                        sig["signature"] = Value::Null;
                    }
                    Flag::Commit => {
                        sig["block_id_flag"] = json!(2);
                        sig["validator_address"] = json!(self.vals[*i].hex());
                    }
                    Flag::Nil => {
                        sig["block_id_flag"] = json!(3);
                        sig["validator_address"] = json!(self.vals[*i].hex());
                    }
                }
                signatures.push(sig);
            }
            if self.short_commit_for == Some(h - 1) {
                signatures.pop();
            }
        }
        b["last_commit"]["height"] = json!((h - 1).to_string());
        b["last_commit"]["signatures"] = json!(signatures);
        Some(block)
    }

    fn validators(&self, h: u64, page: usize, per_page: usize) -> Option<Value> {
        if h == 0 || h > self.head {
            return None;
        }
        let set = &self.plan(h).set;
        let mut answer = template("cosmoshub-4/rpc-tendermint-validators-1.json");
        let template_val = answer["result"]["validators"][0].clone();
        let members: Vec<Value> = set
            .iter()
            .skip((page - 1) * per_page)
            .take(per_page)
            .map(|&i| {
                let mut v = template_val.clone();
                v["address"] = json!(self.vals[i].hex());
                v["pub_key"]["value"] = json!(self.vals[i].pubkey_b64());
                v["voting_power"] = json!(self.vals[i].tokens.to_string());
                v
            })
            .collect();
        let r = &mut answer["result"];
        r["block_height"] = json!(h.to_string());
        r["count"] = json!(members.len().to_string());
        r["total"] = json!(set.len().to_string());
        r["validators"] = json!(members);
        Some(answer)
    }

    fn abci(&self, path: &str, data: &[u8]) -> Value {
        let ok = |bytes: Vec<u8>| {
            let mut answer = template("cosmoshub-4/rpc-validators.json");
            answer["result"]["response"]["value"] =
                json!(String::from_utf8(subtle_encoding::base64::encode(bytes)).expect("ascii"));
            answer
        };
        let failed = |code: u32, log: &str| {
            let mut answer = template("cosmoshub-4/rpc-validators.json");
            let r = &mut answer["result"]["response"];
            r["code"] = json!(code);
            r["log"] = json!(log);
            r["value"] = Value::Null;
            answer
        };
        match path {
            "/cosmos.staking.v1beta1.Query/Validators" => {
                let validators = self
                    .vals
                    .iter()
                    .enumerate()
                    .map(|(i, v)| {
                        let consensus_pubkey = if v.bls {
                            Any {
                                type_url: "/cosmos.crypto.bls12_381.PubKey".into(),
                                value: vec![1; 48],
                            }
                        } else {
                            Any {
                                type_url: "/cosmos.crypto.ed25519.PubKey".into(),
                                value: crypto::ed25519::PubKey {
                                    key: v.pubkey.to_vec(),
                                }
                                .encode_to_vec(),
                            }
                        };
                        let bonded = !v.bls && !self.jailed.contains(&i);
                        staking::v1beta1::Validator {
                            operator_address: v.valoper.clone(),
                            consensus_pubkey: Some(consensus_pubkey),
                            jailed: self.jailed.contains(&i),
                            status: if bonded {
                                staking::v1beta1::BondStatus::Bonded as i32
                            } else {
                                staking::v1beta1::BondStatus::Unbonded as i32
                            },
                            tokens: v.tokens.to_string(),
                            description: Some(staking::v1beta1::Description {
                                moniker: format!("val-{i}"),
                                ..Default::default()
                            }),
                            ..Default::default()
                        }
                    })
                    .collect();
                ok(staking::v1beta1::QueryValidatorsResponse {
                    validators,
                    pagination: Some(PageResponse::default()),
                }
                .encode_to_vec())
            }
            "/cosmos.slashing.v1beta1.Query/Params" => ok(slashing::v1beta1::QueryParamsResponse {
                params: Some(slashing::v1beta1::Params {
                    signed_blocks_window: 20,
                    min_signed_per_window: b"500000000000000000".to_vec(),
                    downtime_jail_duration: Some(
                        cosmos_sdk_proto::tendermint::google::protobuf::Duration {
                            seconds: 60,
                            nanos: 0,
                        },
                    ),
                    ..Default::default()
                }),
            }
            .encode_to_vec()),
            "/cosmos.slashing.v1beta1.Query/SigningInfos" => {
                let info = self
                    .vals
                    .iter()
                    .enumerate()
                    .filter(|(_, v)| !v.bls)
                    .map(|(i, v)| slashing::v1beta1::ValidatorSigningInfo {
                        address: v.valcons(),
                        missed_blocks_counter: *self.missed_counter.get(&i).unwrap_or(&0) as i64,
                        ..Default::default()
                    })
                    .collect();
                ok(slashing::v1beta1::QuerySigningInfosResponse {
                    info,
                    pagination: None,
                }
                .encode_to_vec())
            }
            "/cosmos.upgrade.v1beta1.Query/CurrentPlan" => {
                ok(upgrade::v1beta1::QueryCurrentPlanResponse {
                    plan: Some(upgrade::v1beta1::Plan {
                        name: "v2".into(),
                        height: 1_000_000,
                        ..Default::default()
                    }),
                }
                .encode_to_vec())
            }
            "/cosmos.gov.v1.Query/Proposals" => ok(gov::v1::QueryProposalsResponse {
                proposals: vec![gov::v1::Proposal {
                    id: 7,
                    status: gov::v1::ProposalStatus::VotingPeriod as i32,
                    ..Default::default()
                }],
                pagination: None,
            }
            .encode_to_vec()),
            "/cosmos.gov.v1.Query/Vote" => {
                let request =
                    gov::v1::QueryVoteRequest::decode(data).expect("vote request decodes");
                let voter_valoper = self
                    .vals
                    .iter()
                    .find(|v| {
                        valwatch_cosmos::sdk::operator_account(&v.valoper).ok()
                            == Some(request.voter.clone())
                    })
                    .map(|v| v.valoper.clone());
                match voter_valoper {
                    Some(valoper) if request.proposal_id == 7 && self.voted.contains(&valoper) => {
                        ok(gov::v1::QueryVoteResponse {
                            vote: Some(gov::v1::Vote {
                                proposal_id: 7,
                                voter: request.voter,
                                ..Default::default()
                            }),
                        }
                        .encode_to_vec())
                    }
                    _ => failed(22, "vote not found: key not found"),
                }
            }
            _ => failed(6, "unknown query path"),
        }
    }
}

fn template(path: &str) -> Value {
    serde_json::from_slice(&fixture(path)).expect("fixture is JSON")
}

/// What an endpoint's handler shares: the chain and its own mode.
type Shared = (Arc<Mutex<Chain>>, Arc<Mutex<Mode>>);

/// How one endpoint behaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Serves the chain.
    Healthy,
    /// HTTP 503 to everything (a node that is down behind its proxy).
    Down,
    /// Truncated JSON for `/block` (a broken node or proxy).
    GarbageBlocks,
}

/// One endpoint serving the shared chain.
pub struct Server {
    /// Base URL.
    pub url: String,
    mode: Arc<Mutex<Mode>>,
    events: Option<broadcast::Sender<String>>,
    task: tokio::task::JoinHandle<()>,
}

impl Server {
    /// Starts an endpoint on a free port of 127.0.0.1 (no `/websocket`).
    pub async fn start(chain: Arc<Mutex<Chain>>) -> Server {
        Server::start_inner(chain, false).await
    }

    /// Starts an endpoint that also serves CometBFT's `/websocket`: it acknowledges a
    /// `subscribe` request and then forwards what [`Server::push_new_block`] sends.
    pub async fn start_with_websocket(chain: Arc<Mutex<Chain>>) -> Server {
        Server::start_inner(chain, true).await
    }

    async fn start_inner(chain: Arc<Mutex<Chain>>, websocket: bool) -> Server {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr: SocketAddr = listener.local_addr().expect("addr");
        let mode = Arc::new(Mutex::new(Mode::Healthy));
        let events = websocket.then(|| broadcast::channel(16).0);
        let mut app = Router::new()
            .fallback(answer)
            .with_state((chain, mode.clone()));
        if let Some(events) = &events {
            app = Router::new()
                .route("/websocket", get(websocket_upgrade))
                .with_state(events.clone())
                .merge(app);
        }
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Server {
            url: format!("http://{addr}"),
            mode,
            events,
            task,
        }
    }

    /// Pushes the recorded NewBlock event, with `height`, to every subscriber; returns how many
    /// connections received it.
    pub fn push_new_block(&self, height: u64) -> usize {
        let mut event = template("cometbft-kvstore/v0_38/subscribe_newblock_0.json");
        event["result"]["data"]["value"]["block"]["header"]["height"] = json!(height.to_string());
        self.events
            .as_ref()
            .expect("started with a websocket")
            .send(event.to_string())
            .unwrap_or(0)
    }

    /// Changes the behaviour.
    pub fn set_mode(&self, mode: Mode) {
        *self.mode.lock().expect("mode") = mode;
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn websocket_upgrade(
    State(events): State<broadcast::Sender<String>>,
    upgrade: WebSocketUpgrade,
) -> Response {
    let events = events.subscribe();
    upgrade.on_upgrade(move |socket| serve_websocket(socket, events))
}

/// Waits for the subscribe request, acknowledges it as CometBFT does, then forwards events.
async fn serve_websocket(mut socket: WebSocket, mut events: broadcast::Receiver<String>) {
    loop {
        match socket.recv().await {
            Some(Ok(WsMessage::Text(text))) => {
                let request: Value = serde_json::from_str(text.as_str()).expect("JSON request");
                assert_eq!(request["method"], "subscribe");
                assert_eq!(request["params"]["query"], "tm.event='NewBlock'");
                let ack = json!({"jsonrpc": "2.0", "id": request["id"], "result": {}});
                if socket
                    .send(WsMessage::Text(ack.to_string().into()))
                    .await
                    .is_err()
                {
                    return;
                }
                break;
            }
            Some(Ok(_)) => {}
            _ => return,
        }
    }
    while let Ok(event) = events.recv().await {
        if socket.send(WsMessage::Text(event.into())).await.is_err() {
            return;
        }
    }
}

fn query_param<'a>(query: &'a str, key: &str) -> Option<&'a str> {
    query
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .find(|(k, _)| *k == key)
        .map(|(_, v)| v)
}

async fn answer(State((chain, mode)): State<Shared>, uri: Uri) -> Response {
    let mode = *mode.lock().expect("mode");
    if mode == Mode::Down {
        return (StatusCode::SERVICE_UNAVAILABLE, "down").into_response();
    }
    let query = uri.query().unwrap_or("");
    let height = query_param(query, "height").and_then(|h| h.parse::<u64>().ok());
    let chain = chain.lock().expect("chain");
    let body = match uri.path() {
        "/status" => Some(chain.status()),
        "/block" => {
            if mode == Mode::GarbageBlocks {
                return (StatusCode::OK, "{\"jsonrpc\":\"2.0\",\"result\":{\"blo").into_response();
            }
            chain.block(height.unwrap_or(chain.head))
        }
        "/validators" => {
            let page = query_param(query, "page")
                .and_then(|p| p.parse().ok())
                .unwrap_or(1);
            let per_page = query_param(query, "per_page")
                .and_then(|p| p.parse().ok())
                .unwrap_or(30);
            chain.validators(height.unwrap_or(chain.head), page, per_page)
        }
        "/abci_query" => {
            let path = query_param(query, "path")
                .unwrap_or("")
                .trim_start_matches("%22")
                .trim_end_matches("%22")
                .to_string();
            let data = query_param(query, "data")
                .map(|d| hex::decode(d.trim_start_matches("0x")).expect("hex data"))
                .unwrap_or_default();
            Some(chain.abci(&path, &data))
        }
        _ => None,
    };
    match body {
        Some(body) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/json")],
            body.to_string(),
        )
            .into_response(),
        None => (
            StatusCode::INTERNAL_SERVER_ERROR,
            [(header::CONTENT_TYPE, "application/json")],
            json!({"jsonrpc": "2.0", "id": -1, "error": {"code": -32603, "message": "Internal error", "data": "height is not available"}}).to_string(),
        )
            .into_response(),
    }
}

/// Waits until `check` holds, polling every 100 ms, for at most `timeout`.
pub async fn wait_until(what: &str, timeout: Duration, mut check: impl FnMut() -> bool) {
    let start = Instant::now();
    while !check() {
        assert!(
            start.elapsed() < timeout,
            "timed out after {timeout:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The value of the series `name{labels...}` in an exposition, if present.
pub fn metric(text: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    text.lines()
        .filter(|line| line.starts_with(&format!("{name}{{")))
        .find(|line| {
            let end = line.rfind('}').unwrap_or(0);
            let inside = &line[name.len() + 1..end];
            labels
                .iter()
                .all(|(k, v)| inside.split(',').any(|kv| kv == format!("{k}=\"{v}\"")))
        })
        .and_then(|line| line.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}
