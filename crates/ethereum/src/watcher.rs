//! The Ethereum [`ChainWatcher`]: follows the beacon nodes of one network and judges every
//! duty of the watched validators, epoch by epoch.
//!
//! One cycle, every poll interval (half a slot by default):
//!
//! 1. re-read the key file if it changed, re-resolve keys when due (new deposits, statuses);
//! 2. probe every endpoint (`valwatch_endpoint_up`, `valwatch_ethereum_endpoint_synced`);
//! 3. read the head; when it moved, cache the current epoch's proposer duties (some nodes
//!    serve them only while current) and, in `head` mode, check that the recently judged
//!    epochs still rest on the canonical chain, judging them again if a reorg changed it
//!    (never once the finalized checkpoint covers their inclusion window);
//! 4. judge, in order, every epoch that became judgeable since the checkpoint: in `head` mode
//!    epoch `e` once the head is [`REORG_GUARD_SLOTS`] past the last slot of `e + 1` (the end
//!    of its inclusion window), in `finalized` mode once `e + 1` is finalized. After a
//!    restart or an outage at most `backfill_epochs` epochs are caught up.
//!
//! Between cycles the watcher sleeps for the poll interval, or less: a `head`, `chain_reorg` or
//! `finalized_checkpoint` event on the Beacon API event stream ([`crate::events`], on unless
//! `events = false`) starts the next cycle at once. Events are only a trigger; everything is
//! still read over HTTP, and polling goes on unchanged while the stream is down.
//!
//! An epoch that cannot be fetched or analysed is never recorded: it is retried with backoff
//! and shows as lag (`valwatch_ethereum_epochs_behind`), never as a miss. Every failure is a
//! log line that says what happens next, and a `valwatch_watcher_errors_total{kind}` count.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::FutureExt;
use futures::future::BoxFuture;
use prometheus_client::metrics::counter::Counter;
use tokio::sync::Notify;
use tracing::{error, info, warn};
use valwatch_core::metrics::FloatGauge;
use valwatch_core::{
    Backoff, CancellationToken, ChainMetrics, ChainTracker, ChainWatcher, ConfigProblem, LabelMap,
    MetricsError, WatchContext, WatchError, parse_endpoints,
};

use crate::analysis::{AnalysisError, analyse_epoch};
use crate::beacon::EpochCommittees;
use crate::beacon::{BeaconError, ChainSpec, ProposerDuty};
use crate::client::{BeaconClient, ClientError};
use crate::compat::{decode_version, swaps_committee_fields};
use crate::config::{EthereumConfig, Mode};
use crate::duties::{
    DutyMetrics, EpochTally, proposals_from_blocks, record_epoch, slot_window, status_index,
};
use crate::events::EventStream;
use crate::fetch::{Anchor, Cached, FetchError, current_from_head, fetch_epoch, still_canonical};
use crate::keys::{
    KeySource, Resolution, Watched, all_set, grown_all_set, keyed_set, normalize_pubkey, resolve,
    watched_of,
};

/// Slots the head must be past the end of an epoch's inclusion window before the epoch is
/// judged in `head` mode: short reorgs of one or two blocks at the tip are common; deeper ones
/// are caught by the reorg check afterwards.
pub const REORG_GUARD_SLOTS: u64 = 2;

/// Epochs after their window's end during which judged epochs are re-checked for reorgs.
pub const REORG_RECHECK_EPOCHS: u64 = 2;

/// Seconds between endpoint probes at most: often enough for `endpoint_up` to follow an outage
/// within a few scrapes.
const PROBE_INTERVAL: Duration = Duration::from_secs(5);

/// Least time between the starts of two cycles when events wake the watcher (a node flooding
/// events must not turn into a flood of requests).
const MIN_CYCLE_GAP: Duration = Duration::from_millis(250);

/// The same failure is logged again at most this often (polls run every half slot).
const LOG_REPEAT: Duration = Duration::from_secs(60);

/// Builds the watcher of one configured network.
pub fn watcher(config: EthereumConfig) -> Result<Box<dyn ChainWatcher>, ConfigProblem> {
    config.validate()?;
    let endpoints = parse_endpoints("beacon", &config.beacon)?;
    let timeout = Duration::from_secs(config.request_timeout_seconds);
    let client_problem = |e: ClientError| ConfigProblem::new("beacon", e.to_string());
    let client = BeaconClient::new(endpoints.clone(), timeout, config.max_answer_bytes)
        .map_err(client_problem)?;
    let probes = endpoints
        .iter()
        .map(|e| {
            BeaconClient::new(
                vec![e.clone()],
                timeout.min(Duration::from_secs(10)),
                config.max_answer_bytes,
            )
        })
        .collect::<Result<Vec<_>, _>>()
        .map_err(client_problem)?;
    let mut keys = KeySource::new(
        config.validators.labels.clone(),
        config.validators.keys_file.clone(),
    );
    keys.reload_if_changed()
        .map_err(|e| ConfigProblem::new("validators.keys_file", e))?;
    Ok(Box::new(EthereumWatcher {
        config,
        client,
        probes,
        keys,
        duties: None,
        resolution: Resolution::default(),
    }))
}

