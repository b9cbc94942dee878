//! The Cosmos [`ChainWatcher`]: follows one CometBFT chain through several RPC endpoints and
//! judges every height for the watched validators.
//!
//! Each cycle: ask every endpoint for `/status` (health, height, catching-up, dialect, chain
//! id); refresh the x/staking, x/slashing, x/upgrade and x/gov data every
//! `sdk_refresh_seconds` (and resolve operator addresses to consensus addresses); then judge
//! heights strictly in order from the checkpoint: for height H, block H (proposer, empty),
//! the validator set at H (cached while block headers carry the same `validators_hash`) and
//! block H+1's `last_commit` go to [`crate::height::judge`]. A height is recorded and
//! checkpointed only once judged; a height that cannot be judged (no endpoint has it, answers
//! that contradict each other) is retried next cycle and shows as lag, never as a miss. A
//! chain that makes no block is reported as stalled, and nothing is recorded for heights that
//! do not exist.
//!
//! Between cycles the loop sleeps `poll_interval`, or less when a CometBFT `NewBlock` event
//! arrives on the websocket subscription ([`crate::newblock`], `subscribe = true`): a trigger only.
//!
//! The rules (what a verdict means per validator, resuming, stall detection) live in
//! [`crate::follow`] and [`crate::keys`]; this module is the I/O around them.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use futures::FutureExt;
use futures::future::BoxFuture;
use prometheus_client::metrics::counter::Counter;
use tracing::{debug, info, warn};
use valwatch_core::metrics::{FloatGauge, GaugeFamily, LabelPairs};
use valwatch_core::{
    Aggregate, ChainTracker, ChainWatcher, ConfigProblem, GaugeId, LabelMap, SeriesPolicy,
    ValidatorSet, WatchContext, WatchError, parse_endpoints, read_key_file,
};

use crate::address::{self, Address};
use crate::config::CosmosConfig;
use crate::follow::{self, BlockTime, HeightIds, MissLog, Stall, Watched};
use crate::height::{self, HeightError, HeightInput, SetMember};
use crate::keys::{self, OperatorAddresses, Resolved};
use crate::newblock::{self, Subscription};
use crate::rpc::{
    self, BlockInfo, CompatMode, NodeStatus, RpcClient, RpcError, RpcErrorKind, RpcPool,
};
use crate::sdk::{self, GovVersion, SdkError, SigningInfo, SlashingParams, StakingValidator};

/// Window length used until the chain's `signed_blocks_window` is known: the Hub's, so a
/// restored window is not cut short before the real length is read.
const DEFAULT_WINDOW: u32 = 10_000;
/// Longest time spent judging heights in one cycle before endpoints and SDK data are refreshed
/// again (a long back-fill must not freeze endpoint health).
const HEIGHT_BUDGET: Duration = Duration::from_secs(10);
/// Open proposals followed at most; the `proposal_id` label stays bounded.
const MAX_OPEN_PROPOSALS: usize = 20;
/// Vote look-ups per SDK refresh at most (proposals × watched operators).
const MAX_VOTE_QUERIES: usize = 400;
/// A failure repeated at the same height is logged at warn level at most this often.
const REPEAT_LOG_INTERVAL: Duration = Duration::from_secs(60);

/// Builds the watcher of one configured chain.
pub fn watcher(config: CosmosConfig) -> Result<Box<dyn ChainWatcher>, ConfigProblem> {
    config.validate()?;
    let endpoints = parse_endpoints("rpc", &config.rpc)?;
    let http = rpc::http_client(config.request_timeout())
        .map_err(|e| ConfigProblem::new("rpc", format!("cannot build the HTTP client: {e}")))?;
    let clients = endpoints
        .into_iter()
        .map(|e| RpcClient::new(e, http.clone(), rpc::DEFAULT_MAX_BODY))
        .collect::<Vec<_>>();
    let endpoints = clients.len();
    Ok(Box::new(CosmosWatcher {
        compat: config.compat_mode()?,
        pool: RpcPool::new(clients),
        config,
        handles: None,
        keys: KeyState::default(),
        sdk: SdkState::default(),
        follow: FollowState::default(),
        logs: LogState {
            endpoint_up: vec![None; endpoints],
            dialect: vec![None; endpoints],
            ..LogState::default()
        },
    }))
}

/// Metric handles, registered once.
#[derive(Clone)]
struct Handles {
    ids: HeightIds,
    chain_missed_counter: GaugeId,
    blocks_left: GaugeId,
    blocks_left_valwatch: GaugeId,
    jailed: GaugeId,
    tombstoned: GaugeId,
    bonded: GaugeId,
    tokens: GaugeId,
    rank: GaugeId,
    chain_height: FloatGauge,
    block_time: FloatGauge,
    stalled: FloatGauge,
    seconds_since_block: FloatGauge,
    seat_price: FloatGauge,
    upgrade_height: FloatGauge,
    keys_unresolved: FloatGauge,
    window: FloatGauge,
    min_signed: FloatGauge,
    proposals_open: FloatGauge,
    newblock_up: FloatGauge,
    heights_skipped: Counter,
    endpoint_height: GaugeFamily,
    endpoint_catching_up: GaugeFamily,
    endpoint_lag: GaugeFamily,
    endpoint_dialect: GaugeFamily,
    proposal_not_voted: GaugeFamily,
    validator_proposal_voted: GaugeFamily,
    validator_info: GaugeFamily,
}

/// Configured keys and how they resolved.
#[derive(Default)]
struct KeyState {
    file_labels: LabelMap,
    file_mtime: Option<SystemTime>,
    resolved: Option<Resolved>,
    watched: Watched,
    /// Operator → consensus address remembered from the checkpoint, used until x/staking is
    /// read, so a restart resolves operator addresses even when x/staking is slow.
    remembered: Option<OperatorAddresses>,
}

