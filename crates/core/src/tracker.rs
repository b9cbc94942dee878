//! Per-chain tracking: miss windows, grouped counters and gauges, and the checkpoint.
//!
//! A watcher registers its duties (each with a [`crate::WindowTable`]), its counters and its
//! gauges once, then reports observations through an [`Update`]. The tracker turns them into
//! metrics with bounded cardinality: one series per label group (always, including the implicit
//! `all` group) and one per validator only for the validators the [`ValidatorSet`] allows.
//!
//! Everything a restart must not lose (windows, counters, the last processed unit and the
//! watcher's own checkpoint data) is captured by [`ChainTracker::snapshot`] and given back by
//! [`ChainTracker::restore`]. Counters move only when a window learns a unit for the first
//! time, so re-processing a unit after a restart never counts it twice.

use std::collections::HashMap;
use std::io::{Seek, Write};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use prometheus_client::metrics::counter::Counter;

use crate::duty_windows::DutyWindows;
use crate::labels::{ValidatorId, ValidatorSet};
use crate::metrics::{
    ChainMetrics, CounterFamily, FloatGauge, GaugeFamily, LabelPairs, MetricsError,
};
use crate::saved::SavedWindows;
use crate::state::{ChainSnapshot, CounterSnapshot, DutySnapshot, SnapshotEncoder};
use crate::window::{MissWindow, RecordOutcome, WindowParts, WindowPartsRef, WindowStats};

/// How a duty gauge's value is read off a validator's window counts.
/// Handle of a registered duty.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DutyId(usize);
/// Handle of a registered grouped counter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CounterId(usize);
/// Handle of a registered grouped gauge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GaugeId(usize);
/// Handle of a registered category gauge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CategoryId(usize);

/// How a gauge is summarised per group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Aggregate {
    /// Sum over the group, family `<name>`.
    Sum,
    /// Largest value in the group, family `<name>_max`.
    Max,
    /// Smallest value in the group, family `<name>_min`.
    Min,
}

impl Aggregate {
    fn family_name(self, name: &str) -> String {
        match self {
            Aggregate::Sum => name.to_string(),
            Aggregate::Max => format!("{name}_max"),
            Aggregate::Min => format!("{name}_min"),
        }
    }

    fn describe(self) -> &'static str {
        match self {
            Aggregate::Sum => "Summed over the validators of each group",
            Aggregate::Max => "The largest value among the validators of each group",
            Aggregate::Min => "The smallest value among the validators of each group",
        }
    }
}

/// Counter series of one grouped counter, bound to the current validator set.
struct GroupedCounter {
    name: String,
    group_family: CounterFamily,
    validator_family: CounterFamily,
    extra: LabelPairs,
    groups: Vec<Counter>,
    own: Vec<Counter>,
}

/// Gauge series of one grouped gauge.
struct GroupedGauge {
    aggregates: Vec<(Aggregate, GaugeFamily, Vec<FloatGauge>)>,
    validator_family: GaugeFamily,
    extra: LabelPairs,
    own: Vec<FloatGauge>,
    /// Per-validator values; NaN means "no value" and is left out of aggregates. Empty for a
    /// gauge derived from a duty's windows, whose values are computed when published.
    values: Vec<f64>,
    derived: bool,
    dirty: bool,
}

/// Counts of validators per group and per category (for example per key status).
struct CategoryGauge {
    family: GaugeFamily,
    validator_family: GaugeFamily,
    label_key: &'static str,
    categories: Vec<&'static str>,
    /// Category index per validator, `u8::MAX` = none.
    values: Vec<u8>,
    dirty: bool,
    /// The series this tracker created in the two families (which other chains share), so
    /// that those no longer wanted, and only those, are removed.
    published: Vec<(bool, LabelPairs)>,
}

struct Duty {
    name: String,
    table: DutyWindows,
    performed: CounterId,
    missed: CounterId,
    window_missed: GaugeId,
    consecutive: GaugeId,
    uptime: GaugeId,
    missing: GaugeId,
    dirty: bool,
}

struct State {
    set: Arc<ValidatorSet>,
    duties: Vec<Duty>,
    counters: Vec<GroupedCounter>,
    gauges: Vec<GroupedGauge>,
    categories: Vec<CategoryGauge>,
    identity: Option<String>,
    checkpoint: Option<u64>,
    extra: serde_json::Value,
    /// Values from a snapshot that wait for their series to be bound.
    /// Windows read back from the state file, by duty, for keys not yet in the set (a
    /// `watch_all` set is only complete once the first epoch is judged). Persisted with the
    /// tracker's own until the first observation after the restart, then dropped.
    saved_windows: HashMap<String, SavedWindows>,
    saved_counters: HashMap<(String, String), u64>,
}

/// Tracking of one chain. Shared between the watcher, the state saver and the HTTP server.
pub struct ChainTracker {
    family: String,
    metrics: ChainMetrics,
    state: Mutex<State>,
}

impl std::fmt::Debug for ChainTracker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChainTracker")
            .field("family", &self.family)
            .field("chain", &self.metrics.chain())
            .finish_non_exhaustive()
    }
}

fn bind_counter(
    counter: &mut GroupedCounter,
    set: &ValidatorSet,
    chain: &str,
    saved: &mut HashMap<(String, String), u64>,
) {
    let labels = |key: &'static str, value: &str| -> LabelPairs {
        let mut labels = vec![("chain", chain.to_string()), (key, value.to_string())];
        labels.extend(counter.extra.iter().cloned());
        labels
    };
    let restore = |series: Counter, id: String, saved: &mut HashMap<(String, String), u64>| {
        if let Some(value) = saved.remove(&(counter.name.clone(), id)) {
            if value > series.get() {
                series.inc_by(value - series.get());
            }
        }
        series
    };
    counter.groups = (0..set.group_count())
        .map(|g| {
            let name = set.group_name(g as u16);
            let series = counter
                .group_family
                .get_or_create_owned(&labels("group", name));
            restore(series, format!("group:{name}"), saved)
        })
        .collect();
    counter.own = set
        .own_series_ids()
        .iter()
        .map(|id| {
            let key = set.key(*id);
            let series = counter
                .validator_family
                .get_or_create_owned(&labels("validator", key));
            restore(series, format!("validator:{key}"), saved)
        })
        .collect();
}