struct EthereumWatcher {
    config: EthereumConfig,
    client: BeaconClient,
    /// One single-endpoint client per endpoint, for health probes.
    probes: Vec<BeaconClient>,
    keys: KeySource,
    duties: Option<DutyMetrics>,
    resolution: Resolution,
}

/// Chain-level metrics of the Ethereum watcher.
struct ChainGauges {
    metrics: ChainMetrics,
    duration: FloatGauge,
    behind: FloatGauge,
    epochs: Counter,
    reanalysed: Counter,
    skipped_unavailable: Counter,
    skipped_too_old: Counter,
    no_duties: Counter,
    unresolved: FloatGauge,
    resolved: FloatGauge,
}

impl ChainGauges {
    /// Sets the last judged epoch; the series appears only then, so an unknown epoch is never
    /// shown as 0.
    fn set_last_epoch(&self, epoch: u64) {
        if let Ok(gauge) = self.metrics.gauge(
            "ethereum_last_analysed_epoch",
            "Newest epoch whose duties were judged.",
            &[],
        ) {
            gauge.set(epoch as f64);
        }
    }

    fn new(m: &ChainMetrics) -> Result<Self, MetricsError> {
        let skipped = "Epochs never judged: reason too_old (beyond backfill_epochs after an \
                       outage) or unavailable (the node no longer serves them).";
        Ok(ChainGauges {
            metrics: m.clone(),
            duration: m.gauge(
                "ethereum_analysis_duration_seconds",
                "Seconds the last epoch took to fetch, analyse and record.",
                &[],
            )?,
            behind: m.gauge(
                "ethereum_epochs_behind",
                "Judgeable epochs not judged yet (0 when caught up).",
                &[],
            )?,
            epochs: m.counter(
                "ethereum_epochs_analysed",
                "Epochs judged (a re-judged epoch after a reorg counts again).",
                &[],
            )?,
            reanalysed: m.counter(
                "ethereum_epochs_reanalysed",
                "Epochs judged again because a reorg changed the blocks their verdict rests on.",
                &[],
            )?,
            skipped_unavailable: m.counter(
                "ethereum_epochs_skipped",
                skipped,
                &[("reason", "unavailable")],
            )?,
            skipped_too_old: m.counter(
                "ethereum_epochs_skipped",
                skipped,
                &[("reason", "too_old")],
            )?,
            no_duties: m.counter(
                "ethereum_epochs_without_proposer_duties",
                "Epochs judged without proposer duties (the node no longer served them): blocks \
                 proposed were credited, missed proposals could not be judged.",
                &[],
            )?,
            unresolved: m.gauge(
                "ethereum_keys_unresolved",
                "Watched keys the beacon node does not know (not deposited yet, or a typo).",
                &[],
            )?,
            resolved: m.gauge(
                "ethereum_keys_resolved",
                "Watched keys resolved to a validator index.",
                &[],
            )?,
        })
    }
}

/// The kind label of a client error (a small fixed set).
fn client_kind(error: &ClientError) -> &'static str {
    match error {
        ClientError::NoEndpoint | ClientError::Failed { .. } => "endpoint",
        ClientError::TooLarge { .. } => "answer",
        ClientError::Decode {
            source: BeaconError::UnknownFork(_),
            ..
        } => "unknown_fork",
        ClientError::Decode { .. } => "answer",
        ClientError::NotFound { .. } => "not_found",
    }
}

enum EpochError {
    Fetch(FetchError),
    Analysis(AnalysisError),
}

impl std::fmt::Display for EpochError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            EpochError::Fetch(e) => write!(f, "{}", valwatch_core::error_chain(e)),
            EpochError::Analysis(e) => write!(f, "{e}"),
        }
    }
}

impl EpochError {
    fn kind(&self) -> &'static str {
        match self {
            EpochError::Fetch(FetchError::Client(e)) => client_kind(e),
            EpochError::Fetch(FetchError::Inconsistent { .. }) => "reorg",
            EpochError::Analysis(_) => "analysis",
        }
    }

    fn not_found(&self) -> bool {
        matches!(
            self,
            EpochError::Fetch(FetchError::Client(ClientError::NotFound { .. }))
        )
    }
}