/// What the SDK modules said last.
#[derive(Default)]
struct SdkState {
    last_refresh: Option<Instant>,
    staking: Option<Vec<StakingValidator>>,
    operators: Option<OperatorAddresses>,
    params: Option<SlashingParams>,
    signing: Option<HashMap<Address, SigningInfo>>,
    gov: Option<GovVersion>,
    proposals: Vec<u64>,
    /// (proposal, operator) pairs known to have voted (a vote cannot be withdrawn).
    voted: HashSet<(u64, String)>,
    prefix: Option<String>,
}

/// Where the height loop is.
#[derive(Default)]
struct FollowState {
    identity: Option<String>,
    next: Option<u64>,
    /// Block `next`, when already fetched as the previous height's H+1.
    carry: Option<BlockInfo>,
    /// The validator set of the last judged height, by its `validators_hash`.
    set_cache: Option<(String, Arc<Vec<SetMember>>)>,
    misses: MissLog,
    block_time: BlockTime,
    stall: Stall,
    stalled: bool,
    extra: serde_json::Value,
}

/// What was logged, so a state is logged when it changes rather than every cycle.
#[derive(Default)]
struct LogState {
    endpoint_up: Vec<Option<bool>>,
    dialect: Vec<Option<CompatMode>>,
    failing_queries: HashSet<&'static str>,
    last_height_failure: Option<(u64, Instant)>,
    proposal_series: Vec<LabelPairs>,
    info_series: Vec<LabelPairs>,
    unresolved: BTreeMap<String, String>,
}

struct CosmosWatcher {
    config: CosmosConfig,
    compat: Option<CompatMode>,
    pool: RpcPool,
    handles: Option<Handles>,
    keys: KeyState,
    sdk: SdkState,
    follow: FollowState,
    logs: LogState,
}

/// Why a height could not be judged this time.
#[derive(Debug)]
enum HeightFailure {
    /// Every endpoint failed.
    Rpc(Vec<RpcError>),
    /// The answers do not fit together.
    Judge(HeightError),
}

impl std::fmt::Display for HeightFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HeightFailure::Rpc(errors) => {
                let texts: Vec<String> = errors.iter().map(ToString::to_string).collect();
                write!(f, "{}", texts.join("; "))
            }
            HeightFailure::Judge(e) => write!(f, "{e}"),
        }
    }
}

fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

fn dialect_name(mode: CompatMode) -> &'static str {
    match mode {
        CompatMode::V0_34 => "0.34",
        CompatMode::V0_37 => "0.37",
        _ => "0.38",
    }
}

/// An SDK error as the RPC error of the endpoint that gave it (for [`RpcPool::first`]).
fn sdk_error(client: &RpcClient, error: SdkError) -> RpcError {
    match error {
        SdkError::Rpc(e) => e,
        other => RpcError {
            endpoint: client.endpoint().name().to_string(),
            kind: RpcErrorKind::Decode(other.to_string()),
        },
    }
}

