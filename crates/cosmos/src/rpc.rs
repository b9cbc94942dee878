//! CometBFT JSON-RPC over our own HTTP client (reqwest 0.12): `/status`, `/block`, every page of
//! `/validators`, and `/abci_query`, decoded into the few fields valwatch judges with.
//!
//! The answers are decoded by small serde models instead of tendermint-rpc's full types: the
//! fields read here (heights, addresses, flags, powers, the abci response) have one shape in
//! every dialect, and the full types refuse answers that real nodes send (see the fixture tests).
//! tendermint-rpc still names the dialect ([`CompatMode`]) from `/status`'s version. Every
//! answer is size-capped, every request times out, and every error names the endpoint by its
//! redacted name only. [`RpcPool`] uses several endpoints of one chain together: the first
//! good answer wins, and each endpoint's health, height and catching-up state is kept.

use std::time::Duration;

use futures::StreamExt;
use futures::future::BoxFuture;
use futures::stream::FuturesUnordered;
use serde::Deserialize;
pub use tendermint_rpc::client::CompatMode;
use valwatch_core::Endpoint;

use crate::address::{self, Address, KeyKind};
use crate::height::{CommitVote, Flag, SetMember};

/// CometBFT's largest page of `/validators`.
pub const VALIDATORS_PER_PAGE: usize = 100;
/// Pages of `/validators` read at most (100 × 100 = 10 000 validators, far above any chain),
/// so a node that keeps answering the same page cannot loop us forever.
const MAX_VALIDATOR_PAGES: u32 = 100;
/// Default cap on one answer: a 10 000-validator page set or a big block stays far below.
pub const DEFAULT_MAX_BODY: usize = 32 * 1024 * 1024;

/// What went wrong with one answer, without the endpoint.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RpcErrorKind {
    /// Connection, timeout or protocol failure.
    #[error("request failed: {0}")]
    Transport(String),
    /// A non-2xx HTTP status.
    #[error("HTTP status {0}")]
    Status(u16),
    /// The answer exceeded the size cap.
    #[error("answer larger than {0} bytes")]
    TooLarge(usize),
    /// The answer is not the JSON expected.
    #[error("cannot decode answer: {0}")]
    Decode(String),
    /// A JSON-RPC error object.
    #[error("RPC error {code}: {message} {data}")]
    Rpc {
        /// JSON-RPC error code.
        code: i64,
        /// Message.
        message: String,
        /// Detail (often the reason, like a pruned height).
        data: String,
    },
    /// An `abci_query` answered with a non-zero code.
    #[error("ABCI query failed with code {code} ({codespace}): {log}")]
    Abci {
        /// ABCI code.
        code: u32,
        /// Codespace.
        codespace: String,
        /// Log line.
        log: String,
    },
    /// The answer contradicts the request or itself (wrong height, bad paging, ...).
    #[error("inconsistent answer: {0}")]
    Inconsistent(String),
}

impl RpcErrorKind {
    /// Whether the endpoint did not answer usefully at all (no connection, timeout, HTTP
    /// error status, oversized or undecodable answer), as opposed to answering with an error
    /// of its own.
    pub fn is_unreachable(&self) -> bool {
        matches!(
            self,
            RpcErrorKind::Transport(_)
                | RpcErrorKind::Status(_)
                | RpcErrorKind::TooLarge(_)
                | RpcErrorKind::Decode(_)
        )
    }

    /// A short fixed name of the kind, for the `kind` label of the error counter.
    pub fn metric_kind(&self) -> &'static str {
        match self {
            RpcErrorKind::Transport(_) | RpcErrorKind::Status(_) => "unreachable",
            RpcErrorKind::TooLarge(_) => "oversized",
            RpcErrorKind::Decode(_) => "malformed",
            RpcErrorKind::Rpc { .. } | RpcErrorKind::Abci { .. } => "node_error",
            RpcErrorKind::Inconsistent(_) => "inconsistent",
        }
    }
}

/// An RPC failure, naming the endpoint by its redacted name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{endpoint}: {kind}")]
pub struct RpcError {
    /// Redacted endpoint name.
    pub endpoint: String,
    /// What went wrong.
    pub kind: RpcErrorKind,
}

fn decode_err(e: impl std::fmt::Display) -> RpcErrorKind {
    RpcErrorKind::Decode(e.to_string())
}

// ---------------------------------------------------------------------------------------------
// Serde models