/// Data kept across cycles of one run, and in the checkpoint.
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
struct Saved {
    /// Proposer duties cached while their epoch was current, by epoch.
    #[serde(default)]
    proposer_duties: BTreeMap<u64, Vec<(u64, u64)>>,
    /// What the recently judged epochs rest on.
    #[serde(default)]
    anchors: VecDeque<Anchor>,
}

struct Live {
    spec: ChainSpec,
    /// The node swaps the fields of committees answers (Lodestar 1.x, see `compat`).
    swapped: bool,
    /// Committees and sync committees read while their epoch was current (memory only).
    committees: BTreeMap<u64, EpochCommittees>,
    sync_committees: BTreeMap<u64, Vec<u64>>,
    gauges: ChainGauges,
    checkpoint: Option<u64>,
    saved: Saved,
    watched: Watched,
    /// Labels the current validator set was built from.
    applied: Option<LabelMap>,
    last_head: Option<([u8; 32], [u8; 32])>,
    next_probe: Instant,
    next_key_refresh: Instant,
    retry: Option<(u64, Instant)>,
    backoff: Backoff,
    probe_up: HashMap<usize, bool>,
    last_log: HashMap<&'static str, (String, Instant)>,
}

impl Live {
    /// Whether a failure of `topic` with `message` should be logged now (new, or not logged
    /// for a while).
    fn should_log(&mut self, topic: &'static str, message: &str) -> bool {
        let now = Instant::now();
        match self.last_log.get(topic) {
            Some((last, at)) if last == message && now.duration_since(*at) < LOG_REPEAT => false,
            _ => {
                self.last_log.insert(topic, (message.to_string(), now));
                true
            }
        }
    }

    fn recovered(&mut self, topic: &'static str) -> bool {
        self.last_log.remove(topic).is_some()
    }

    fn extra(&self) -> serde_json::Value {
        serde_json::to_value(&self.saved).unwrap_or(serde_json::Value::Null)
    }
}

impl EthereumWatcher {
    fn chain(&self) -> &str {
        &self.config.name
    }

    fn poll_interval(&self, spec: &ChainSpec) -> Duration {
        match self.config.poll_interval_seconds {
            Some(seconds) => Duration::from_secs(seconds),
            None => Duration::from_millis((spec.seconds_per_slot * 500).max(500)),
        }
    }

    /// Startup: identity, spec, windows, restored checkpoint, keys.
    async fn start(&mut self, ctx: &WatchContext) -> Result<Live, WatchError> {
        let gauges = ChainGauges::new(ctx.tracker.metrics())?;
        let mut live_probe_up = HashMap::new();
        self.probe(ctx, &mut live_probe_up).await;
        let failed = |what: &str, e: ClientError| {
            ctx.health.error(client_kind(&e));
            warn!(chain = %self.config.name, error = %valwatch_core::error_chain(&e), "cannot read the {what}: every beacon endpoint is unreachable or failing; retrying after a backoff");
            WatchError::retryable(e)
        };
        let genesis = self
            .client
            .genesis()
            .await
            .map_err(|e| failed("genesis", e))?;
        if !ctx
            .tracker
            .confirm_identity(&genesis.genesis_validators_root)
        {
            ctx.health.error("identity");
            error!(
                chain = %self.config.name,
                genesis_validators_root = %genesis.genesis_validators_root,
                "THE BEACON NODES SERVE ANOTHER NETWORK than the saved state: the saved windows, \
                 counters and checkpoint were dropped and watching starts afresh. Check the \
                 `beacon` URLs of this chain if this is unexpected."
            );
        }
        let spec = self.client.spec().await.map_err(|e| failed("spec", e))?;
        let duties = self
            .duties
            .ok_or_else(|| WatchError::Fatal("run before register".into()))?;
        let window = slot_window(spec.slots_per_epoch);
        ctx.tracker.resize_duty(duties.proposal, window);
        ctx.tracker.resize_duty(duties.sync, window);
        let (checkpoint, extra) = ctx.tracker.checkpoint();
        let saved: Saved = serde_json::from_value(extra).unwrap_or_default();
        if let Some(epoch) = checkpoint {
            gauges.set_last_epoch(epoch);
            ctx.health.set_progress(Some(epoch), None);
            info!(chain = %self.config.name, epoch, "resuming after the last judged epoch");
        }
        let version = self
            .client
            .get_with("/eth/v1/node/version", decode_version)
            .await
            .ok()
            .flatten()
            .unwrap_or_default();
        let swapped = swaps_committee_fields(&version);
        if swapped {
            info!(chain = %self.config.name, %version, "this node swaps index and slot in committees answers; reading them back (checked against the standard checks)");
        }
        let now = Instant::now();
        let mut live = Live {
            spec,
            swapped,
            committees: BTreeMap::new(),
            sync_committees: BTreeMap::new(),
            gauges,
            checkpoint,
            saved,
            watched: Watched::default(),
            applied: None,
            last_head: None,
            next_probe: now + PROBE_INTERVAL,
            next_key_refresh: now,
            retry: None,
            backoff: Backoff::new(Duration::from_secs(1), Duration::from_secs(60)),
            probe_up: live_probe_up,
            last_log: HashMap::new(),
        };
        if self.config.watch_all {
            // The set follows the committees; restore the indices the tracker already watches.
            let set = ctx.tracker.validators();
            live.watched = watched_of(&set, &HashMap::new(), true);
        }
        self.refresh_keys(ctx, &mut live).await;
        Ok(live)
    }