/// Binds `gauge` to `set`, first removing the series it had for `old` (only those: its
/// families are shared with the other duties and chains).
fn bind_gauge(
    gauge: &mut GroupedGauge,
    old: Option<&ValidatorSet>,
    set: &ValidatorSet,
    chain: &str,
) {
    let labels = |key: &'static str, value: &str| -> LabelPairs {
        let mut labels = vec![("chain", chain.to_string()), (key, value.to_string())];
        labels.extend(gauge.extra.iter().cloned());
        labels
    };
    if let Some(old) = old {
        for (_, family, _) in &gauge.aggregates {
            for g in 0..old.group_count() {
                family.remove(&labels("group", old.group_name(g as u16)));
            }
        }
        for id in old.own_series_ids() {
            gauge
                .validator_family
                .remove(&labels("validator", old.key(*id)));
        }
    }
    for (_, family, series) in &mut gauge.aggregates {
        *series = (0..set.group_count())
            .map(|g| family.get_or_create_owned(&labels("group", set.group_name(g as u16))))
            .collect();
    }
    gauge.own = set
        .own_series_ids()
        .iter()
        .map(|id| {
            gauge
                .validator_family
                .get_or_create_owned(&labels("validator", set.key(*id)))
        })
        .collect();
    gauge.values = if gauge.derived {
        Vec::new()
    } else {
        vec![f64::NAN; set.len()]
    };
    gauge.dirty = true;
}

/// Sets a grouped gauge's series: `values()` yields the validators that have a value (NaN is
/// skipped), `own_value` gives the value of a validator with series of its own.
/// One aggregate of a grouped gauge, folded value by value into one slot per combination of
/// groups (see [`ValidatorSet::combination_of`]), then spread to the groups.
struct GroupFold {
    aggregate: Aggregate,
    slots: Vec<f64>,
}

impl Aggregate {
    fn fold(self, slot: &mut f64, value: f64) {
        *slot = if slot.is_nan() {
            value
        } else {
            match self {
                Aggregate::Sum => *slot + value,
                Aggregate::Max => slot.max(value),
                Aggregate::Min => slot.min(value),
            }
        };
    }
}

impl GroupFold {
    fn new(aggregate: Aggregate, set: &ValidatorSet) -> Self {
        GroupFold {
            aggregate,
            slots: vec![f64::NAN; set.combination_count()],
        }
    }

    fn add(&mut self, combination: usize, value: f64) {
        self.aggregate.fold(&mut self.slots[combination], value);
    }

    /// Adds `value` `times` times.
    fn add_many(&mut self, combination: usize, value: f64, times: u32) {
        let value = match self.aggregate {
            Aggregate::Sum => value * f64::from(times),
            Aggregate::Max | Aggregate::Min => value,
        };
        self.add(combination, value);
    }

    fn publish(&self, set: &ValidatorSet, series: &[FloatGauge]) {
        let mut groups = vec![f64::NAN; set.group_count()];
        for (combination, value) in self.slots.iter().enumerate() {
            if value.is_nan() {
                continue;
            }
            for group in set.combination_groups(combination) {
                self.aggregate
                    .fold(&mut groups[usize::from(*group)], *value);
            }
        }
        let empty = if self.aggregate == Aggregate::Sum {
            0.0
        } else {
            f64::NAN
        };
        for (value, series) in groups.iter().zip(series) {
            series.set(if value.is_nan() { empty } else { *value });
        }
    }
}

fn folds_of(gauge: &GroupedGauge, set: &ValidatorSet) -> Vec<GroupFold> {
    gauge
        .aggregates
        .iter()
        .map(|(aggregate, _, _)| GroupFold::new(*aggregate, set))
        .collect()
}

fn publish_folds(gauge: &GroupedGauge, set: &ValidatorSet, folds: &[GroupFold]) {
    for (fold, (_, _, series)) in folds.iter().zip(&gauge.aggregates) {
        fold.publish(set, series);
    }
}

fn publish_gauge(
    gauge: &GroupedGauge,
    set: &ValidatorSet,
    values: impl Iterator<Item = (u32, f64)>,
    own_value: impl Fn(u32) -> f64,
) {
    let mut folds = folds_of(gauge, set);
    for (id, value) in values.filter(|(_, value)| !value.is_nan()) {
        let combination = set.combination_of(id);
        for fold in &mut folds {
            fold.add(combination, value);
        }
    }
    publish_folds(gauge, set, &folds);
    for (id, series) in set.own_series_ids().iter().zip(&gauge.own) {
        series.set(own_value(*id));
    }
}

/// The gauges every duty derives from its windows.
#[derive(Debug, Clone, Copy)]
enum Derived {
    /// Missed units in the window.
    Missed,
    /// Consecutive misses.
    Streak,
    /// Share performed.
    Uptime,
    /// 1 when the newest unit is a miss.
    Missing,
}

impl Derived {
    fn value(self, stats: &WindowStats) -> f64 {
        match self {
            Derived::Missed => f64::from(stats.missed),
            Derived::Streak => f64::from(stats.streak),
            Derived::Uptime => stats.uptime().unwrap_or(f64::NAN),
            Derived::Missing => f64::from(u8::from(stats.streak > 0)),
        }
    }
}

/// Publishes the gauges derived from one duty's windows in a single pass over the windows
/// (a million validators are read once, not once per gauge).
fn publish_derived(derived: &[(&GroupedGauge, Derived)], set: &ValidatorSet, table: &DutyWindows) {
    let mut folds: Vec<Vec<GroupFold>> = derived
        .iter()
        .map(|(gauge, _)| folds_of(gauge, set))
        .collect();
    // Most windows hold no miss; their values are all alike and are folded once per
    // combination of groups, with their number.
    let mut clean = vec![0u32; set.combination_count()];
    table.for_each_known(|id, stats| {
        let combination = set.combination_of(id);
        if stats.missed == 0 {
            clean[combination] += 1;
            return;
        }
        for ((_, derived), gauge_folds) in derived.iter().zip(&mut folds) {
            let value = derived.value(&stats);
            if value.is_nan() {
                continue;
            }
            for fold in gauge_folds.iter_mut() {
                fold.add(combination, value);
            }
        }
    });
    let clean_stats = WindowStats {
        known: 1,
        missed: 0,
        streak: 0,
    };
    for (combination, times) in clean.iter().enumerate().filter(|(_, n)| **n > 0) {
        for ((_, derived), gauge_folds) in derived.iter().zip(&mut folds) {
            let value = derived.value(&clean_stats);
            for fold in gauge_folds.iter_mut() {
                fold.add_many(combination, value, *times);
            }
        }
    }
    for ((gauge, derived), gauge_folds) in derived.iter().zip(&folds) {
        publish_folds(gauge, set, gauge_folds);
        for (id, series) in set.own_series_ids().iter().zip(&gauge.own) {
            let stats = table.stats(*id);
            series.set(if stats.known > 0 {
                derived.value(&stats)
            } else {
                f64::NAN
            });
        }
    }
}

/// A counter's non-zero series values, keyed `group:<name>` or `validator:<key>`.
fn counter_values(set: &ValidatorSet, counter: &GroupedCounter) -> Vec<(String, u64)> {
    (0..set.group_count())
        .map(|g| {
            (
                format!("group:{}", set.group_name(g as u16)),
                counter.groups[g].get(),
            )
        })
        .chain(
            set.own_series_ids()
                .iter()
                .zip(&counter.own)
                .map(|(id, series)| (format!("validator:{}", set.key(*id)), series.get())),
        )
        .filter(|(_, value)| *value > 0)
        .collect()
}