#[derive(Deserialize)]
struct Envelope<T> {
    result: Option<T>,
    error: Option<ErrorBody>,
}

#[derive(Deserialize)]
struct ErrorBody {
    code: i64,
    #[serde(default)]
    message: String,
    #[serde(default)]
    data: Option<serde_json::Value>,
}

fn unwrap_envelope<T: for<'de> Deserialize<'de>>(body: &[u8]) -> Result<T, RpcErrorKind> {
    let envelope: Envelope<T> = serde_json::from_slice(body).map_err(decode_err)?;
    if let Some(error) = envelope.error {
        let data = match error.data {
            Some(serde_json::Value::String(s)) => s,
            Some(other) => other.to_string(),
            None => String::new(),
        };
        return Err(RpcErrorKind::Rpc {
            code: error.code,
            message: error.message,
            data,
        });
    }
    envelope
        .result
        .ok_or_else(|| RpcErrorKind::Decode("neither `result` nor `error`".into()))
}

fn num(text: &str, what: &str) -> Result<u64, RpcErrorKind> {
    text.parse()
        .map_err(|_| RpcErrorKind::Decode(format!("{what} `{text}` is not a number")))
}

fn hex_address(text: &str) -> Result<Address, RpcErrorKind> {
    address::from_hex(text).map_err(decode_err)
}

#[derive(Deserialize)]
struct RawStatus {
    node_info: RawNodeInfo,
    sync_info: RawSyncInfo,
}

#[derive(Deserialize)]
struct RawNodeInfo {
    version: String,
    network: String,
}

#[derive(Deserialize)]
struct RawSyncInfo {
    latest_block_height: String,
    #[serde(default)]
    latest_block_time: String,
    #[serde(default)]
    earliest_block_height: Option<String>,
    catching_up: bool,
}

/// What `/status` says about a node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeStatus {
    /// `node_info.version` as reported.
    pub version: String,
    /// Chain id (`node_info.network`).
    pub network: String,
    /// Latest block height.
    pub latest_height: u64,
    /// Latest block time (RFC 3339, as reported).
    pub latest_time: String,
    /// Earliest height the node still has (pruning), if reported.
    pub earliest_height: Option<u64>,
    /// Whether the node is still syncing.
    pub catching_up: bool,
}

impl NodeStatus {
    /// The dialect this node speaks.
    pub fn dialect(&self) -> CompatMode {
        detect_dialect(&self.version)
    }
}

/// The dialect of a CometBFT version string: 0.34, 0.37, 0.38; 1.x and anything unknown or
/// unparsable fall back to 0.38 (its successors keep its block and event layout).
pub fn detect_dialect(version: &str) -> CompatMode {
    serde_json::from_value::<tendermint::Version>(serde_json::Value::String(version.to_string()))
        .ok()
        .and_then(|v| CompatMode::from_version(v).ok())
        .unwrap_or(CompatMode::V0_38)
}

/// Decodes a `/status` answer.
pub fn decode_status(body: &[u8]) -> Result<NodeStatus, RpcErrorKind> {
    let raw: RawStatus = unwrap_envelope(body)?;
    Ok(NodeStatus {
        version: raw.node_info.version,
        network: raw.node_info.network,
        latest_height: num(&raw.sync_info.latest_block_height, "latest_block_height")?,
        latest_time: raw.sync_info.latest_block_time,
        earliest_height: match raw.sync_info.earliest_block_height {
            Some(h) => Some(num(&h, "earliest_block_height")?),
            None => None,
        },
        catching_up: raw.sync_info.catching_up,
    })
}

#[derive(Deserialize)]
struct RawBlockResult {
    block: RawBlock,
}

#[derive(Deserialize)]
struct RawBlock {
    header: RawHeader,
    data: RawData,
    last_commit: Option<RawCommit>,
}

#[derive(Deserialize)]
struct RawHeader {
    chain_id: String,
    height: String,
    time: String,
    proposer_address: String,
    #[serde(default)]
    validators_hash: String,
}

#[derive(Deserialize)]
struct RawData {
    #[serde(default)]
    txs: Option<Vec<serde::de::IgnoredAny>>,
}

#[derive(Deserialize)]
struct RawCommit {
    height: String,
    #[serde(default)]
    signatures: Vec<RawSig>,
}