    /// Probes every endpoint's `/eth/v1/node/syncing`.
    async fn probe(&self, ctx: &WatchContext, up: &mut HashMap<usize, bool>) {
        for (i, probe) in self.probes.iter().enumerate() {
            let endpoint = &probe.endpoints()[0];
            let synced = ctx
                .tracker
                .metrics()
                .gauge(
                    "ethereum_endpoint_synced",
                    "1 if the beacon endpoint answered and reports itself synced, else 0.",
                    &[("endpoint", endpoint.name())],
                )
                .ok();
            let result = probe.syncing().await;
            let ok = result.is_ok();
            ctx.health.endpoint_up(endpoint, ok);
            if let Some(gauge) = synced {
                let value = matches!(&result, Ok(s) if !s.is_syncing);
                gauge.set(if value { 1.0 } else { 0.0 });
            }
            let was = up.insert(i, ok);
            match result {
                Ok(_) if was == Some(false) => {
                    info!(chain = %self.config.name, %endpoint, "beacon endpoint answers again")
                }
                Ok(_) => {}
                Err(e) => {
                    ctx.health.error(client_kind(&e));
                    if was != Some(false) {
                        warn!(chain = %self.config.name, %endpoint, error = %valwatch_core::error_chain(&e), "beacon endpoint unreachable or failing; requests go to the other endpoints, probing again in a few seconds");
                    }
                }
            }
        }
    }

    /// Re-reads the key file if it changed and resolves keys when due or changed.
    async fn refresh_keys(&mut self, ctx: &WatchContext, live: &mut Live) {
        let changed = match self.keys.reload_if_changed() {
            Ok(changed) => {
                if live.recovered("keys_file") {
                    info!(chain = %self.config.name, "key file readable again");
                }
                if changed {
                    info!(chain = %self.config.name, "key file changed; applying the new keys");
                }
                changed
            }
            Err(message) => {
                ctx.health.error("keys");
                if live.should_log("keys_file", &message) {
                    error!(chain = %self.config.name, error = %message, "cannot use the key file; the previous keys stay watched until it is fixed");
                }
                false
            }
        };
        if !changed && Instant::now() < live.next_key_refresh {
            return;
        }
        let labels = self.keys.labels();
        let mut asked: Vec<String> = labels
            .values()
            .flatten()
            .filter_map(|k| normalize_pubkey(k).ok())
            .collect();
        asked.sort_unstable();
        asked.dedup();
        let retry_soon = Duration::from_secs(30).min(self.key_refresh());
        if !asked.is_empty() {
            match self.client.validators("head", &asked).await {
                Ok(entries) => {
                    let resolution = resolve(&asked, &entries);
                    if !resolution.unresolved.is_empty()
                        && resolution.unresolved != self.resolution.unresolved
                    {
                        let shown: Vec<&str> = resolution
                            .unresolved
                            .iter()
                            .take(5)
                            .map(String::as_str)
                            .collect();
                        warn!(chain = %self.config.name, count = resolution.unresolved.len(), first = ?shown, "keys unknown to the beacon node (not deposited yet, or wrong): not watched until they appear; re-checked every key_refresh_seconds");
                    }
                    live.gauges
                        .unresolved
                        .set(resolution.unresolved.len() as f64);
                    live.gauges.resolved.set(resolution.index_of.len() as f64);
                    self.resolution = resolution;
                    live.next_key_refresh = Instant::now() + self.key_refresh();
                    live.recovered("keys_resolve");
                }
                Err(e) => {
                    ctx.health.error(client_kind(&e));
                    let message = valwatch_core::error_chain(&e);
                    if live.should_log("keys_resolve", &message) {
                        warn!(chain = %self.config.name, error = %message, "cannot resolve keys to validator indices; retrying in {retry_soon:?}");
                    }
                    live.next_key_refresh = Instant::now() + retry_soon;
                    if live.applied.is_some() {
                        return;
                    }
                }
            }
        } else {
            live.next_key_refresh = Instant::now() + self.key_refresh();
            live.gauges.unresolved.set(0.0);
            live.gauges.resolved.set(0.0);
        }
        self.apply_keys(ctx, live, &labels, None);
    }