impl ChainTracker {
    /// A tracker for chain `metrics.chain()` of family `family` (for example `ethereum`), with
    /// no validators yet.
    pub fn new(family: &str, metrics: ChainMetrics) -> Self {
        ChainTracker {
            family: family.to_string(),
            metrics,
            state: Mutex::new(State {
                set: Arc::new(ValidatorSet::default()),
                duties: Vec::new(),
                counters: Vec::new(),
                gauges: Vec::new(),
                categories: Vec::new(),
                identity: None,
                checkpoint: None,
                extra: serde_json::Value::Null,
                saved_windows: HashMap::new(),
                saved_counters: HashMap::new(),
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The chain name.
    pub fn chain(&self) -> &str {
        self.metrics.chain()
    }

    /// The chain family.
    pub fn family(&self) -> &str {
        &self.family
    }

    /// Metric handles of this chain, for the watcher's own chain-level metrics.
    pub fn metrics(&self) -> &ChainMetrics {
        &self.metrics
    }

    /// The current validator set.
    pub fn validators(&self) -> Arc<ValidatorSet> {
        self.lock().set.clone()
    }

    /// Registers a grouped counter: families `valwatch_<name>_total{chain, group, extra..}` and
    /// `valwatch_validator_<name>_total{chain, validator, extra..}`.
    pub fn counter(
        &self,
        name: &str,
        help: &str,
        extra: &[(&'static str, &str)],
    ) -> Result<CounterId, MetricsError> {
        let registry = self.metrics.registry();
        let group_family = registry.counter_family(name, &format!("{help} Per label group."))?;
        let validator_family = registry.counter_family(
            &format!("validator_{name}"),
            &format!("{help} Per validator."),
        )?;
        let mut state = self.lock();
        let mut counter = GroupedCounter {
            name: extra
                .iter()
                .fold(name.to_string(), |n, (k, v)| format!("{n},{k}={v}")),
            group_family,
            validator_family,
            extra: extra.iter().map(|(k, v)| (*k, v.to_string())).collect(),
            groups: Vec::new(),
            own: Vec::new(),
        };
        let set = state.set.clone();
        bind_counter(&mut counter, &set, self.chain(), &mut state.saved_counters);
        state.counters.push(counter);
        Ok(CounterId(state.counters.len() - 1))
    }

    /// Registers a grouped gauge: one family per aggregate (see [`Aggregate`]) labelled by
    /// group, and `valwatch_validator_<name>{chain, validator, extra..}`.
    pub fn gauge(
        &self,
        name: &str,
        help: &str,
        aggregates: &[Aggregate],
        extra: &[(&'static str, &str)],
    ) -> Result<GaugeId, MetricsError> {
        self.register_gauge(name, help, aggregates, extra, false)
    }

    fn register_gauge(
        &self,
        name: &str,
        help: &str,
        aggregates: &[Aggregate],
        extra: &[(&'static str, &str)],
        derived: bool,
    ) -> Result<GaugeId, MetricsError> {
        let registry = self.metrics.registry();
        let aggregates = aggregates
            .iter()
            .map(|a| {
                let family = registry
                    .gauge_family(&a.family_name(name), &format!("{help} {}.", a.describe()))?;
                Ok((*a, family, Vec::new()))
            })
            .collect::<Result<Vec<_>, MetricsError>>()?;
        let validator_family = registry.gauge_family(
            &format!("validator_{name}"),
            &format!("{help} Per validator."),
        )?;
        let mut gauge = GroupedGauge {
            aggregates,
            validator_family,
            extra: extra.iter().map(|(k, v)| (*k, v.to_string())).collect(),
            own: Vec::new(),
            values: Vec::new(),
            derived,
            dirty: true,
        };
        let mut state = self.lock();
        let set = state.set.clone();
        bind_gauge(&mut gauge, None, &set, self.chain());
        state.gauges.push(gauge);
        Ok(GaugeId(state.gauges.len() - 1))
    }

    /// Registers a category gauge: `valwatch_<name>{chain, group, <label_key>}` counts the
    /// validators of each group in each category; `valwatch_validator_<name>{chain, validator,
    /// <label_key>}` is 1 for the validator's current category.
    pub fn category(
        &self,
        name: &str,
        help: &str,
        label_key: &'static str,
        categories: &[&'static str],
    ) -> Result<CategoryId, MetricsError> {
        let registry = self.metrics.registry();
        let family = registry.gauge_family(
            name,
            &format!("{help} Number of validators of each label group in each {label_key}."),
        )?;
        let validator_family = registry.gauge_family(
            &format!("validator_{name}"),
            &format!("{help} 1 for the validator's current {label_key}."),
        )?;
        let mut state = self.lock();
        let len = state.set.len();
        state.categories.push(CategoryGauge {
            family,
            validator_family,
            label_key,
            categories: categories.to_vec(),
            values: vec![u8::MAX; len],
            dirty: true,
            published: Vec::new(),
        });
        Ok(CategoryId(state.categories.len() - 1))
    }

    /// Registers a duty tracked in windows of `window_len` units, with its counters
    /// (`duty_performed`, `duty_missed`) and window gauges (`duty_window_missed`,
    /// `duty_consecutive_missed`, `duty_uptime_ratio`, `duty_missing_validators`), all labelled
    /// `duty="<name>"`.
    pub fn duty(&self, name: &str, window_len: u32) -> Result<DutyId, MetricsError> {
        self.register_duty(name, window_len, false)
    }

    /// Like [`ChainTracker::duty`], for a duty that falls to few validators at a time
    /// (proposals, sync committees): windows exist only for validators that had the duty, so
    /// a million watched keys do not pay for a window each.
    pub fn sparse_duty(&self, name: &str, window_len: u32) -> Result<DutyId, MetricsError> {
        self.register_duty(name, window_len, true)
    }

    fn register_duty(
        &self,
        name: &str,
        window_len: u32,
        sparse: bool,
    ) -> Result<DutyId, MetricsError> {
        let extra = [("duty", name)];
        let performed = self.counter(
            "duty_performed",
            "Duties performed, counted once per unit (block or epoch) when first judged.",
            &extra,
        )?;
        let missed = self.counter(
            "duty_missed",
            "Duties missed, counted once per unit (block or epoch) when first judged.",
            &extra,
        )?;
        let window_missed = self.register_gauge(
            "duty_window_missed",
            "Missed units in the sliding window.",
            &[Aggregate::Sum, Aggregate::Max],
            &extra,
            true,
        )?;
        let consecutive = self.register_gauge(
            "duty_consecutive_missed",
            "Consecutive missed units ending at the newest judged unit (capped at the window).",
            &[Aggregate::Max],
            &extra,
            true,
        )?;
        let uptime = self.register_gauge(
            "duty_uptime_ratio",
            "Share of the judged units of the window that were performed.",
            &[Aggregate::Min],
            &extra,
            true,
        )?;
        let missing = self.register_gauge(
            "duty_missing_validators",
            "Validators whose newest judged unit is a miss.",
            &[Aggregate::Sum],
            &extra,
            true,
        )?;
        let mut state = self.lock();
        let len = state.set.len();
        let mut table = DutyWindows::new(window_len, len, sparse);
        if let Some(saved) = state.saved_windows.get(name) {
            for id in state.set.ids() {
                if let Some(window) = saved.get(state.set.key(id)) {
                    table.put(id, &window);
                }
            }
        }
        state.duties.push(Duty {
            name: name.to_string(),
            table,
            performed,
            missed,
            window_missed,
            consecutive,
            uptime,
            missing,
            dirty: true,
        });
        Ok(DutyId(state.duties.len() - 1))
    }

    /// Changes the window length of a duty (for example when the chain's slashing window is
    /// learned); the newest units are kept.
    pub fn resize_duty(&self, duty: DutyId, window_len: u32) {
        let mut state = self.lock();
        let duty = &mut state.duties[duty.0];
        if duty.table.window_len() == window_len.max(1) {
            return;
        }
        let mut table = duty.table.empty_like(window_len, duty.table.count());
        let known: Vec<u32> = duty.table.known().map(|(id, _)| id).collect();
        for id in known {
            if let Some(window) = duty.table.window(id) {
                table.put(id, &window);
            }
        }
        duty.table = table;
        duty.dirty = true;
    }

    /// The window length of a duty.
    pub fn window_len(&self, duty: DutyId) -> u32 {
        self.lock().duties[duty.0].table.window_len()
    }

    /// Replaces the watched validators. Windows, counters and values follow their keys; series
    /// of validators that left are removed.
    pub fn set_validators(&self, set: ValidatorSet) {
        let mut state = self.lock();
        let old = std::mem::replace(&mut state.set, Arc::new(set));
        let new = state.set.clone();
        let chain = self.chain().to_string();
        let state = &mut *state;
        let old_of_new = new.ids_in(&old);
        let old_id = |id: ValidatorId| Some(old_of_new[id as usize]).filter(|o| *o != u32::MAX);
        // A set that only grew at the end (validators activated) keeps every id: the tables
        // grow in place instead of being copied, which would hold two of each for a moment.
        let grown = old_of_new.len() >= old.len()
            && old_of_new[..old.len()]
                .iter()
                .enumerate()
                .all(|(new_id, old_id)| *old_id == new_id as u32);
        for duty in &mut state.duties {
            let mut table = if grown {
                let mut table = std::mem::replace(&mut duty.table, DutyWindows::new(1, 0, false));
                table.grow(new.len());
                table
            } else {
                duty.table.remap(&old_of_new)
            };
            if let Some(saved) = state.saved_windows.get(&duty.name) {
                for id in new.ids().filter(|id| old_id(*id).is_none()) {
                    if let Some(window) = saved.get(new.key(id)) {
                        table.put(id, &window);
                    }
                }
            }
            duty.table = table;
            duty.dirty = true;
        }
        for counter in &mut state.counters {
            // Remove the per-validator series of keys that lost theirs.
            for id in old.own_series_ids() {
                let key = old.key(*id);
                if new.id_of(key).is_none_or(|n| !new.has_own_series(n)) {
                    let mut labels = vec![("chain", chain.clone()), ("validator", key.to_string())];
                    labels.extend(counter.extra.iter().cloned());
                    counter.validator_family.remove(&labels);
                }
            }
            bind_counter(counter, &new, &chain, &mut state.saved_counters);
        }
        for gauge in state.gauges.iter_mut() {
            let old_values = std::mem::take(&mut gauge.values);
            bind_gauge(gauge, Some(&old), &new, &chain);
            if gauge.derived {
                continue;
            }
            if grown {
                let kept = old_values.len().min(gauge.values.len());
                gauge.values[..kept].copy_from_slice(&old_values[..kept]);
                continue;
            }
            for id in new.ids() {
                if let Some(old_id) = old_id(id) {
                    gauge.values[id as usize] = old_values[old_id as usize];
                }
            }
        }
        for category in &mut state.categories {
            let mut old_values = std::mem::take(&mut category.values);
            category.values = if grown {
                old_values.resize(new.len(), u8::MAX);
                old_values
            } else {
                new.ids()
                    .map(|id| old_id(id).map_or(u8::MAX, |o| old_values[o as usize]))
                    .collect()
            };
            category.dirty = true;
        }
        drop(old);
        Self::publish(state, &chain);
    }

    /// Starts a batch of observations; aggregates are published when it is dropped.
    pub fn update(&self) -> Update<'_> {
        Update {
            chain: self.chain(),
            state: self.lock(),
            pending: Vec::new(),
            recorded: false,
        }
    }

    /// The last processed unit and the watcher's checkpoint data.
    pub fn checkpoint(&self) -> (Option<u64>, serde_json::Value) {
        let state = self.lock();
        (state.checkpoint, state.extra.clone())
    }

    /// Checks the chain identity (genesis root, chain id) against the restored one. A
    /// mismatch means the state belongs to another chain: everything restored is dropped and
    /// `false` is returned, so the caller can log it.
    pub fn confirm_identity(&self, identity: &str) -> bool {
        let mut state = self.lock();
        match state.identity.as_deref() {
            Some(known) if known == identity => true,
            None => {
                state.identity = Some(identity.to_string());
                true
            }
            Some(_) => {
                state.identity = Some(identity.to_string());
                state.checkpoint = None;
                state.extra = serde_json::Value::Null;
                state.saved_windows.clear();
                state.saved_counters.clear();
                for duty in &mut state.duties {
                    duty.table = duty
                        .table
                        .empty_like(duty.table.window_len(), duty.table.count());
                    duty.dirty = true;
                }
                false
            }
        }
    }

    /// Everything that must survive a restart.
    pub fn snapshot(&self) -> ChainSnapshot {
        let state = self.lock();
        let duties = state
            .duties
            .iter()
            .map(|duty| {
                let mut windows = SavedWindows::new(duty.table.window_len());
                windows.extend(
                    duty.table
                        .known()
                        .filter_map(|(id, _)| Some((state.set.key(id), duty.table.window(id)?)))
                        .chain(
                            Self::leftovers(&state, &duty.name).filter_map(|(key, parts)| {
                                let window = MissWindow::from_parts(WindowParts {
                                    len: parts.len,
                                    newest: parts.newest,
                                    oldest: parts.oldest,
                                    gaps: parts.gaps.to_vec(),
                                    words: parts.words.to_vec(),
                                });
                                Some((key, window.ok()?))
                            }),
                        ),
                );
                DutySnapshot {
                    name: duty.name.clone(),
                    windows,
                }
            })
            .collect();
        let counters = state
            .counters
            .iter()
            .map(|counter| CounterSnapshot {
                name: counter.name.clone(),
                values: counter_values(&state.set, counter),
            })
            .collect();
        ChainSnapshot {
            family: self.family.clone(),
            chain: self.chain().to_string(),
            identity: state.identity.clone(),
            checkpoint: state.checkpoint,
            extra: state.extra.clone(),
            duties,
            counters,
        }
    }

    /// The same as [`ChainTracker::snapshot`], written in the state file format into `out`
    /// (normally the state file), straight from the tracker's tables: no per-validator copy is
    /// made and no encoded body is held in memory, which matters with a million watched keys.
    /// This is what the supervisor saves.
    pub fn write_snapshot<W: Write + Seek>(&self, out: W) -> std::io::Result<W> {
        let state = self.lock();
        let mut encoder = SnapshotEncoder::new(
            out,
            &self.family,
            self.chain(),
            state.identity.as_deref(),
            state.checkpoint,
            &state.extra,
        )?;
        let mut duties = encoder.begin_list(state.duties.len())?;
        for duty in &state.duties {
            let saved = |id: &u32| duty.table.parts(*id);
            let count = duty
                .table
                .known()
                .filter(|(id, _)| saved(id).is_some())
                .count()
                + Self::leftovers(&state, &duty.name).count();
            let mut windows = encoder.duty(&mut duties, &duty.name, count)?;
            for (id, _) in duty.table.known() {
                if let Some(parts) = saved(&id) {
                    encoder.window(&mut windows, state.set.key(id), parts)?;
                }
            }
            for (key, parts) in Self::leftovers(&state, &duty.name) {
                encoder.window(&mut windows, key, parts)?;
            }
            encoder.end_list(windows)?;
        }
        encoder.end_list(duties)?;
        let mut counters = encoder.begin_list(state.counters.len())?;
        for counter in &state.counters {
            let values = counter_values(&state.set, counter);
            encoder.counter(&mut counters, &counter.name, &values)?;
        }
        encoder.end_list(counters)?;
        encoder.finish()
    }

    /// The outcome of `unit` for the validator with `key`, `None` when unknown (for tests).
    #[doc(hidden)]
    pub fn recorded_for_tests(&self, duty: DutyId, key: &str, unit: u64) -> Option<bool> {
        let state = self.lock();
        let id = state.set.id_of(key)?;
        state.duties[duty.0].table.get(id, unit)
    }

    /// Restored windows of `duty` whose keys are not in the set (yet): saved again with the
    /// tracker's own, so a restart before the set is complete loses nothing.
    fn leftovers<'a>(
        state: &'a State,
        duty: &str,
    ) -> impl Iterator<Item = (&'a str, WindowPartsRef<'a>)> + 'a {
        state
            .saved_windows
            .get(duty)
            .into_iter()
            .flat_map(|saved| saved.iter_parts())
            .filter(|(key, parts)| parts.newest.is_some() && state.set.id_of(key).is_none())
    }

    /// Takes back a snapshot saved earlier. Call it before registering duties and counters,
    /// or at least before the first observation; values are applied as series are bound.
    pub fn restore(&self, snapshot: ChainSnapshot) {
        let mut state = self.lock();
        state.identity = snapshot.identity;
        state.checkpoint = snapshot.checkpoint;
        state.extra = snapshot.extra;
        state.saved_windows = snapshot
            .duties
            .into_iter()
            .map(|duty| (duty.name, duty.windows))
            .collect();
        state.saved_counters = snapshot
            .counters
            .into_iter()
            .flat_map(|counter| {
                let name = counter.name;
                counter
                    .values
                    .into_iter()
                    .map(move |(id, value)| ((name.clone(), id), value))
            })
            .collect();
    }

    fn publish(state: &mut State, _chain: &str) {
        let set = state.set.clone();
        let State { duties, gauges, .. } = state;
        for duty in duties.iter_mut().filter(|d| d.dirty) {
            duty.dirty = false;
            let table = &duty.table;
            let derived = [
                (duty.window_missed, Derived::Missed),
                (duty.consecutive, Derived::Streak),
                (duty.uptime, Derived::Uptime),
                (duty.missing, Derived::Missing),
            ];
            let derived = derived.map(|(gauge, value)| (&gauges[gauge.0], value));
            publish_derived(&derived, &set, table);
        }
        for gauge in gauges.iter_mut().filter(|g| g.dirty && !g.derived) {
            gauge.dirty = false;
            let values = &gauge.values;
            publish_gauge(
                gauge,
                &set,
                values.iter().enumerate().map(|(id, v)| (id as u32, *v)),
                |id| values[id as usize],
            );
        }
        for category in state.categories.iter_mut().filter(|c| c.dirty) {
            category.dirty = false;
            let width = category.categories.len();
            let mut counts = vec![0u32; set.group_count() * width];
            for id in set.ids() {
                let value = category.values[id as usize];
                if usize::from(value) < width {
                    for group in set.groups_of(id) {
                        counts[usize::from(*group) * width + usize::from(value)] += 1;
                    }
                }
            }
            // (per-validator series?, labels) → value
            let mut wanted: Vec<((bool, LabelPairs), f64)> = Vec::new();
            for group in 0..set.group_count() {
                for (index, name) in category.categories.iter().enumerate() {
                    let labels: LabelPairs = vec![
                        ("chain", _chain.to_string()),
                        ("group", set.group_name(group as u16).to_string()),
                        (category.label_key, name.to_string()),
                    ];
                    wanted.push(((false, labels), f64::from(counts[group * width + index])));
                }
            }
            for id in set.own_series_ids() {
                let value = category.values[*id as usize];
                if let Some(name) = category.categories.get(usize::from(value)) {
                    let labels: LabelPairs = vec![
                        ("chain", _chain.to_string()),
                        ("validator", set.key(*id).to_string()),
                        (category.label_key, name.to_string()),
                    ];
                    wanted.push(((true, labels), 1.0));
                }
            }
            let keep: std::collections::HashSet<&(bool, LabelPairs)> =
                wanted.iter().map(|(series, _)| series).collect();
            for series in &category.published {
                if !keep.contains(series) {
                    let (own, labels) = series;
                    let family = if *own {
                        &category.validator_family
                    } else {
                        &category.family
                    };
                    family.remove(labels);
                }
            }
            for ((own, labels), value) in &wanted {
                let family = if *own {
                    &category.validator_family
                } else {
                    &category.family
                };
                family.get_or_create(labels).set(*value);
            }
            category.published = wanted.into_iter().map(|(series, _)| series).collect();
        }
    }
}

/// A batch of observations under the tracker's lock; published when dropped.
pub struct Update<'a> {
    chain: &'a str,
    state: MutexGuard<'a, State>,
    /// Increments of the group series per combination of groups,
    /// `[counter * combinations + combination]`, added to the counters of those groups when
    /// the batch ends: a million records touch a few local slots, not a few shared atomics a
    /// million times.
    pending: Vec<u64>,
    /// Whether a duty was recorded: the restored windows were then applied to the set the
    /// watcher judges with, and those of keys outside it are dropped.
    recorded: bool,
}

impl Update<'_> {
    /// The validator set the ids of this batch refer to.
    pub fn validators(&self) -> Arc<ValidatorSet> {
        self.state.set.clone()
    }

    /// Records whether validator `id` performed (`missed = false`) or missed its duty in
    /// `unit`. Counters move only for a unit the window did not know yet.
    pub fn record(
        &mut self,
        duty: DutyId,
        id: ValidatorId,
        unit: u64,
        missed: bool,
    ) -> RecordOutcome {
        self.recorded = true;
        let state = &mut *self.state;
        let entry = &mut state.duties[duty.0];
        let outcome = entry.table.record(id, unit, missed);
        if outcome != RecordOutcome::Unchanged && outcome != RecordOutcome::TooOld {
            entry.dirty = true;
        }
        if outcome.is_new() {
            let counter = if missed {
                entry.missed
            } else {
                entry.performed
            };
            self.count(counter, id, 1);
        }
        outcome
    }

    /// Makes `unit` of validator `id` unknown again: a reorg removed the duty (its slot became
    /// empty). The window forgets it; counters, which only go up, keep what they counted.
    /// `false` when the unit was not known.
    pub fn forget(&mut self, duty: DutyId, id: ValidatorId, unit: u64) -> bool {
        let entry = &mut self.state.duties[duty.0];
        let forgotten = entry.table.forget(id, unit);
        entry.dirty |= forgotten;
        forgotten
    }

    /// The outcome of `unit` for validator `id`, `None` when unknown.
    pub fn recorded(&self, duty: DutyId, id: ValidatorId, unit: u64) -> Option<bool> {
        self.state.duties[duty.0].table.get(id, unit)
    }

    /// Adds `by` to a grouped counter for validator `id` (all of its groups, and its own series
    /// when it has one).
    pub fn count(&mut self, counter: CounterId, id: ValidatorId, by: u64) {
        if by == 0 {
            return;
        }
        let state = &*self.state;
        let combinations = state.set.combination_count();
        if self.pending.is_empty() {
            self.pending = vec![0; state.counters.len() * combinations];
        }
        self.pending[counter.0 * combinations + state.set.combination_of(id)] += by;
        if let Some(own) = state.set.own_series_index(id) {
            state.counters[counter.0].own[own].inc_by(by);
        }
    }

    fn flush_counts(&mut self) {
        let state = &*self.state;
        let combinations = state.set.combination_count();
        for (slot, by) in self.pending.iter().enumerate().filter(|(_, by)| **by > 0) {
            let counter = &state.counters[slot / combinations];
            for group in state.set.combination_groups(slot % combinations) {
                counter.groups[usize::from(*group)].inc_by(*by);
            }
        }
        self.pending.clear();
    }

    /// Sets validator `id`'s value of a grouped gauge (`None` = no value).
    pub fn set_gauge(&mut self, gauge: GaugeId, id: ValidatorId, value: Option<f64>) {
        let entry = &mut self.state.gauges[gauge.0];
        let value = value.unwrap_or(f64::NAN);
        let slot = &mut entry.values[id as usize];
        // An unchanged value leaves the gauge clean: no pass over every validator to publish.
        if slot.to_bits() != value.to_bits() {
            *slot = value;
            entry.dirty = true;
        }
    }

    /// Sets validator `id`'s category (an index into the registered categories; `None` or
    /// out of range = none).
    pub fn set_category(&mut self, category: CategoryId, id: ValidatorId, value: Option<usize>) {
        let entry = &mut self.state.categories[category.0];
        entry.values[id as usize] = value
            .filter(|v| *v < entry.categories.len())
            .map_or(u8::MAX, |v| v as u8);
        entry.dirty = true;
    }

    /// Marks `unit` as the last one fully processed, with the watcher's own checkpoint data.
    pub fn set_checkpoint(&mut self, unit: u64, extra: serde_json::Value) {
        self.state.checkpoint = Some(unit);
        self.state.extra = extra;
    }
}

impl Drop for Update<'_> {
    fn drop(&mut self) {
        if self.recorded && !self.state.saved_windows.is_empty() {
            self.state.saved_windows.clear();
        }
        self.flush_counts();
        ChainTracker::publish(&mut self.state, self.chain);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::labels::{LabelMap, SeriesPolicy};
    use crate::metrics::Metrics;

    fn set(keys: &[(&str, &[&str])], max: usize) -> ValidatorSet {
        let labels: LabelMap = keys
            .iter()
            .map(|(l, k)| (l.to_string(), k.iter().map(|s| s.to_string()).collect()))
            .collect();
        let policy = SeriesPolicy {
            per_validator_max: max,
            always: vec![],
        };
        ValidatorSet::build(&labels, &[], &policy, |k| Ok(k.to_string())).expect("valid")
    }

    #[test]
    fn misses_reach_group_and_validator_series() {
        let metrics = Metrics::new();
        let tracker = ChainTracker::new("test", metrics.for_chain("dev"));
        tracker.set_validators(set(&[("s1", &["a", "b"]), ("s2", &["c"])], 10));
        let duty = tracker.duty("block", 100).expect("duty");
        let v = tracker.validators();
        {
            let mut update = tracker.update();
            for unit in 1..=3 {
                update.record(duty, v.id_of("a").expect("a"), unit, true);
                update.record(duty, v.id_of("b").expect("b"), unit, false);
                update.record(duty, v.id_of("c").expect("c"), unit, unit == 3);
            }
            // The same unit again changes nothing.
            update.record(duty, v.id_of("a").expect("a"), 3, true);
        }
        let text = metrics.encode();
        for line in [
            r#"valwatch_duty_missed_total{chain="dev",group="s1",duty="block"} 3"#,
            r#"valwatch_duty_missed_total{chain="dev",group="all",duty="block"} 4"#,
            r#"valwatch_duty_performed_total{chain="dev",group="s2",duty="block"} 2"#,
            r#"valwatch_validator_duty_missed_total{chain="dev",validator="a",duty="block"} 3"#,
            r#"valwatch_duty_consecutive_missed_max{chain="dev",group="s1",duty="block"} 3"#,
            r#"valwatch_duty_window_missed{chain="dev",group="all",duty="block"} 4"#,
            r#"valwatch_duty_missing_validators{chain="dev",group="all",duty="block"} 2"#,
            r#"valwatch_validator_duty_uptime_ratio{chain="dev",validator="b",duty="block"} 1"#,
        ] {
            assert!(text.contains(line), "missing {line} in\n{text}");
        }
    }

    #[test]
    fn restored_windows_wait_for_their_keys_and_survive_another_restart_meanwhile() {
        let first = ChainTracker::new("test", Metrics::new().for_chain("dev"));
        first.set_validators(set(&[("s1", &["a", "b", "c"])], 10));
        let duty = first.duty("block", 100).expect("duty");
        {
            let mut update = first.update();
            for (key, missed) in [("a", true), ("b", false), ("c", true)] {
                let id = update.validators().id_of(key).expect("known");
                update.record(duty, id, 7, missed);
            }
        }
        let saved = first.snapshot();

        // After a restart the watcher knows only part of its set at first.
        let second = ChainTracker::new("test", Metrics::new().for_chain("dev"));
        second.restore(saved.clone());
        let duty = second.duty("block", 100).expect("duty");
        second.set_validators(set(&[("s1", &["a"])], 10));
        assert_eq!(second.recorded_for_tests(duty, "a", 7), Some(true));
        // Saved again before the set is complete: nothing is lost.
        let bytes = second
            .write_snapshot(std::io::Cursor::new(Vec::new()))
            .expect("in memory")
            .into_inner();
        let again = crate::state::decode(&bytes, std::path::Path::new("x")).expect("decodes");
        assert_eq!(again.duties, saved.duties);

        second.set_validators(set(&[("s1", &["a", "c"])], 10));
        assert_eq!(second.recorded_for_tests(duty, "c", 7), Some(true));
        {
            let mut update = second.update();
            let id = update.validators().id_of("a").expect("known");
            update.record(duty, id, 8, false);
        }
        // The first observation drops the windows of keys that did not come back.
        second.set_validators(set(&[("s1", &["a", "b", "c"])], 10));
        assert_eq!(second.recorded_for_tests(duty, "b", 7), None);
        assert_eq!(second.snapshot().duties[0].windows.len(), 2);
    }

    #[test]
    fn a_set_grown_at_the_end_keeps_everything_as_a_rebuilt_one_does() {
        let build = |indices: &[u64]| {
            ValidatorSet::from_indices(&crate::labels::IndexLabels::new(), indices, &[], 0)
                .expect("valid")
        };
        let registries = [Metrics::new(), Metrics::new()];
        let trackers: Vec<ChainTracker> = registries
            .iter()
            .map(|metrics| ChainTracker::new("test", metrics.for_chain("dev")))
            .collect();
        let mut snapshots = Vec::new();
        for (n, tracker) in trackers.iter().enumerate() {
            let duty = tracker.duty("block", 100).expect("duty");
            let gauge = tracker
                .gauge("tokens", "Tokens.", &[Aggregate::Sum], &[])
                .expect("gauge");
            let status = tracker
                .category("status", "Status.", "status", &["up", "down"])
                .expect("category");
            let first = build(&[2, 4, 6]);
            tracker.set_validators(first.clone());
            {
                let mut update = tracker.update();
                for id in 0..3 {
                    update.record(duty, id, 1, id == 1);
                    update.set_gauge(gauge, id, Some(f64::from(id) + 0.5));
                    update.set_category(status, id, Some(id as usize % 2));
                }
            }
            // The first tracker grows its set in place, the second rebuilds it.
            let next = if n == 0 {
                first.appended(&[8, 9], &[], 0).expect("appendable")
            } else {
                build(&[2, 4, 6, 8, 9])
            };
            tracker.set_validators(next);
            assert_eq!(tracker.recorded_for_tests(duty, "4", 1), Some(true));
            assert_eq!(tracker.recorded_for_tests(duty, "9", 1), None);
            snapshots.push(tracker.snapshot());
        }
        assert_eq!(snapshots[0], snapshots[1]);
        let text = registries[0].encode();
        // Series come in no fixed order within a family.
        let sorted = |text: &str| {
            let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
            lines.sort();
            lines
        };
        assert_eq!(sorted(&text), sorted(&registries[1].encode()));
        for line in [
            r#"valwatch_tokens{chain="dev",group="all"} 4.5"#,
            r#"valwatch_status{chain="dev",group="all",status="down"} 1"#,
        ] {
            assert!(text.contains(line), "missing {line} in\n{text}");
        }
    }

    #[test]
    fn derived_aggregates_fold_clean_and_missing_windows_per_group() {
        let metrics = Metrics::new();
        let tracker = ChainTracker::new("test", metrics.for_chain("dev"));
        let labels = [("s1", &["a", "b"][..]), ("s2", &["c"]), ("s3", &["b", "d"])];
        tracker.set_validators(set(&labels, 0));
        let duty = tracker.duty("block", 100).expect("duty");
        let v = tracker.validators();
        let id = |key: &str| v.id_of(key).expect("known");
        {
            let mut update = tracker.update();
            for unit in 1..=4 {
                update.record(duty, id("a"), unit, unit >= 3);
                update.record(duty, id("b"), unit, false);
                update.record(duty, id("c"), unit, unit == 1);
                update.record(duty, id("d"), unit, false);
            }
        }
        let text = metrics.encode();
        let series = |name: &str, group: &str| {
            format!(r#"valwatch_{name}{{chain="dev",group="{group}",duty="block"}} "#)
        };
        for (name, group, value) in [
            ("duty_window_missed", "all", "3.0"),
            ("duty_window_missed_max", "all", "2.0"),
            ("duty_consecutive_missed_max", "all", "2.0"),
            ("duty_uptime_ratio_min", "all", "0.5"),
            ("duty_missing_validators", "all", "1.0"),
            ("duty_window_missed", "s2", "1.0"),
            ("duty_consecutive_missed_max", "s2", "0.0"),
            ("duty_uptime_ratio_min", "s2", "0.75"),
            // A group of clean windows only.
            ("duty_window_missed", "s3", "0.0"),
            ("duty_window_missed_max", "s3", "0.0"),
            ("duty_consecutive_missed_max", "s3", "0.0"),
            ("duty_uptime_ratio_min", "s3", "1.0"),
            ("duty_missing_validators", "s3", "0.0"),
            ("duty_window_missed", "s1", "2.0"),
            ("duty_uptime_ratio_min", "s1", "0.5"),
        ] {
            let line = format!("{}{value}\n", series(name, group));
            assert!(text.contains(&line), "missing {line} in\n{text}");
        }
    }

    #[test]
    fn rebinding_a_gauge_leaves_other_duties_and_chains_alone() {
        // Duties share their gauge families (`duty` label), chains share the registry.
        let metrics = Metrics::new();
        let other = ChainTracker::new("test", metrics.for_chain("other"));
        other.set_validators(set(&[("s1", &["x"])], 10));
        let other_duty = other.duty("block", 10).expect("duty");
        other.update().record(other_duty, 0, 1, true);
        let tracker = ChainTracker::new("test", metrics.for_chain("dev"));
        let first = tracker.duty("first", 10).expect("duty");
        let second = tracker.duty("second", 10).expect("duty");
        tracker.set_validators(set(&[("s1", &["a"])], 10));
        {
            let mut update = tracker.update();
            update.record(first, 0, 1, true);
            update.record(second, 0, 1, false);
        }
        let text = metrics.encode();
        for line in [
            r#"valwatch_duty_window_missed{chain="dev",group="s1",duty="first"} 1"#,
            r#"valwatch_duty_window_missed{chain="dev",group="s1",duty="second"} 0"#,
            r#"valwatch_validator_duty_window_missed{chain="dev",validator="a",duty="first"} 1"#,
            r#"valwatch_duty_missing_validators{chain="other",group="s1",duty="block"} 1"#,
            r#"valwatch_validator_duty_window_missed{chain="other",validator="x",duty="block"} 1"#,
        ] {
            assert!(text.contains(line), "missing {line} in\n{text}");
        }
        // A group that left takes its series along, and only its own.
        tracker.set_validators(set(&[("s2", &["a"])], 10));
        let text = metrics.encode();
        assert!(
            !text.contains(r#"valwatch_duty_window_missed{chain="dev",group="s1""#),
            "{text}"
        );
        assert!(
            text.contains(r#"valwatch_duty_window_missed{chain="dev",group="s2",duty="first"} 1"#),
            "{text}"
        );
        assert!(
            text.contains(
                r#"valwatch_duty_window_missed{chain="other",group="s1",duty="block"} 1"#
            ),
            "{text}"
        );
    }

    #[test]
    fn above_the_threshold_only_groups_are_exported() {
        let metrics = Metrics::new();
        let tracker = ChainTracker::new("test", metrics.for_chain("dev"));
        tracker.set_validators(set(&[("s1", &["a", "b", "c"])], 2));
        let duty = tracker.duty("block", 10).expect("duty");
        tracker.update().record(duty, 0, 1, true);
        let text = metrics.encode();
        assert!(!text.contains("validator=\""), "{text}");
        assert!(
            text.contains(r#"valwatch_duty_missed_total{chain="dev",group="s1",duty="block"} 1"#)
        );
    }

    #[test]
    fn snapshot_restores_windows_counters_and_checkpoint() {
        let first = Metrics::new();
        let tracker = ChainTracker::new("test", first.for_chain("dev"));
        tracker.set_validators(set(&[("s1", &["a", "b"])], 10));
        let duty = tracker.duty("block", 10).expect("duty");
        let counter = tracker
            .counter("proposals", "Blocks proposed.", &[])
            .expect("counter");
        {
            let mut update = tracker.update();
            update.record(duty, 0, 5, true);
            update.count(counter, 1, 2);
            update.set_checkpoint(5, serde_json::json!({"epoch": 5}));
        }
        tracker.confirm_identity("chain-a");
        let snapshot = tracker.snapshot();

        let second = Metrics::new();
        let restored = ChainTracker::new("test", second.for_chain("dev"));
        restored.restore(snapshot.clone());
        let duty = restored.duty("block", 10).expect("duty");
        restored
            .counter("proposals", "Blocks proposed.", &[])
            .expect("counter");
        restored.set_validators(set(&[("s1", &["a", "b"]), ("s2", &["b"])], 10));
        assert_eq!(restored.checkpoint().0, Some(5));
        assert_eq!(restored.update().recorded(duty, 0, 5), Some(true));
        // Re-recording the restored unit does not count it again.
        restored.update().record(duty, 0, 5, true);
        let text = second.encode();
        assert!(
            text.contains(r#"valwatch_duty_missed_total{chain="dev",group="s1",duty="block"} 1"#),
            "{text}"
        );
        assert!(
            text.contains(r#"valwatch_validator_proposals_total{chain="dev",validator="b"} 2"#),
            "{text}"
        );
        assert!(restored.confirm_identity("chain-a"));
        assert!(!restored.confirm_identity("chain-b"));
        assert_eq!(restored.checkpoint().0, None);
        assert_eq!(restored.update().recorded(duty, 0, 5), None);
    }

    #[test]
    fn encoded_snapshot_equals_the_encoding_of_the_snapshot() {
        let tracker = ChainTracker::new("test", Metrics::new().for_chain("dev"));
        tracker.set_validators(set(&[("s1", &["a", "b", "c"])], 2));
        let dense = tracker.duty("block", 70).expect("duty");
        let sparse = tracker.sparse_duty("proposal", 16).expect("duty");
        let counter = tracker
            .counter("proposals", "Blocks proposed.", &[])
            .expect("counter");
        {
            let mut update = tracker.update();
            for unit in [3, 5, 9, 80] {
                update.record(dense, 0, unit, unit % 2 == 1);
                update.record(dense, 2, unit + 1, false);
            }
            update.record(sparse, 1, 7, true);
            update.count(counter, 1, 3);
            update.set_checkpoint(80, serde_json::json!({"k": 1}));
        }
        tracker.confirm_identity("chain-a");
        let bytes = tracker
            .write_snapshot(std::io::Cursor::new(Vec::new()))
            .expect("in memory")
            .into_inner();
        assert_eq!(bytes, crate::state::encode(&tracker.snapshot()));
        let decoded = crate::state::decode(&bytes, std::path::Path::new("x")).expect("decodes");
        assert_eq!(decoded, tracker.snapshot());
    }

    #[test]
    fn categories_count_validators_per_group() {
        let metrics = Metrics::new();
        let tracker = ChainTracker::new("test", metrics.for_chain("dev"));
        tracker.set_validators(set(&[("s1", &["a", "b"])], 10));
        let status = tracker
            .category("key_status", "Key status.", "status", &["active", "exited"])
            .expect("category");
        {
            let mut update = tracker.update();
            update.set_category(status, 0, Some(0));
            update.set_category(status, 1, Some(1));
        }
        let text = metrics.encode();
        assert!(
            text.contains(r#"valwatch_key_status{chain="dev",group="s1",status="active"} 1"#),
            "{text}"
        );
        assert!(
            text.contains(
                r#"valwatch_validator_key_status{chain="dev",validator="b",status="exited"} 1"#
            ),
            "{text}"
        );
    }

    #[test]
    fn categories_of_one_chain_leave_other_chains_and_drop_their_own_stale_series() {
        let metrics = Metrics::new();
        let trackers: Vec<(ChainTracker, CategoryId)> = ["one", "two"]
            .iter()
            .map(|chain| {
                let tracker = ChainTracker::new("test", metrics.for_chain(chain));
                tracker.set_validators(set(&[("s1", &["a"])], 10));
                let status = tracker
                    .category("key_status", "Key status.", "status", &["active", "exited"])
                    .expect("category");
                tracker.update().set_category(status, 0, Some(0));
                (tracker, status)
            })
            .collect();
        // Chain one moves its key to another label and to another status.
        let (one, status) = &trackers[0];
        one.set_validators(set(&[("s2", &["a"])], 10));
        one.update().set_category(*status, 0, Some(1));
        let text = metrics.encode();
        for line in [
            r#"valwatch_key_status{chain="one",group="s2",status="exited"} 1"#,
            r#"valwatch_validator_key_status{chain="one",validator="a",status="exited"} 1"#,
            r#"valwatch_key_status{chain="two",group="s1",status="active"} 1"#,
            r#"valwatch_validator_key_status{chain="two",validator="a",status="active"} 1"#,
        ] {
            assert!(text.contains(line), "missing {line} in\n{text}");
        }
        for gone in [
            r#"valwatch_key_status{chain="one",group="s1""#,
            r#"valwatch_validator_key_status{chain="one",validator="a",status="active"}"#,
        ] {
            assert!(!text.contains(gone), "stale {gone} in\n{text}");
        }
    }
}