fn errors_text(errors: &[RpcError]) -> String {
    if errors.is_empty() {
        return "no endpoint".into();
    }
    errors
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

impl CosmosWatcher {
    fn register_handles(&self, tracker: &ChainTracker) -> Result<Handles, WatchError> {
        let window = tracker
            .checkpoint()
            .1
            .get("signed_blocks_window")
            .and_then(serde_json::Value::as_u64)
            .and_then(|w| u32::try_from(w).ok())
            .unwrap_or(DEFAULT_WINDOW);
        let ids = HeightIds {
            duty: tracker.duty("block", window)?,
            proposed: tracker.counter(
                "cosmos_proposed_blocks",
                "Blocks proposed, counted once per height when first judged.",
                &[],
            )?,
            empty_proposed: tracker.counter(
                "cosmos_empty_proposed_blocks",
                "Blocks proposed without transactions, counted once per height when first judged.",
                &[],
            )?,
            solo_missed: tracker.counter(
                "cosmos_solo_missed_blocks",
                "Blocks missed (ABSENT) while more than 2/3 of the voting power signed: the validator's own misses, not the network's.",
                &[],
            )?,
        };
        let gauge = |name: &str, help: &str, aggregates: &[Aggregate]| {
            tracker.gauge(name, help, aggregates, &[])
        };
        let metrics = tracker.metrics();
        let chain = |name: &str, help: &str| metrics.gauge(name, help, &[]);
        let registry = metrics.registry();
        Ok(Handles {
            ids,
            chain_missed_counter: gauge(
                "cosmos_missed_blocks_counter",
                "The chain's x/slashing missed_blocks_counter (misses in its current window).",
                &[Aggregate::Max, Aggregate::Sum],
            )?,
            blocks_left: gauge(
                "cosmos_blocks_left_before_jail",
                "Blocks the validator may still miss before x/slashing jails it: window x (1 - min_signed) - the chain's missed_blocks_counter.",
                &[Aggregate::Min],
            )?,
            blocks_left_valwatch: gauge(
                "cosmos_blocks_left_before_jail_valwatch",
                "Blocks left before jail computed from valwatch's own count of misses in the last signed_blocks_window judged heights.",
                &[Aggregate::Min],
            )?,
            jailed: gauge(
                "cosmos_jailed",
                "1 if x/staking says the validator is jailed, else 0.",
                &[Aggregate::Sum],
            )?,
            tombstoned: gauge(
                "cosmos_tombstoned",
                "1 if x/slashing says the validator is tombstoned (permanently removed), else 0.",
                &[Aggregate::Sum],
            )?,
            bonded: gauge(
                "cosmos_bonded",
                "1 if the validator's x/staking status is BONDED, else 0.",
                &[Aggregate::Sum],
            )?,
            tokens: gauge(
                "cosmos_tokens",
                "Tokens bonded to the validator, in the chain's base denomination.",
                &[Aggregate::Sum],
            )?,
            rank: gauge(
                "cosmos_rank",
                "Rank by tokens among bonded validators (1 = most); no value when not bonded.",
                &[Aggregate::Max, Aggregate::Min],
            )?,
            chain_height: chain(
                "cosmos_chain_height",
                "Newest block height reported by the chain's synced RPC endpoints.",
            )?,
            block_time: chain(
                "cosmos_block_time_seconds",
                "Average time between recent blocks, from block header times.",
            )?,
            stalled: chain(
                "cosmos_chain_stalled",
                "1 if no new block appeared for stall_after_seconds (a halted chain), else 0.",
            )?,
            seconds_since_block: chain(
                "cosmos_seconds_since_last_block",
                "Seconds since the chain's head last advanced.",
            )?,
            seat_price: chain(
                "cosmos_seat_price_tokens",
                "Tokens of the smallest bonded validator: what it takes to enter the active set.",
            )?,
            upgrade_height: chain(
                "cosmos_upgrade_plan_height",
                "Height of the pending x/upgrade plan; 0 when none is planned.",
            )?,
            keys_unresolved: chain(
                "cosmos_keys_unresolved",
                "Configured validator keys that could not be resolved to a consensus address (retried at each SDK refresh).",
            )?,
            window: chain(
                "cosmos_signed_blocks_window",
                "The chain's x/slashing signed_blocks_window.",
            )?,
            min_signed: chain(
                "cosmos_min_signed_per_window",
                "The chain's x/slashing min_signed_per_window, as a ratio.",
            )?,
            proposals_open: chain(
                "cosmos_proposals_in_voting_period",
                "x/gov proposals currently in voting period.",
            )?,
            newblock_up: chain(
                "cosmos_newblock_subscription_up",
                "1 while a CometBFT NewBlock websocket subscription wakes the poll loop, else 0 (heights are polled either way).",
            )?,
            heights_skipped: metrics.counter(
                "cosmos_heights_skipped",
                "Heights never judged because the gap after an outage exceeded backfill_blocks or the nodes had pruned them.",
                &[],
            )?,
            endpoint_height: registry.gauge_family(
                "cosmos_endpoint_height",
                "Latest block height the RPC endpoint reports.",
            )?,
            endpoint_catching_up: registry.gauge_family(
                "cosmos_endpoint_catching_up",
                "1 if the RPC endpoint reports it is catching up (syncing), else 0.",
            )?,
            endpoint_lag: registry.gauge_family(
                "cosmos_endpoint_lag_blocks",
                "Blocks the RPC endpoint is behind the best endpoint of the chain.",
            )?,
            endpoint_dialect: registry.gauge_family(
                "cosmos_endpoint_dialect",
                "1 for the CometBFT RPC dialect the endpoint speaks (detected from /status or set by `compat`).",
            )?,
            proposal_not_voted: registry.gauge_family(
                "cosmos_proposal_not_voted",
                "Watched validators of each label group that have not voted on a proposal in voting period.",
            )?,
            validator_proposal_voted: registry.gauge_family(
                "validator_cosmos_proposal_voted",
                "1 if the validator voted on the proposal in voting period, else 0. Per validator.",
            )?,
            validator_info: registry.gauge_family(
                "validator_cosmos_info",
                "Always 1: the validator's operator address and moniker. Per validator.",
            )?,
        })
    }

    // -----------------------------------------------------------------------------------------
    // Keys

    fn read_keys_file(&mut self, ctx_tracker: &ChainTracker) -> bool {
        let Some(path) = self.config.validators.keys_file.clone() else {
            return false;
        };
        let mtime = std::fs::metadata(&path).and_then(|m| m.modified()).ok();
        if mtime.is_some() && mtime == self.keys.file_mtime {
            return false;
        }
        match read_key_file(&path) {
            Ok(labels) => {
                info!(chain = %ctx_tracker.chain(), file = %path.display(), labels = labels.len(), "validator key file read");
                self.keys.file_labels = labels;
                self.keys.file_mtime = mtime;
                true
            }
            Err(error) => {
                // Keep the keys of the last good read: a half-written file must not unwatch
                // everyone.
                warn!(chain = %ctx_tracker.chain(), %error, "validator key file not usable; keeping the previous keys");
                self.keys.file_mtime = mtime;
                false
            }
        }
    }

    /// Resolves the configured keys with what is known now; replaces the watched set when the
    /// result changed. Returns whether it changed.
    fn apply_keys(&mut self, tracker: &ChainTracker, handles: &Handles) -> bool {
        let mut labels = self.config.validators.labels.clone();
        for (label, keys) in &self.keys.file_labels {
            labels
                .entry(label.clone())
                .or_default()
                .extend(keys.iter().cloned());
        }
        let mut always = self.config.series.always.clone();
        always.extend(self.config.validators.per_validator.iter().cloned());
        let operators = self
            .sdk
            .operators
            .as_ref()
            .or(self.keys.remembered.as_ref());
        let prefix = self
            .config
            .bech32_prefix
            .as_deref()
            .or(self.sdk.prefix.as_deref());
        let resolved = keys::resolve(
            &labels,
            &always,
            &self.config.consumer_keys,
            operators,
            prefix,
        );
        handles
            .keys_unresolved
            .set(resolved.unresolved.len() as f64);
        if resolved.unresolved != self.logs.unresolved {
            for (key, reason) in &resolved.unresolved {
                if self.logs.unresolved.get(key) != Some(reason) {
                    warn!(chain = %tracker.chain(), %key, %reason, "validator key not resolved; not watched until it is (retried at each SDK refresh)");
                }
            }
            for key in self.logs.unresolved.keys() {
                if !resolved.unresolved.contains_key(key) {
                    info!(chain = %tracker.chain(), %key, "validator key resolved");
                }
            }
            self.logs.unresolved = resolved.unresolved.clone();
        }
        if self.keys.resolved.as_ref() == Some(&resolved) {
            return false;
        }
        let policy = SeriesPolicy {
            per_validator_max: self.config.series.per_validator_max,
            always: resolved.always.clone(),
        };
        let set = match ValidatorSet::build(&resolved.labels, &[], &policy, keys::canonical) {
            Ok(set) => set,
            Err(error) => {
                warn!(chain = %tracker.chain(), %error, "validator labels refused; keeping the previous set");
                return false;
            }
        };
        info!(
            chain = %tracker.chain(),
            watched = set.len(),
            unresolved = resolved.unresolved.len(),
            "watched validators updated"
        );
        tracker.set_validators(set);
        self.keys.watched = Watched::from_set(&tracker.validators());
        self.keys.resolved = Some(resolved);
        self.rebuild_miss_log(tracker, handles);
        self.refresh_extra();
        true
    }

    /// Rebuilds valwatch's own miss counts from the tracker's windows (after a restart or a
    /// change of the watched set).
    fn rebuild_miss_log(&mut self, tracker: &ChainTracker, handles: &Handles) {
        let window = u64::from(tracker.window_len(handles.ids.duty));
        self.follow.misses = MissLog::new(window);
        let Some(last) = tracker.checkpoint().0 else {
            return;
        };
        let set = tracker.validators();
        let update = tracker.update();
        let first = last.saturating_sub(window - 1).max(1);
        for id in set.ids() {
            let Ok(addr) = address::from_hex(set.key(id)) else {
                continue;
            };
            for height in first..=last {
                if update.recorded(handles.ids.duty, id, height) == Some(true) {
                    self.follow.misses.miss(addr, height);
                }
            }
        }
    }

    fn refresh_extra(&mut self) {
        let operators: serde_json::Map<String, serde_json::Value> = self
            .keys
            .resolved
            .iter()
            .flat_map(|r| r.operators.iter())
            .map(|(hex, valoper)| (valoper.clone(), serde_json::Value::String(hex.clone())))
            .collect();
        let mut extra = serde_json::json!({ "operators": operators });
        if let Some(params) = &self.sdk.params {
            extra["signed_blocks_window"] = params.signed_blocks_window.into();
            extra["min_signed_per_window"] = params.min_signed_per_window.into();
        }
        self.follow.extra = extra;
    }

    // -----------------------------------------------------------------------------------------
    // Endpoints

    fn report_endpoints(&mut self, ctx: &WatchContext, handles: &Handles) {
        let chain = ctx.tracker.chain().to_string();
        let best = self.pool.head();
        for (i, (client, state)) in self
            .pool
            .clients()
            .iter()
            .zip(self.pool.states())
            .enumerate()
        {
            let endpoint = client.endpoint();
            ctx.health.endpoint_up(endpoint, state.up);
            if self.logs.endpoint_up[i] != Some(state.up) {
                if state.up {
                    info!(chain, %endpoint, "RPC endpoint up");
                } else {
                    warn!(chain, %endpoint, "RPC endpoint down");
                }
                self.logs.endpoint_up[i] = Some(state.up);
            }
            let labels: LabelPairs = vec![
                ("chain", chain.clone()),
                ("endpoint", endpoint.name().to_string()),
            ];
            if let Some(height) = state.height {
                handles
                    .endpoint_height
                    .get_or_create(&labels)
                    .set(height as f64);
                if let Some(best) = best {
                    handles
                        .endpoint_lag
                        .get_or_create(&labels)
                        .set(best.saturating_sub(height) as f64);
                }
            }
            handles
                .endpoint_catching_up
                .get_or_create(&labels)
                .set(if state.catching_up { 1.0 } else { 0.0 });
        }
    }

    fn note_dialects(
        &mut self,
        ctx: &WatchContext,
        handles: &Handles,
        answers: &[Result<NodeStatus, RpcError>],
    ) {
        let chain = ctx.tracker.chain().to_string();
        for (i, answer) in answers.iter().enumerate() {
            let Ok(status) = answer else { continue };
            let mode = self.compat.unwrap_or_else(|| status.dialect());
            if self.logs.dialect[i] == Some(mode) {
                continue;
            }
            let endpoint = self.pool.clients()[i].endpoint().name().to_string();
            info!(
                chain,
                %endpoint,
                version = %status.version,
                dialect = dialect_name(mode),
                overridden = self.compat.is_some(),
                "RPC dialect"
            );
            for old in ["0.34", "0.37", "0.38"] {
                handles.endpoint_dialect.remove(&vec![
                    ("chain", chain.clone()),
                    ("endpoint", endpoint.clone()),
                    ("dialect", old.to_string()),
                ]);
            }
            handles
                .endpoint_dialect
                .get_or_create(&vec![
                    ("chain", chain.clone()),
                    ("endpoint", endpoint),
                    ("dialect", dialect_name(mode).to_string()),
                ])
                .set(1.0);
            self.logs.dialect[i] = Some(mode);
        }
    }

    fn count_errors(&self, ctx: &WatchContext, errors: &[RpcError]) {
        for error in errors {
            ctx.health.error(error.kind.metric_kind());
        }
    }

    /// Logs a failing query when it starts failing and when it recovers, not every time.
    fn query_outcome(
        &mut self,
        ctx: &WatchContext,
        what: &'static str,
        errors: Option<&[RpcError]>,
    ) {
        let chain = ctx.tracker.chain();
        match errors {
            Some(errors) => {
                ctx.health.error("sdk_query");
                if self.logs.failing_queries.insert(what) {
                    warn!(chain, query = what, error = %errors_text(errors), "SDK query failed; previous values kept, retried at the next refresh");
                } else {
                    debug!(chain, query = what, error = %errors_text(errors), "SDK query still failing");
                }
            }
            None => {
                if self.logs.failing_queries.remove(what) {
                    info!(chain, query = what, "SDK query works again");
                }
            }
        }
    }

    // -----------------------------------------------------------------------------------------
    // SDK modules

    async fn refresh_sdk(&mut self, ctx: &WatchContext, handles: &Handles) {
        self.sdk.last_refresh = Some(Instant::now());
        let staking = self
            .pool
            .first(0, |c| {
                async move { sdk::validators(c).await.map_err(|e| sdk_error(c, e)) }.boxed()
            })
            .await;
        match staking {
            Ok(validators) => {
                self.query_outcome(ctx, "staking_validators", None);
                if self.config.bech32_prefix.is_none()
                    && self.sdk.prefix.is_none()
                    && let Some(v) = validators.first()
                    && let Ok((hrp, _)) = address::from_bech32(&v.operator_address)
                {
                    let prefix = hrp.trim_end_matches("valoper").to_string();
                    info!(chain = %ctx.tracker.chain(), %prefix, "bech32 prefix learned from x/staking");
                    self.sdk.prefix = Some(prefix);
                }
                self.sdk.operators = Some(
                    validators
                        .iter()
                        .map(|v| {
                            (
                                v.operator_address.to_ascii_lowercase(),
                                v.consensus_address.clone().map_err(|e| e.to_string()),
                            )
                        })
                        .collect(),
                );
                self.sdk.staking = Some(validators);
            }
            Err(errors) => self.query_outcome(ctx, "staking_validators", Some(&errors)),
        }
        let params = self
            .pool
            .first(0, |c| {
                async move { sdk::slashing_params(c).await.map_err(|e| sdk_error(c, e)) }.boxed()
            })
            .await;
        match params {
            Ok(params) => {
                self.query_outcome(ctx, "slashing_params", None);
                if self.sdk.params != Some(params) {
                    info!(
                        chain = %ctx.tracker.chain(),
                        window = params.signed_blocks_window,
                        min_signed = params.min_signed_per_window,
                        max_missed = params.max_missed(),
                        "x/slashing parameters"
                    );
                    let window = u32::try_from(params.signed_blocks_window).unwrap_or(u32::MAX);
                    ctx.tracker.resize_duty(handles.ids.duty, window);
                    self.follow.misses.set_window(u64::from(window));
                    self.sdk.params = Some(params);
                    self.refresh_extra();
                }
                handles.window.set(params.signed_blocks_window as f64);
                handles.min_signed.set(params.min_signed_per_window);
            }
            Err(errors) => self.query_outcome(ctx, "slashing_params", Some(&errors)),
        }
        let infos = self
            .pool
            .first(0, |c| {
                async move { sdk::signing_infos(c).await.map_err(|e| sdk_error(c, e)) }.boxed()
            })
            .await;
        match infos {
            Ok(infos) => {
                self.query_outcome(ctx, "signing_infos", None);
                self.sdk.signing = Some(
                    infos
                        .into_iter()
                        .filter_map(|i| i.consensus_address.map(|a| (a, i)))
                        .collect(),
                );
            }
            Err(errors) => self.query_outcome(ctx, "signing_infos", Some(&errors)),
        }
        let plan = self
            .pool
            .first(0, |c| {
                async move { sdk::current_plan(c).await.map_err(|e| sdk_error(c, e)) }.boxed()
            })
            .await;
        match plan {
            Ok(plan) => {
                self.query_outcome(ctx, "upgrade_plan", None);
                handles
                    .upgrade_height
                    .set(plan.map_or(0.0, |(_, h)| h.max(0) as f64));
            }
            Err(errors) => self.query_outcome(ctx, "upgrade_plan", Some(&errors)),
        }
        self.read_keys_file(&ctx.tracker);
        self.apply_keys(&ctx.tracker, handles);
        self.refresh_gov(ctx).await;
        self.publish_sdk(ctx, handles);
    }

    async fn refresh_gov(&mut self, ctx: &WatchContext) {
        let proposals = self
            .pool
            .first(0, |c| {
                async move {
                    sdk::proposals_in_voting(c)
                        .await
                        .map_err(|e| sdk_error(c, e))
                }
                .boxed()
            })
            .await;
        let (version, mut ids) = match proposals {
            Ok(found) => {
                self.query_outcome(ctx, "gov_proposals", None);
                found
            }
            Err(errors) => {
                self.query_outcome(ctx, "gov_proposals", Some(&errors));
                return;
            }
        };
        // Newest proposals first when there are more than followed.
        ids.sort_unstable_by(|a, b| b.cmp(a));
        ids.truncate(MAX_OPEN_PROPOSALS);
        self.sdk.gov = Some(version);
        self.sdk.voted.retain(|(p, _)| ids.contains(p));
        self.sdk.proposals = ids.clone();
        let operators: Vec<String> = self
            .watched_operators(&ctx.tracker.validators())
            .into_values()
            .collect();
        let mut queries = 0;
        let mut failures = Vec::new();
        'proposals: for proposal in ids {
            for valoper in &operators {
                if self.sdk.voted.contains(&(proposal, valoper.clone())) {
                    continue;
                }
                if queries >= MAX_VOTE_QUERIES {
                    break 'proposals;
                }
                queries += 1;
                let Ok(voter) = sdk::operator_account(valoper) else {
                    continue;
                };
                let voted = self
                    .pool
                    .first(0, move |c| {
                        let voter = voter.clone();
                        async move {
                            sdk::has_voted(c, version, proposal, &voter)
                                .await
                                .map_err(|e| sdk_error(c, e))
                        }
                        .boxed()
                    })
                    .await;
                match voted {
                    Ok(true) => {
                        self.sdk.voted.insert((proposal, valoper.clone()));
                    }
                    Ok(false) => {}
                    Err(errors) => failures.extend(errors),
                }
            }
        }
        let failed = (!failures.is_empty()).then_some(failures.as_slice());
        self.query_outcome(ctx, "gov_votes", failed);
    }

    /// Operator address of each watched validator (canonical key → valoper): as configured, or
    /// found in x/staking by consensus address.
    fn watched_operators(&self, set: &ValidatorSet) -> BTreeMap<String, String> {
        let mut operators = self
            .keys
            .resolved
            .as_ref()
            .map(|r| r.operators.clone())
            .unwrap_or_default();
        if let Some(staking) = &self.sdk.staking {
            for v in staking {
                if let Ok(addr) = &v.consensus_address {
                    let hex = address::to_hex(addr);
                    if set.id_of(&hex).is_some() {
                        operators
                            .entry(hex)
                            .or_insert_with(|| v.operator_address.to_ascii_lowercase());
                    }
                }
            }
        }
        operators
    }

    /// Sets the per-validator gauges from the last SDK answers.
    fn publish_sdk(&mut self, ctx: &WatchContext, handles: &Handles) {
        let chain = ctx.tracker.chain().to_string();
        let set = ctx.tracker.validators();
        let staking = self.sdk.staking.as_deref().unwrap_or_default();
        let ranks = sdk::ranks(staking);
        let by_address: HashMap<Address, usize> = staking
            .iter()
            .enumerate()
            .filter_map(|(i, v)| v.consensus_address.as_ref().ok().map(|a| (*a, i)))
            .collect();
        if self.sdk.staking.is_some() {
            handles
                .seat_price
                .set(sdk::seat_price(staking).map_or(0.0, |p| p as f64));
        }
        let operators = self.watched_operators(&set);
        for labels in self.logs.info_series.drain(..) {
            handles.validator_info.remove(&labels);
        }
        for labels in self.logs.proposal_series.drain(..) {
            handles.proposal_not_voted.remove(&labels);
            handles.validator_proposal_voted.remove(&labels);
        }
        let mut not_voted = vec![vec![0u32; set.group_count()]; self.sdk.proposals.len()];
        {
            let mut update = ctx.tracker.update();
            for id in set.ids() {
                let key = set.key(id);
                let Ok(addr) = address::from_hex(key) else {
                    continue;
                };
                let staked = by_address.get(&addr).map(|&i| (&staking[i], ranks[i]));
                let flag = |b: bool| if b { 1.0 } else { 0.0 };
                update.set_gauge(handles.jailed, id, staked.map(|(v, _)| flag(v.jailed)));
                update.set_gauge(handles.bonded, id, staked.map(|(v, _)| flag(v.bonded)));
                update.set_gauge(handles.tokens, id, staked.map(|(v, _)| v.tokens as f64));
                update.set_gauge(handles.rank, id, staked.and_then(|(_, r)| r.map(f64::from)));
                let info = self.sdk.signing.as_ref().and_then(|s| s.get(&addr));
                update.set_gauge(
                    handles.chain_missed_counter,
                    id,
                    info.map(|i| i.missed_blocks_counter as f64),
                );
                update.set_gauge(handles.tombstoned, id, info.map(|i| flag(i.tombstoned)));
                update.set_gauge(
                    handles.blocks_left,
                    id,
                    info.zip(self.sdk.params)
                        .map(|(i, p)| p.blocks_left(i.missed_blocks_counter) as f64),
                );
                let valoper = operators.get(key).cloned();
                if set.has_own_series(id) {
                    let labels: LabelPairs = vec![
                        ("chain", chain.clone()),
                        ("validator", key.to_string()),
                        ("valoper", valoper.clone().unwrap_or_default()),
                        (
                            "moniker",
                            staked.map(|(v, _)| v.moniker.clone()).unwrap_or_default(),
                        ),
                    ];
                    handles.validator_info.get_or_create(&labels).set(1.0);
                    self.logs.info_series.push(labels);
                }
                let Some(valoper) = valoper else { continue };
                for (p, proposal) in self.sdk.proposals.iter().enumerate() {
                    let voted = self.sdk.voted.contains(&(*proposal, valoper.clone()));
                    if !voted {
                        for group in set.groups_of(id) {
                            not_voted[p][usize::from(*group)] += 1;
                        }
                    }
                    if set.has_own_series(id) {
                        let labels: LabelPairs = vec![
                            ("chain", chain.clone()),
                            ("validator", key.to_string()),
                            ("proposal_id", proposal.to_string()),
                        ];
                        handles
                            .validator_proposal_voted
                            .get_or_create(&labels)
                            .set(if voted { 1.0 } else { 0.0 });
                        self.logs.proposal_series.push(labels);
                    }
                }
            }
        }
        for (p, proposal) in self.sdk.proposals.iter().enumerate() {
            for (group, count) in not_voted[p].iter().enumerate() {
                let labels: LabelPairs = vec![
                    ("chain", chain.clone()),
                    ("group", set.group_name(group as u16).to_string()),
                    ("proposal_id", proposal.to_string()),
                ];
                handles
                    .proposal_not_voted
                    .get_or_create(&labels)
                    .set(f64::from(*count));
                self.logs.proposal_series.push(labels);
            }
        }
        handles.proposals_open.set(self.sdk.proposals.len() as f64);
    }

    // -----------------------------------------------------------------------------------------
    // Heights

    async fn fetch_block(&mut self, height: u64) -> Result<BlockInfo, HeightFailure> {
        let chain_id = self.follow.identity.clone();
        self.pool
            .first(height, move |c| {
                let chain_id = chain_id.clone();
                async move {
                    let block = c.block(Some(height)).await?;
                    match chain_id {
                        Some(id) if block.chain_id != id => Err(RpcError {
                            endpoint: c.endpoint().name().to_string(),
                            kind: RpcErrorKind::Inconsistent(format!(
                                "block of chain `{}`, expected `{id}`",
                                block.chain_id
                            )),
                        }),
                        _ => Ok(block),
                    }
                }
                .boxed()
            })
            .await
            .map_err(HeightFailure::Rpc)
    }

    async fn set_at(
        &mut self,
        height: u64,
        block: &BlockInfo,
    ) -> Result<Arc<Vec<SetMember>>, HeightFailure> {
        if let Some((hash, set)) = &self.follow.set_cache
            && !block.validators_hash.is_empty()
            && *hash == block.validators_hash
        {
            return Ok(set.clone());
        }
        let validators = self
            .pool
            .first(height, move |c| c.validators(height).boxed())
            .await
            .map_err(HeightFailure::Rpc)?;
        let set: Arc<Vec<SetMember>> = Arc::new(validators.iter().map(|v| v.member).collect());
        self.follow.set_cache = Some((block.validators_hash.clone(), set.clone()));
        Ok(set)
    }

    /// Judges `height` and records it. On failure nothing is recorded.
    async fn judge_height(
        &mut self,
        ctx: &WatchContext,
        handles: &Handles,
        height: u64,
    ) -> Result<(), HeightFailure> {
        let block = match self.follow.carry.take() {
            Some(block) if block.height == height => block,
            _ => self.fetch_block(height).await?,
        };
        let outcome = self.judge_with(ctx, handles, height, &block).await;
        if outcome.is_err() {
            self.follow.carry = Some(block);
        }
        outcome
    }

    async fn judge_with(
        &mut self,
        ctx: &WatchContext,
        handles: &Handles,
        height: u64,
        block: &BlockInfo,
    ) -> Result<(), HeightFailure> {
        let next = self.fetch_block(height + 1).await?;
        let set = self.set_at(height, block).await?;
        let verdict = match height::judge(&HeightInput {
            height,
            set: &set,
            commit_height: next.last_commit_height,
            votes: &next.last_commit,
            proposer: block.proposer,
            tx_count: block.tx_count,
        }) {
            Ok(verdict) => verdict,
            Err(error) => {
                // The cached set may be the wrong one: read it again next time.
                self.follow.set_cache = None;
                return Err(HeightFailure::Judge(error));
            }
        };
        let records = follow::records(&verdict, &set, &self.keys.watched);
        {
            let mut update = ctx.tracker.update();
            follow::apply(&mut update, &handles.ids, height, &records);
            for record in records.iter().filter(|r| r.missed) {
                self.follow.misses.miss(record.address, height);
            }
            if let Some(params) = self.sdk.params {
                for record in &records {
                    let missed = self.follow.misses.count(&record.address, height);
                    update.set_gauge(
                        handles.blocks_left_valwatch,
                        record.id,
                        Some(params.blocks_left(missed) as f64),
                    );
                }
            }
            update.set_checkpoint(height, self.follow.extra.clone());
        }
        if let (Some(a), Some(b)) = (
            follow::unix_seconds(&block.time),
            follow::unix_seconds(&next.time),
        ) {
            self.follow.block_time.observe(b - a);
            if let Some(seconds) = self.follow.block_time.seconds() {
                handles.block_time.set(seconds);
            }
        }
        self.follow.carry = Some(next);
        Ok(())
    }

    /// Judges every height the nodes allow, in order, within [`HEIGHT_BUDGET`].
    async fn follow_heights(
        &mut self,
        ctx: &WatchContext,
        handles: &Handles,
        head: u64,
        earliest: Option<u64>,
    ) {
        let chain = ctx.tracker.chain().to_string();
        let last = match self.follow.next {
            Some(next) => Some(next - 1).filter(|h| *h > 0),
            None => ctx.tracker.checkpoint().0,
        };
        let resume = follow::resume(last, head, earliest, self.config.backfill_blocks);
        if let Some((first, end)) = resume.skipped {
            let count = end - first + 1;
            warn!(
                chain,
                first,
                last = end,
                count,
                backfill_blocks = self.config.backfill_blocks,
                "HEIGHTS SKIPPED: the gap is longer than backfill_blocks or the nodes pruned it; these heights are not judged"
            );
            handles.heights_skipped.inc_by(count);
            self.follow.carry = None;
        }
        if self.follow.next.is_none() {
            info!(chain, from = resume.next, head, "following heights");
        }
        let mut next = resume.next;
        self.follow.next = Some(next);
        let started = Instant::now();
        while next < head && started.elapsed() < HEIGHT_BUDGET && !ctx.cancel.is_cancelled() {
            match self.judge_height(ctx, handles, next).await {
                Ok(()) => {
                    next += 1;
                    self.follow.next = Some(next);
                    self.logs.last_height_failure = None;
                }
                Err(failure) => {
                    if let HeightFailure::Judge(_) = &failure {
                        ctx.health.error("inconsistent");
                    }
                    let repeat = self
                        .logs
                        .last_height_failure
                        .is_some_and(|(h, at)| h == next && at.elapsed() < REPEAT_LOG_INTERVAL);
                    if repeat {
                        debug!(chain, height = next, error = %failure, "height still not judged; retrying");
                    } else {
                        warn!(chain, height = next, error = %failure, "height not judged; retrying next cycle (shows as lag, never as a miss)");
                        self.logs.last_height_failure = Some((next, Instant::now()));
                    }
                    break;
                }
            }
        }
    }

    fn stall_after(&self) -> f64 {
        self.config.stall_after_seconds.map_or_else(
            || follow::default_stall_after(self.follow.block_time.seconds()),
            |s| s as f64,
        )
    }

    fn poll_interval(&self) -> Duration {
        let seconds = self.config.poll_interval_seconds.map_or_else(
            || follow::default_poll(self.follow.block_time.seconds()),
            |s| s as f64,
        );
        Duration::from_secs_f64(seconds)
    }

    /// One cycle: endpoints, identity, stall, SDK data, heights. Returns whether an endpoint
    /// answered and whether heights are left to judge.
    async fn cycle(&mut self, ctx: &WatchContext, handles: &Handles) -> (bool, bool) {
        let chain = ctx.tracker.chain().to_string();
        let answers = self.pool.refresh().await;
        self.note_dialects(ctx, handles, &answers);
        let failures: Vec<RpcError> = answers
            .iter()
            .filter_map(|a| a.as_ref().err().cloned())
            .collect();
        self.count_errors(ctx, &failures);
        let good: Vec<&NodeStatus> = answers.iter().filter_map(|a| a.as_ref().ok()).collect();
        let Some(best) = good
            .iter()
            .max_by_key(|s| (!s.catching_up, s.latest_height))
            .copied()
        else {
            self.report_endpoints(ctx, handles);
            if !failures.is_empty() {
                warn!(chain, error = %errors_text(&failures), "no RPC endpoint answers");
            }
            return (false, false);
        };
        let network = best.network.clone();
        let latest_time = follow::unix_seconds(&best.latest_time);
        let earliest = good.iter().filter_map(|s| s.earliest_height).min();
        for status in &good {
            if status.network != network {
                ctx.health.error("wrong_chain");
                warn!(chain, expected = %network, found = %status.network, "an RPC endpoint serves another chain; its blocks are refused");
            }
        }
        if self.follow.identity.as_deref() != Some(network.as_str()) {
            if !ctx.tracker.confirm_identity(&network) {
                warn!(chain, chain_id = %network, "saved state belonged to another chain id; it was dropped and the chain starts fresh");
                self.follow = FollowState {
                    extra: std::mem::take(&mut self.follow.extra),
                    ..FollowState::default()
                };
                self.rebuild_miss_log(&ctx.tracker, handles);
            } else {
                info!(chain, chain_id = %network, "chain identity confirmed");
            }
            self.follow.identity = Some(network);
        }
        let Some(head) = self.pool.head() else {
            return (false, false);
        };
        let now = unix_now();
        self.follow.stall.observe(head, latest_time, now);
        let stall_after = self.stall_after();
        let stalled = self.follow.stall.stalled(now, stall_after);
        if stalled != self.follow.stalled {
            if stalled {
                warn!(
                    chain,
                    head,
                    seconds = self.follow.stall.age(now).unwrap_or(0.0),
                    "CHAIN STALLED: no new block; nothing is recorded until blocks resume"
                );
                ctx.health.error("stalled");
            } else {
                info!(chain, head, "chain produces blocks again");
            }
            self.follow.stalled = stalled;
        }
        handles.stalled.set(if stalled { 1.0 } else { 0.0 });
        if let Some(age) = self.follow.stall.age(now) {
            handles.seconds_since_block.set(age);
        }
        handles.chain_height.set(head as f64);
        let sdk_due = self
            .sdk
            .last_refresh
            .is_none_or(|at| at.elapsed() >= Duration::from_secs(self.config.sdk_refresh_seconds));
        if sdk_due {
            self.refresh_sdk(ctx, handles).await;
        } else if self.read_keys_file(&ctx.tracker) && self.apply_keys(&ctx.tracker, handles) {
            self.publish_sdk(ctx, handles);
        }
        self.follow_heights(ctx, handles, head, earliest).await;
        // Every endpoint error of this cycle, also of endpoints that lost to a good answer.
        let failures = self.pool.take_failures();
        for failure in &failures {
            debug!(chain, error = %failure, "endpoint request failed");
        }
        self.count_errors(ctx, &failures);
        self.report_endpoints(ctx, handles);
        let last = ctx.tracker.checkpoint().0;
        ctx.health.set_progress(last, Some(head));
        let behind =
            self.follow.next.is_some_and(|n| n < head) && self.logs.last_height_failure.is_none();
        (true, behind)
    }
}