    fn key_refresh(&self) -> Duration {
        Duration::from_secs(self.config.key_refresh_seconds)
    }

    /// Rebuilds the validator set when the labels (or, in `watch_all` mode, the committee
    /// members) changed, and sets key statuses.
    fn apply_keys(
        &mut self,
        ctx: &WatchContext,
        live: &mut Live,
        labels: &LabelMap,
        new_members: Option<&[u64]>,
    ) {
        let all = self.config.watch_all;
        if all
            && live.applied.as_ref() == Some(labels)
            && let Some(fresh) = new_members
        {
            let current = ctx.tracker.validators();
            let grown = grown_all_set(
                &current,
                &self.resolution.index_of,
                fresh,
                &self.config.series,
            );
            if let Some(set) = grown {
                for (offset, index) in fresh.iter().enumerate() {
                    live.watched.insert(
                        *index,
                        (current.len() + offset) as valwatch_core::ValidatorId,
                    );
                }
                ctx.tracker.set_validators(set);
                return;
            }
        }
        let rebuild = live.applied.as_ref() != Some(labels) || new_members.is_some();
        if rebuild {
            let built = if all {
                let mut indices: Vec<u64> = live.watched.iter().map(|(i, _)| i).collect();
                indices.extend(self.resolution.index_of.values().copied());
                indices.extend(new_members.unwrap_or(&[]).iter().copied());
                indices.sort_unstable();
                indices.dedup();
                all_set(
                    labels,
                    &self.resolution.index_of,
                    &indices,
                    &self.config.series,
                )
            } else {
                keyed_set(labels, &self.config.series)
            };
            match built {
                Ok(set) => {
                    ctx.tracker.set_validators(set);
                    live.applied = Some(labels.clone());
                }
                Err(message) => {
                    ctx.health.error("keys");
                    error!(chain = %self.config.name, error = %message, "the watched keys are invalid; keeping the previous set");
                }
            }
        }
        let set = ctx.tracker.validators();
        live.watched = watched_of(&set, &self.resolution.index_of, all);
        let Some(duties) = self.duties else { return };
        let mut update = ctx.tracker.update();
        for (key, status) in &self.resolution.status_of {
            let id = if all {
                self.resolution
                    .index_of
                    .get(key)
                    .and_then(|i| set.id_of(&i.to_string()))
            } else {
                set.id_of(key)
            };
            if let Some(id) = id {
                update.set_category(duties.status, id, Some(status_index(*status)));
            }
        }
    }

    /// Caches the proposer duties, committees and sync committee of the head's epoch while the
    /// node still serves them (some nodes keep only the last few epoch-boundary states).
    async fn cache_duties(&self, ctx: &WatchContext, live: &mut Live, head_epoch: u64) {
        if !live.committees.contains_key(&head_epoch) {
            let (committees, sync) =
                current_from_head(&self.client, &live.spec, head_epoch, live.swapped).await;
            match committees {
                Ok(committees) => {
                    live.committees.insert(head_epoch, committees);
                }
                Err(e) => {
                    let message = valwatch_core::error_chain(&e);
                    if live.should_log("current_committees", &message) {
                        warn!(chain = %self.config.name, epoch = head_epoch, error = %message, "cannot read the current committees from the head state; they will be asked for from past states when the epoch is judged");
                    }
                }
            }
            if let Some(sync) = sync {
                live.sync_committees.insert(head_epoch, sync);
            }
            // Epochs are judged two epochs after they were current; keep a few more for reorgs.
            let keep_from = head_epoch.saturating_sub(REORG_RECHECK_EPOCHS + 4);
            live.committees.retain(|e, _| *e >= keep_from);
            live.sync_committees.retain(|e, _| *e >= keep_from);
        }
        if live.saved.proposer_duties.contains_key(&head_epoch) {
            return;
        }
        match self
            .client
            .proposer_duties(head_epoch, live.spec.slots_per_epoch)
            .await
        {
            Ok(duties) => {
                live.saved.proposer_duties.insert(
                    head_epoch,
                    duties.iter().map(|d| (d.slot, d.validator_index)).collect(),
                );
            }
            Err(e) => {
                ctx.health.error(client_kind(&e));
                let message = valwatch_core::error_chain(&e);
                if live.should_log("duties", &message) {
                    warn!(chain = %self.config.name, epoch = head_epoch, error = %message, "cannot read the current proposer duties; if the node stops serving them, missed proposals of this epoch cannot be judged");
                }
            }
        }
    }