#[derive(Deserialize)]
struct RawSig {
    block_id_flag: u8,
    #[serde(default)]
    validator_address: Option<String>,
}

/// The parts of a block valwatch uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockInfo {
    /// Chain id in the header.
    pub chain_id: String,
    /// Block height.
    pub height: u64,
    /// Block time (RFC 3339, as reported).
    pub time: String,
    /// Proposer's consensus address.
    pub proposer: Address,
    /// `header.validators_hash`: identifies the validator set at this height (upper-case
    /// hex; empty when the node does not send it).
    pub validators_hash: String,
    /// Number of transactions.
    pub tx_count: usize,
    /// Height the `last_commit` is for (`height - 1`; 0 at the first block).
    pub last_commit_height: u64,
    /// The `last_commit` votes, in the order of the set at `last_commit_height`.
    pub last_commit: Vec<CommitVote>,
}

/// Decodes a `/block` answer.
pub fn decode_block(body: &[u8]) -> Result<BlockInfo, RpcErrorKind> {
    let raw: RawBlockResult = unwrap_envelope(body)?;
    let block = raw.block;
    let (last_commit_height, signatures) = match block.last_commit {
        Some(c) => (num(&c.height, "last_commit.height")?, c.signatures),
        None => (0, Vec::new()),
    };
    let mut last_commit = Vec::with_capacity(signatures.len());
    for (i, sig) in signatures.into_iter().enumerate() {
        let flag = Flag::from_code(sig.block_id_flag).ok_or_else(|| {
            RpcErrorKind::Decode(format!(
                "signature {i}: unknown block_id_flag {}",
                sig.block_id_flag
            ))
        })?;
        let address = match sig.validator_address.as_deref() {
            None | Some("") => None,
            Some(text) => Some(hex_address(text)?),
        };
        if flag != Flag::Absent && address.is_none() {
            return Err(RpcErrorKind::Decode(format!(
                "signature {i}: signed without an address"
            )));
        }
        last_commit.push(CommitVote { flag, address });
    }
    Ok(BlockInfo {
        chain_id: block.header.chain_id,
        height: num(&block.header.height, "header.height")?,
        time: block.header.time,
        proposer: hex_address(&block.header.proposer_address)?,
        validators_hash: block.header.validators_hash.to_ascii_uppercase(),
        tx_count: block.data.txs.map_or(0, |t| t.len()),
        last_commit_height,
        last_commit,
    })
}

#[derive(Deserialize)]
struct RawValidators {
    block_height: String,
    validators: Vec<RawValidator>,
    count: String,
    total: String,
}

#[derive(Deserialize)]
struct RawValidator {
    address: String,
    pub_key: RawPubKey,
    voting_power: String,
}

#[derive(Deserialize)]
struct RawPubKey {
    #[serde(rename = "type")]
    kind: String,
    value: String,
}

/// One member of a `/validators` answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RpcValidator {
    /// Consensus address and power.
    pub member: SetMember,
    /// Key type name (`tendermint/PubKeyEd25519`, ...).
    pub key_type: String,
    /// Raw public key bytes.
    pub pub_key: Vec<u8>,
}

/// One page of `/validators`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidatorsPage {
    /// Height the page is for.
    pub height: u64,
    /// Members on this page.
    pub validators: Vec<RpcValidator>,
    /// Size of the whole set.
    pub total: usize,
}

/// Decodes one `/validators` page.
pub fn decode_validators_page(body: &[u8]) -> Result<ValidatorsPage, RpcErrorKind> {
    let raw: RawValidators = unwrap_envelope(body)?;
    let count = num(&raw.count, "count")? as usize;
    let total = num(&raw.total, "total")? as usize;
    if count != raw.validators.len() {
        return Err(RpcErrorKind::Inconsistent(format!(
            "page says count {count} but holds {} validators",
            raw.validators.len()
        )));
    }
    let validators = raw
        .validators
        .into_iter()
        .map(|v| {
            let pub_key =
                subtle_encoding::base64::decode(v.pub_key.value.as_bytes()).map_err(|_| {
                    RpcErrorKind::Decode(format!("pub_key of {} is not base64", v.address))
                })?;
            Ok(RpcValidator {
                member: SetMember {
                    address: hex_address(&v.address)?,
                    power: num(&v.voting_power, "voting_power")?,
                },
                key_type: v.pub_key.kind,
                pub_key,
            })
        })
        .collect::<Result<Vec<_>, RpcErrorKind>>()?;
    Ok(ValidatorsPage {
        height: num(&raw.block_height, "block_height")?,
        validators,
        total,
    })
}