impl ChainWatcher for CosmosWatcher {
    fn family(&self) -> &'static str {
        "cosmos"
    }

    fn name(&self) -> &str {
        &self.config.name
    }

    fn register(&mut self, tracker: &ChainTracker) -> Result<(), WatchError> {
        let handles = self.register_handles(tracker)?;
        // Operator addresses resolved before the restart, until x/staking is read again.
        let remembered: OperatorAddresses = tracker
            .checkpoint()
            .1
            .get("operators")
            .and_then(serde_json::Value::as_object)
            .map(|map| {
                map.iter()
                    .filter_map(|(valoper, hex)| {
                        let addr = address::from_hex(hex.as_str()?).ok()?;
                        Some((valoper.clone(), Ok(addr)))
                    })
                    .collect()
            })
            .unwrap_or_default();
        if let Some(params) = tracker
            .checkpoint()
            .1
            .get("signed_blocks_window")
            .and_then(serde_json::Value::as_u64)
        {
            handles.window.set(params as f64);
        }
        self.keys.remembered = (!remembered.is_empty()).then_some(remembered);
        self.read_keys_file(tracker);
        self.apply_keys(tracker, &handles);
        self.handles = Some(handles);
        Ok(())
    }

    fn run<'a>(&'a mut self, ctx: &'a WatchContext) -> BoxFuture<'a, Result<(), WatchError>> {
        async move {
            let Some(handles) = self.handles.clone() else {
                return Err(WatchError::Fatal("run called before register".into()));
            };
            handles.newblock_up.set(0.0);
            // A trigger only: every height is still fetched over HTTP by `cycle`.
            let subscription = self.config.subscribe.then(|| {
                Subscription::start(
                    ctx.tracker.chain().to_string(),
                    self.pool
                        .clients()
                        .iter()
                        .map(|c| c.endpoint().clone())
                        .collect(),
                    self.config.request_timeout(),
                    handles.newblock_up.clone(),
                    ctx.cancel.clone(),
                )
            });
            loop {
                let (answered, behind) = self.cycle(ctx, &handles).await;
                if answered {
                    ctx.health.mark_ready();
                }
                let pause = if behind {
                    Duration::ZERO
                } else {
                    self.poll_interval()
                };
                if let Some(subscription) = &subscription {
                    subscription.set_silence_limit(newblock::silence_limit(
                        self.follow.block_time.seconds(),
                    ));
                }
                let woken = async {
                    match &subscription {
                        Some(subscription) => subscription.wake.notified().await,
                        None => std::future::pending().await,
                    }
                };
                tokio::select! {
                    _ = ctx.cancel.cancelled() => return Ok(()),
                    _ = tokio::time::sleep(pause) => {}
                    _ = woken => {}
                }
            }
        }
        .boxed()
    }
}