    /// Fetches, analyses and records `epoch`.
    async fn judge(
        &mut self,
        ctx: &WatchContext,
        live: &mut Live,
        epoch: u64,
    ) -> Result<EpochTally, EpochError> {
        let started = Instant::now();
        let spe = live.spec.slots_per_epoch;
        let cached = Cached {
            proposer_duties: live.saved.proposer_duties.get(&epoch).map(|d| {
                d.iter()
                    .map(|(slot, index)| ProposerDuty {
                        slot: *slot,
                        validator_index: *index,
                    })
                    .collect()
            }),
            committees: live.committees.get(&epoch).cloned(),
            sync_committee: live.sync_committees.get(&epoch).cloned(),
        };
        let fetched = fetch_epoch(&self.client, &live.spec, epoch, cached, live.swapped)
            .await
            .map_err(EpochError::Fetch)?;
        let analysis =
            analyse_epoch(&live.spec, &fetched.data.input()).map_err(EpochError::Analysis)?;
        if self.config.watch_all {
            let mut fresh: Vec<u64> = analysis
                .committees
                .members()
                .iter()
                .map(|m| u64::from(*m))
                .filter(|m| live.watched.get(*m).is_none())
                .collect();
            if !fresh.is_empty() {
                fresh.sort_unstable();
                fresh.dedup();
                let labels = self.keys.labels();
                self.apply_keys(ctx, live, &labels, Some(&fresh));
            }
        }
        let proposals = (!fetched.duties_known).then(|| {
            live.gauges.no_duties.inc();
            proposals_from_blocks(&fetched.data.blocks, epoch * spe..(epoch + 1) * spe)
        });
        if let Some(anchor) = fetched.anchor {
            live.saved.anchors.retain(|a| a.epoch != epoch);
            live.saved.anchors.push_back(anchor);
            live.saved
                .anchors
                .make_contiguous()
                .sort_by_key(|a| a.epoch);
            while live.saved.anchors.len() > (REORG_RECHECK_EPOCHS + 2) as usize {
                live.saved.anchors.pop_front();
            }
        }
        let checkpoint = live.checkpoint.map_or(epoch, |c| c.max(epoch));
        let keep_from = checkpoint.saturating_sub(REORG_RECHECK_EPOCHS + 1);
        live.saved.proposer_duties.retain(|e, _| *e >= keep_from);
        let extra = live.extra();
        let tally = {
            let Some(duties) = self.duties else {
                return Err(EpochError::Analysis(AnalysisError::Phase0(epoch)));
            };
            let mut update = ctx.tracker.update();
            let tally = record_epoch(
                &mut update,
                &duties,
                &analysis,
                proposals.as_deref(),
                &live.watched,
            );
            update.set_checkpoint(checkpoint, extra);
            tally
        };
        live.checkpoint = Some(checkpoint);
        live.gauges.epochs.inc();
        live.gauges.set_last_epoch(checkpoint);
        live.gauges.duration.set(started.elapsed().as_secs_f64());
        ctx.health.set_progress(Some(checkpoint), None);
        info!(
            chain = %self.config.name,
            epoch,
            attesters = tally.attesters,
            missed_attestations = tally.missed_attestations,
            proposals = tally.proposals,
            missed_proposals = tally.missed_proposals,
            sync_duties = tally.sync_duties,
            missed_sync = tally.missed_sync,
            proposer_duties = fetched.duties_known,
            sync_committee = fetched.sync_known,
            seconds = started.elapsed().as_secs_f64(),
            "epoch judged"
        );
        Ok(tally)
    }