/// Joins pages of one set, checking that they are for `height`, agree on the total, and add up
/// to it.
pub fn assemble_pages(
    height: u64,
    pages: impl IntoIterator<Item = ValidatorsPage>,
) -> Result<Vec<RpcValidator>, RpcErrorKind> {
    let mut set = Vec::new();
    let mut total = None;
    for page in pages {
        if page.height != height {
            return Err(RpcErrorKind::Inconsistent(format!(
                "validators page is for height {}, asked {height}",
                page.height
            )));
        }
        if *total.get_or_insert(page.total) != page.total {
            return Err(RpcErrorKind::Inconsistent(
                "pages disagree on the set size".into(),
            ));
        }
        set.extend(page.validators);
    }
    match total {
        Some(total) if total == set.len() => Ok(set),
        Some(total) => Err(RpcErrorKind::Inconsistent(format!(
            "pages hold {} validators of {total}",
            set.len()
        ))),
        None => Err(RpcErrorKind::Inconsistent("no validators page".into())),
    }
}

/// Key type of a validator as a [`KeyKind`], if supported.
pub fn key_kind(validator: &RpcValidator) -> Option<KeyKind> {
    KeyKind::from_type_name(&validator.key_type).ok()
}

#[derive(Deserialize)]
struct RawAbci {
    response: RawAbciResponse,
}

#[derive(Deserialize)]
struct RawAbciResponse {
    #[serde(default)]
    code: u32,
    #[serde(default)]
    log: String,
    #[serde(default)]
    codespace: String,
    #[serde(default)]
    value: Option<String>,
}

/// Decodes an `/abci_query` answer into the response bytes (protobuf).
pub fn decode_abci_query(body: &[u8]) -> Result<Vec<u8>, RpcErrorKind> {
    let raw: RawAbci = unwrap_envelope(body)?;
    let response = raw.response;
    if response.code != 0 {
        return Err(RpcErrorKind::Abci {
            code: response.code,
            codespace: response.codespace,
            log: response.log,
        });
    }
    match response.value {
        None => Ok(Vec::new()),
        Some(value) => subtle_encoding::base64::decode(value.as_bytes())
            .map_err(|_| RpcErrorKind::Decode("abci value is not base64".into())),
    }
}

// ---------------------------------------------------------------------------------------------
// Transport

/// A client of one CometBFT RPC endpoint.
#[derive(Debug, Clone)]
pub struct RpcClient {
    endpoint: Endpoint,
    http: reqwest::Client,
    max_body: usize,
}

impl RpcClient {
    /// A client of `endpoint` through `http` (which carries the timeouts), refusing answers over
    /// `max_body` bytes.
    pub fn new(endpoint: Endpoint, http: reqwest::Client, max_body: usize) -> Self {
        RpcClient {
            endpoint,
            http,
            max_body,
        }
    }

    /// The endpoint.
    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    fn error(&self, kind: RpcErrorKind) -> RpcError {
        RpcError {
            endpoint: self.endpoint.name().to_string(),
            kind,
        }
    }