    /// Re-judges recently judged epochs whose blocks a reorg changed.
    async fn check_reorgs(&mut self, ctx: &WatchContext, live: &mut Live, head_slot: u64) {
        let spe = live.spec.slots_per_epoch;
        let mut recent: Vec<Anchor> = live
            .saved
            .anchors
            .iter()
            .filter(|a| head_slot <= a.range_end + REORG_RECHECK_EPOCHS * spe)
            .copied()
            .collect();
        if recent.is_empty() {
            return;
        }
        // A finalized range cannot be reorged: an endpoint serving other blocks for it is not
        // on the canonical chain, so its verdicts stay. Unknown finality checks them all.
        match self.client.finality("head").await {
            Ok(finality) => {
                let finalized = finality.finalized.epoch;
                live.saved.anchors.retain(|a| !a.is_final(finalized, spe));
                recent.retain(|a| !a.is_final(finalized, spe));
            }
            Err(e) => {
                ctx.health.error(client_kind(&e));
                let message = valwatch_core::error_chain(&e);
                if live.should_log("finality", &message) {
                    warn!(chain = %self.config.name, error = %message, "cannot read the finalized checkpoint; checking every recent epoch for reorgs");
                }
            }
        }
        for anchor in recent {
            match still_canonical(&self.client, &anchor).await {
                Ok(true) => {}
                Ok(false) => {
                    warn!(chain = %self.config.name, epoch = anchor.epoch, "a reorg changed the blocks epoch {} was judged on; judging it again", anchor.epoch);
                    match self.judge(ctx, live, anchor.epoch).await {
                        Ok(tally) => {
                            live.gauges.reanalysed.inc();
                            if tally.changed > 0 {
                                info!(chain = %self.config.name, epoch = anchor.epoch, changed = tally.changed, "verdicts changed by the reorg");
                            }
                        }
                        Err(e) => {
                            ctx.health.error(e.kind());
                            warn!(chain = %self.config.name, epoch = anchor.epoch, error = %e, "re-judging after a reorg failed; checking again at the next head");
                        }
                    }
                }
                Err(e) => {
                    ctx.health.error(client_kind(&e));
                    let message = valwatch_core::error_chain(&e);
                    if live.should_log("reorg_check", &message) {
                        warn!(chain = %self.config.name, error = %message, "cannot check recent epochs for reorgs; checking again at the next head");
                    }
                }
            }
        }
    }

    /// The newest judgeable epoch, `None` while none is (a young chain).
    async fn newest_judgeable(
        &self,
        ctx: &WatchContext,
        live: &mut Live,
        head_slot: u64,
    ) -> Result<Option<u64>, ()> {
        let spe = live.spec.slots_per_epoch;
        match self.config.mode {
            Mode::Head => Ok((head_slot + 1)
                .checked_sub(REORG_GUARD_SLOTS)
                .and_then(|s| (s / spe).checked_sub(2))),
            Mode::Finalized => match self.client.finality("head").await {
                Ok(finality) => Ok(finality.finalized.epoch.checked_sub(2)),
                Err(e) => {
                    ctx.health.error(client_kind(&e));
                    let message = valwatch_core::error_chain(&e);
                    if live.should_log("finality", &message) {
                        warn!(chain = %self.config.name, error = %message, "cannot read the finalized checkpoint; retrying at the next poll");
                    }
                    Err(())
                }
            },
        }
    }

    /// One poll cycle.
    async fn cycle(&mut self, ctx: &WatchContext, live: &mut Live) {
        self.refresh_keys(ctx, live).await;
        if Instant::now() >= live.next_probe {
            let mut up = std::mem::take(&mut live.probe_up);
            self.probe(ctx, &mut up).await;
            live.probe_up = up;
            live.next_probe = Instant::now() + PROBE_INTERVAL;
        }
        let head = match self.client.head_header().await {
            Ok(head) => {
                if live.recovered("head") {
                    info!(chain = %self.config.name, slot = head.slot, "head readable again");
                }
                head
            }
            Err(e) => {
                ctx.health.error(client_kind(&e));
                let message = valwatch_core::error_chain(&e);
                if live.should_log("head", &message) {
                    warn!(chain = %self.config.name, error = %message, "cannot read the head from any beacon endpoint; no epoch is judged until it answers (retrying every poll)");
                }
                return;
            }
        };
        let spe = live.spec.slots_per_epoch;
        // Both in epochs, so that chain_lag_units is the number of epochs not yet judged (at
        // least 2 in head mode: epoch e is judged once e+1 is complete).
        ctx.health
            .set_progress(live.checkpoint, Some(head.slot / spe));
        let moved = live.last_head.map(|(root, _)| root) != Some(head.root);
        if moved {
            self.cache_duties(ctx, live, head.slot / spe).await;
            let linear = live
                .last_head
                .is_none_or(|(root, _)| root == head.parent_root);
            if !linear && self.config.mode == Mode::Head {
                self.check_reorgs(ctx, live, head.slot).await;
            }
            live.last_head = Some((head.root, head.parent_root));
        }
        let Ok(newest) = self.newest_judgeable(ctx, live, head.slot).await else {
            return;
        };
        let Some(newest) = newest else {
            // The chain is too young for a complete epoch: the first head read is a cycle.
            live.gauges.behind.set(0.0);
            ctx.health.mark_ready();
            return;
        };
        let mut next = live.checkpoint.map_or(newest, |c| c + 1);
        if next > newest {
            live.gauges.behind.set(0.0);
            ctx.health.mark_ready();
            return;
        }
        let backfill = self.config.backfill_epochs.max(1);
        if newest + 1 - next > backfill {
            let from = newest + 1 - backfill;
            warn!(chain = %self.config.name, skipped_from = next, skipped_to = from - 1, backfill_epochs = self.config.backfill_epochs, "too far behind: epochs {next}..{} are not judged (raise backfill_epochs to catch up further)", from - 1);
            live.gauges.skipped_too_old.inc_by(from - next);
            next = from;
        }
        for epoch in next..=newest {
            if ctx.cancel.is_cancelled() {
                return;
            }
            live.gauges.behind.set((newest + 1 - epoch) as f64);
            if let Some((retry_epoch, at)) = live.retry {
                if retry_epoch == epoch && Instant::now() < at {
                    return;
                }
            }
            match self.judge(ctx, live, epoch).await {
                Ok(_) => {
                    live.retry = None;
                    live.backoff.reset();
                    live.gauges.behind.set((newest - epoch) as f64);
                    ctx.health.mark_ready();
                }
                Err(e) if e.not_found() && epoch < newest => {
                    ctx.health.error("not_found");
                    warn!(chain = %self.config.name, epoch, error = %e, "the beacon node no longer serves this epoch (pruned state?): it is skipped and never judged; use an archive node to back-fill further");
                    live.gauges.skipped_unavailable.inc();
                    live.checkpoint = Some(epoch);
                    let extra = live.extra();
                    ctx.tracker.update().set_checkpoint(epoch, extra);
                }
                Err(e) => {
                    ctx.health.error(e.kind());
                    let delay = live.backoff.next_delay();
                    warn!(chain = %self.config.name, epoch, error = %e, "epoch not judged (nothing recorded for it); retrying in {delay:?}");
                    live.retry = Some((epoch, Instant::now() + delay));
                    return;
                }
            }
        }
    }
}

impl EthereumWatcher {
    /// Starts the event stream task (unless `events = false`); it stops when the returned
    /// token is cancelled, or with the context.
    fn spawn_events(
        &self,
        ctx: &WatchContext,
        spec: &ChainSpec,
        wake: &Arc<Notify>,
    ) -> Option<CancellationToken> {
        if !self.config.events {
            return None;
        }
        let first_byte =
            Duration::from_secs(self.config.request_timeout_seconds).min(Duration::from_secs(10));
        // A head event comes every slot; silence for a few epochs means a dead connection.
        let idle = Duration::from_secs(
            self.config
                .events_idle_timeout_seconds
                .unwrap_or((spec.seconds_per_slot * spec.slots_per_epoch * 2).max(120)),
        );
        let stream = match EventStream::new(
            &self.config.name,
            self.client.endpoints().to_vec(),
            first_byte,
            idle,
        ) {
            Ok(stream) => stream,
            Err(message) => {
                ctx.health.error("events");
                warn!(chain = %self.config.name, error = %message, "cannot start the beacon event stream; polling only");
                return None;
            }
        };
        let token = ctx.cancel.child_token();
        tokio::spawn(stream.run(wake.clone(), ctx.health.clone(), token.clone()));
        Some(token)
    }
}

impl ChainWatcher for EthereumWatcher {
    fn family(&self) -> &'static str {
        "ethereum"
    }

    fn name(&self) -> &str {
        self.chain()
    }

    fn register(&mut self, tracker: &ChainTracker) -> Result<(), WatchError> {
        if self.duties.is_none() {
            // Mainnet's 32 slots per epoch until the node's spec is read.
            self.duties = Some(DutyMetrics::register(tracker, 32)?);
        }
        Ok(())
    }

    fn run<'a>(&'a mut self, ctx: &'a WatchContext) -> BoxFuture<'a, Result<(), WatchError>> {
        async move {
            let mut live = self.start(ctx).await?;
            let interval = self.poll_interval(&live.spec);
            info!(
                chain = %self.config.name,
                mode = ?self.config.mode,
                watched = live.watched.len(),
                poll = ?interval,
                slots_per_epoch = live.spec.slots_per_epoch,
                "following the beacon chain"
            );
            let wake = Arc::new(Notify::new());
            // Cancelled with the context, and when this future ends or is dropped.
            let _stream_guard = self
                .spawn_events(ctx, &live.spec, &wake)
                .map(|t| t.drop_guard());
            loop {
                let started = tokio::time::Instant::now();
                self.cycle(ctx, &mut live).await;
                tokio::select! {
                    _ = ctx.cancel.cancelled() => return Ok(()),
                    _ = tokio::time::sleep(interval) => {}
                    _ = wake.notified() => {
                        // An event: poll now, but never more often than MIN_CYCLE_GAP.
                        tokio::select! {
                            _ = ctx.cancel.cancelled() => return Ok(()),
                            _ = tokio::time::sleep_until(started + MIN_CYCLE_GAP) => {}
                        }
                    }
                }
            }
        }
        .boxed()
    }
}