    async fn get_raw(&self, path: &str) -> Result<Vec<u8>, RpcErrorKind> {
        let transport = |e: reqwest::Error| {
            RpcErrorKind::Transport(valwatch_core::error_chain(&e.without_url()))
        };
        let mut response = self
            .http
            .get(self.endpoint.join(path))
            .send()
            .await
            .map_err(transport)?;
        // CometBFT answers JSON-RPC errors with HTTP 500 and a JSON body: read it when it is small.
        let status = response.status();
        if response
            .content_length()
            .is_some_and(|l| l > self.max_body as u64)
        {
            return Err(RpcErrorKind::TooLarge(self.max_body));
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(transport)? {
            if body.len() + chunk.len() > self.max_body {
                return Err(RpcErrorKind::TooLarge(self.max_body));
            }
            body.extend_from_slice(&chunk);
        }
        if !status.is_success() {
            // Prefer the JSON-RPC error the body carries over the bare status.
            return match unwrap_envelope::<serde_json::Value>(&body) {
                Err(e @ RpcErrorKind::Rpc { .. }) => Err(e),
                _ => Err(RpcErrorKind::Status(status.as_u16())),
            };
        }
        Ok(body)
    }

    async fn get<T>(
        &self,
        path: &str,
        decode: impl FnOnce(&[u8]) -> Result<T, RpcErrorKind>,
    ) -> Result<T, RpcError> {
        let body = self.get_raw(path).await.map_err(|k| self.error(k))?;
        decode(&body).map_err(|k| self.error(k))
    }

    /// `/status`.
    pub async fn status(&self) -> Result<NodeStatus, RpcError> {
        self.get("/status", decode_status).await
    }

    /// `/block?height=` (`None`: latest). Checks the answer is for the height asked.
    pub async fn block(&self, height: Option<u64>) -> Result<BlockInfo, RpcError> {
        let path = match height {
            Some(h) => format!("/block?height={h}"),
            None => "/block".to_string(),
        };
        let block = self.get(&path, decode_block).await?;
        if let Some(h) = height
            && block.height != h
        {
            return Err(self.error(RpcErrorKind::Inconsistent(format!(
                "block {} answered for height {h}",
                block.height
            ))));
        }
        Ok(block)
    }

    /// The whole validator set at `height`, every page, in CometBFT order.
    pub async fn validators(&self, height: u64) -> Result<Vec<RpcValidator>, RpcError> {
        let mut pages = Vec::new();
        let mut seen = 0usize;
        for page in 1..=MAX_VALIDATOR_PAGES {
            let path =
                format!("/validators?height={height}&page={page}&per_page={VALIDATORS_PER_PAGE}");
            let answer = self.get(&path, decode_validators_page).await?;
            seen += answer.validators.len();
            let total = answer.total;
            let empty = answer.validators.is_empty();
            pages.push(answer);
            if seen >= total || empty {
                break;
            }
        }
        assemble_pages(height, pages).map_err(|k| self.error(k))
    }

    /// `/abci_query` of `path` (a gRPC method path) with protobuf request bytes `data`; the
    /// protobuf response bytes.
    pub async fn abci_query(&self, path: &str, data: &[u8]) -> Result<Vec<u8>, RpcError> {
        if !path
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "/._".contains(c))
        {
            return Err(self.error(RpcErrorKind::Inconsistent(format!("bad query path {path}"))));
        }
        let query = format!("/abci_query?path=%22{path}%22&data=0x{}", hex::encode(data));
        self.get(&query, decode_abci_query).await
    }
}

/// Builds the HTTP client shared by the endpoints of a chain.
pub fn http_client(timeout: Duration) -> Result<reqwest::Client, String> {
    reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout.min(Duration::from_secs(5)))
        .build()
        .map_err(|e| e.to_string())
}

/// Health of one endpoint as last seen.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EndpointState {
    /// Whether its last request succeeded.
    pub up: bool,
    /// Latest height from its last `/status`.
    pub height: Option<u64>,
    /// Catching up, from its last `/status`.
    pub catching_up: bool,
}

/// Several endpoints of one chain, used together.
#[derive(Debug)]
pub struct RpcPool {
    clients: Vec<RpcClient>,
    states: Vec<EndpointState>,
    /// Errors of [`RpcPool::first`] since the last [`RpcPool::take_failures`], including
    /// those of endpoints that lost to a good answer.
    failures: Vec<RpcError>,
}

impl RpcPool {
    /// A pool of `clients` (at least one).
    pub fn new(clients: Vec<RpcClient>) -> Self {
        let states = vec![EndpointState::default(); clients.len()];
        RpcPool {
            clients,
            states,
            failures: Vec::new(),
        }
    }

    /// The errors met by [`RpcPool::first`] since the last call, oldest first (at most the
    /// last 1000), so that a broken endpoint is seen even while another one answers.
    pub fn take_failures(&mut self) -> Vec<RpcError> {
        std::mem::take(&mut self.failures)
    }

    /// The clients.
    pub fn clients(&self) -> &[RpcClient] {
        &self.clients
    }

    /// Last known state of each endpoint, by index.
    pub fn states(&self) -> &[EndpointState] {
        &self.states
    }

    /// Asks every endpoint for `/status`; returns each answer (errors included) and updates
    /// the endpoint states.
    pub async fn refresh(&mut self) -> Vec<Result<NodeStatus, RpcError>> {
        let answers = futures::future::join_all(self.clients.iter().map(|c| c.status())).await;
        for (state, answer) in self.states.iter_mut().zip(&answers) {
            match answer {
                Ok(status) => {
                    *state = EndpointState {
                        up: true,
                        height: Some(status.latest_height),
                        catching_up: status.catching_up,
                    }
                }
                Err(_) => state.up = false,
            }
        }
        answers
    }

    /// Highest height reported by an endpoint that is up and not catching up (or, if none,
    /// by any endpoint that is up).
    pub fn head(&self) -> Option<u64> {
        let synced = self
            .states
            .iter()
            .filter(|s| s.up && !s.catching_up)
            .filter_map(|s| s.height)
            .max();
        synced.or_else(|| {
            self.states
                .iter()
                .filter(|s| s.up)
                .filter_map(|s| s.height)
                .max()
        })
    }

    /// Runs `request` against every endpoint that may have `min_height` (all of them when
    /// none is known to), concurrently; the first success wins. Failing endpoints are marked
    /// down. All errors are returned when every endpoint failed.
    pub async fn first<T, F>(&mut self, min_height: u64, request: F) -> Result<T, Vec<RpcError>>
    where
        F: for<'c> Fn(&'c RpcClient) -> BoxFuture<'c, Result<T, RpcError>>,
    {
        let mut chosen: Vec<usize> = (0..self.clients.len())
            .filter(|&i| self.states[i].height.is_none_or(|h| h >= min_height))
            .collect();
        if chosen.is_empty() {
            chosen = (0..self.clients.len()).collect();
        }
        let mut pending: FuturesUnordered<_> = chosen
            .iter()
            .map(|&i| {
                let fut = request(&self.clients[i]);
                async move { (i, fut.await) }
            })
            .collect();
        let mut errors = Vec::new();
        let mut outcome = None;
        while let Some((i, answer)) = pending.next().await {
            match answer {
                Ok(value) => {
                    outcome = Some((i, value));
                    break;
                }
                Err(error) => errors.push((i, error)),
            }
        }
        // Endpoints still pending when another answered are neither up nor down; an endpoint
        // that answered with an error of its own (a pruned height, an unknown query) is up.
        drop(pending);
        for (i, error) in &errors {
            if error.kind.is_unreachable() {
                self.states[*i].up = false;
            }
        }
        if self.failures.len() < 1000 {
            self.failures.extend(errors.iter().map(|(_, e)| e.clone()));
        }
        match outcome {
            Some((i, value)) => {
                self.states[i].up = true;
                Ok(value)
            }
            None => Err(errors.into_iter().map(|(_, e)| e).collect()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dialects_from_versions() {
        assert_eq!(detect_dialect("0.34.21"), CompatMode::V0_34);
        assert_eq!(detect_dialect("v0.37.0-alpha.3"), CompatMode::V0_37);
        assert_eq!(detect_dialect("0.38.12"), CompatMode::V0_38);
        assert_eq!(detect_dialect("1.0.1"), CompatMode::V0_38);
        assert_eq!(detect_dialect("weird-build"), CompatMode::V0_38);
    }

    #[test]
    fn json_rpc_errors_keep_their_reason() {
        let body = br#"{"jsonrpc":"2.0","id":-1,"error":{"code":-32603,"message":"Internal error","data":"height 1 is not available"}}"#;
        let err = decode_block(body).expect_err("must fail");
        assert!(
            matches!(&err, RpcErrorKind::Rpc { code: -32603, data, .. } if data.contains("not available"))
        );
    }

    #[test]
    fn pages_must_add_up() {
        let member = |n: u8| RpcValidator {
            member: SetMember {
                address: [n; 20],
                power: 1,
            },
            key_type: "tendermint/PubKeyEd25519".into(),
            pub_key: vec![0; 32],
        };
        let page = |height, v: Vec<RpcValidator>, total| ValidatorsPage {
            height,
            validators: v,
            total,
        };
        assert_eq!(
            assemble_pages(
                5,
                [page(5, vec![member(1)], 2), page(5, vec![member(2)], 2)]
            )
            .expect("ok")
            .len(),
            2
        );
        assert!(assemble_pages(5, [page(5, vec![member(1)], 2)]).is_err());
        assert!(assemble_pages(5, [page(6, vec![member(1)], 1)]).is_err());
        assert!(
            assemble_pages(
                5,
                [page(5, vec![member(1)], 2), page(5, vec![member(2)], 3)]
            )
            .is_err()
        );
    }
}
