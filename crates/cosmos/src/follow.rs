//! The pure parts of following a chain: which heights to judge after a restart, what one judged
//! height means for each watched validator, valwatch's own count of misses in the slashing
//! window, block-time estimation and stall detection. No I/O and no clock: times are passed
//! in, so every rule here is tested by hand-fed values.

use std::collections::{HashMap, VecDeque};

use valwatch_core::{CounterId, DutyId, RecordOutcome, Update, ValidatorId, ValidatorSet};

use crate::address::{self, Address};
use crate::height::{HeightVerdict, SetMember};

/// Where to resume, and which heights are given up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Resume {
    /// The next height to judge.
    pub next: u64,
    /// Heights that will never be judged (first, last), when the gap was too long or the nodes
    /// pruned them.
    pub skipped: Option<(u64, u64)>,
}

/// The next height to judge. `last_judged` is the checkpoint (`None` on a fresh start: judging
/// starts at the newest height that can be judged), `head` the newest block the nodes have
/// (height `head - 1` is the newest judgeable: its votes are in block `head`), `earliest` the
/// oldest block they still keep, `backfill` the most heights judged back.
pub fn resume(last_judged: Option<u64>, head: u64, earliest: Option<u64>, backfill: u64) -> Resume {
    let newest = head.saturating_sub(1).max(1);
    let Some(last) = last_judged else {
        return Resume {
            next: newest,
            skipped: None,
        };
    };
    let mut next = last + 1;
    let mut skipped = None;
    if newest >= next && newest - next + 1 > backfill {
        let kept_from = (newest + 1).saturating_sub(backfill).max(next);
        if kept_from > next {
            skipped = Some((next, kept_from - 1));
            next = kept_from;
        }
    }
    if let Some(earliest) = earliest
        && next < earliest
    {
        skipped = Some((skipped.map_or(next, |(first, _)| first), earliest - 1));
        next = earliest;
    }
    Resume { next, skipped }
}

/// Watched validators by consensus address.
#[derive(Debug, Clone, Default)]
pub struct Watched {
    by_address: HashMap<Address, ValidatorId>,
}

impl Watched {
    /// From a validator set whose keys are hex consensus addresses (others are ignored).
    pub fn from_set(set: &ValidatorSet) -> Self {
        Watched {
            by_address: set
                .ids()
                .filter_map(|id| address::from_hex(set.key(id)).ok().map(|a| (a, id)))
                .collect(),
        }
    }

    /// The id of a watched address.
    pub fn id(&self, address: &Address) -> Option<ValidatorId> {
        self.by_address.get(address).copied()
    }

    /// Number of watched validators.
    pub fn len(&self) -> usize {
        self.by_address.len()
    }

    /// Whether nothing is watched.
    pub fn is_empty(&self) -> bool {
        self.by_address.is_empty()
    }
}

/// What one judged height means for one watched validator that was in the set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeightRecord {
    /// Watched validator.
    pub id: ValidatorId,
    /// Its consensus address.
    pub address: Address,
    /// ABSENT from block H+1's last commit.
    pub missed: bool,
    /// Missed while more than 2/3 of the power signed.
    pub solo_missed: bool,
    /// Proposed block H.
    pub proposed: bool,
    /// Proposed block H and it had no transactions.
    pub empty_proposed: bool,
}

/// The records of one height: one per watched validator in the set at H. Validators not in the
/// set at H get none: their duty at H is unknown, never missed.
pub fn records(verdict: &HeightVerdict, set: &[SetMember], watched: &Watched) -> Vec<HeightRecord> {
    set.iter()
        .enumerate()
        .filter_map(|(index, member)| {
            let id = watched.id(&member.address)?;
            let proposed = verdict.proposer_index == Some(index);
            Some(HeightRecord {
                id,
                address: member.address,
                missed: verdict.missed(index),
                solo_missed: verdict.solo_miss(index),
                proposed,
                empty_proposed: proposed && verdict.empty_block,
            })
        })
        .collect()
}

/// Handles of the duty and counters one height moves.
#[derive(Debug, Clone, Copy)]
pub struct HeightIds {
    /// The `block` duty (signed / missed, window, consecutive misses).
    pub duty: DutyId,
    /// Blocks proposed.
    pub proposed: CounterId,
    /// Empty blocks proposed.
    pub empty_proposed: CounterId,
    /// Solo misses.
    pub solo_missed: CounterId,
}

/// Records one height into the tracker. Counters move only for a height the validator's window
/// did not know yet ([`RecordOutcome::New`]), so judging a height again after a restart never
/// counts it twice. Returns the number of new records.
pub fn apply(
    update: &mut Update<'_>,
    ids: &HeightIds,
    height: u64,
    records: &[HeightRecord],
) -> usize {
    let mut new = 0;
    for record in records {
        let outcome = update.record(ids.duty, record.id, height, record.missed);
        if outcome != RecordOutcome::New {
            continue;
        }
        new += 1;
        update.count(ids.proposed, record.id, u64::from(record.proposed));
        update.count(
            ids.empty_proposed,
            record.id,
            u64::from(record.empty_proposed),
        );
        update.count(ids.solo_missed, record.id, u64::from(record.solo_missed));
    }
    new
}

/// valwatch's own count of each watched validator's misses in the last `window` judged heights:
/// the heights of its misses, newest last.
#[derive(Debug, Clone, Default)]
pub struct MissLog {
    window: u64,
    misses: HashMap<Address, VecDeque<u64>>,
}

impl MissLog {
    /// An empty log over windows of `window` heights.
    pub fn new(window: u64) -> Self {
        MissLog {
            window: window.max(1),
            misses: HashMap::new(),
        }
    }

    /// The window length.
    pub fn window(&self) -> u64 {
        self.window
    }

    /// Changes the window length (misses older than the new window are dropped at the next
    /// count).
    pub fn set_window(&mut self, window: u64) {
        self.window = window.max(1);
    }

    /// Notes a miss of `address` at `height` (heights may come in any order; duplicates are
    /// ignored).
    pub fn miss(&mut self, address: Address, height: u64) {
        let log = self.misses.entry(address).or_default();
        if log.contains(&height) {
            return;
        }
        let at = log.partition_point(|h| *h < height);
        log.insert(at, height);
    }

    /// Misses of `address` in the window ending at `newest`.
    pub fn count(&mut self, address: &Address, newest: u64) -> u64 {
        let Some(log) = self.misses.get_mut(address) else {
            return 0;
        };
        let oldest = newest.saturating_sub(self.window - 1);
        while log.front().is_some_and(|h| *h < oldest) {
            log.pop_front();
        }
        log.iter().filter(|h| **h <= newest).count() as u64
    }

    /// Forgets everything.
    pub fn clear(&mut self) {
        self.misses.clear();
    }
}

/// Block time, smoothed over recent blocks.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct BlockTime {
    estimate: Option<f64>,
}

/// Weight of the newest block in the average: about the last ten blocks count.
const BLOCK_TIME_WEIGHT: f64 = 0.1;

impl BlockTime {
    /// Adds the time between two consecutive blocks (seconds; ignored unless positive and
    /// below an hour, which only a halt produces).
    pub fn observe(&mut self, seconds: f64) {
        if !(seconds > 0.0 && seconds < 3600.0) {
            return;
        }
        self.estimate = Some(match self.estimate {
            None => seconds,
            Some(old) => old + BLOCK_TIME_WEIGHT * (seconds - old),
        });
    }

    /// The estimate, if any block pair was seen.
    pub fn seconds(&self) -> Option<f64> {
        self.estimate
    }
}

/// Stall detection: the chain is stalled when no new block appeared for `after` seconds. The
/// newest block's own time counts as its appearance too, so a chain already halted when
/// valwatch starts is reported at once, not `after` seconds later.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Stall {
    head: Option<u64>,
    advanced_at: f64,
}

impl Stall {
    /// Notes the head seen at `now` (Unix seconds) and the newest block's time (Unix seconds,
    /// if known).
    pub fn observe(&mut self, head: u64, head_time: Option<f64>, now: f64) {
        match self.head {
            None => {
                self.head = Some(head);
                // A node clock ahead of ours must not hide a stall: never later than now.
                self.advanced_at = head_time.map_or(now, |t| t.min(now));
            }
            Some(known) if head > known => {
                self.head = Some(head);
                self.advanced_at = now;
            }
            Some(_) => {}
        }
    }

    /// Whether the chain is stalled at `now`.
    pub fn stalled(&self, now: f64, after: f64) -> bool {
        self.head.is_some() && now - self.advanced_at > after
    }

    /// Seconds since the head last advanced.
    pub fn age(&self, now: f64) -> Option<f64> {
        self.head.map(|_| (now - self.advanced_at).max(0.0))
    }
}

/// The stall threshold when none is configured: twenty block times, at least 30 seconds.
pub fn default_stall_after(block_time: Option<f64>) -> f64 {
    block_time.map_or(30.0, |t| (t * 20.0).max(30.0))
}

/// Seconds between polls when none is configured: about one block time, within 0.2 to 5 s.
pub fn default_poll(block_time: Option<f64>) -> f64 {
    block_time.map_or(1.0, |t| t.clamp(0.2, 5.0))
}

/// Parses an RFC 3339 block time into Unix seconds.
pub fn unix_seconds(rfc3339: &str) -> Option<f64> {
    let time = tendermint::Time::parse_from_rfc3339(rfc3339).ok()?;
    Some(time.unix_timestamp_nanos() as f64 / 1e9)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::height::{self, Flag};
    use valwatch_core::{ChainTracker, LabelMap, Metrics, SeriesPolicy};

    #[test]
    fn resume_bounds_the_backfill_and_respects_pruning() {
        assert_eq!(
            resume(None, 100, None, 1000),
            Resume {
                next: 99,
                skipped: None
            }
        );
        assert_eq!(
            resume(Some(50), 100, None, 1000),
            Resume {
                next: 51,
                skipped: None
            }
        );
        // Up to date: wait for the next block.
        assert_eq!(
            resume(Some(99), 100, None, 10),
            Resume {
                next: 100,
                skipped: None
            }
        );
        // 49 judgeable heights (51..=99) with room for 10: 51..=89 skipped.
        assert_eq!(
            resume(Some(50), 100, None, 10),
            Resume {
                next: 90,
                skipped: Some((51, 89))
            }
        );
        // Exactly the room: nothing skipped.
        assert_eq!(
            resume(Some(89), 100, None, 10),
            Resume {
                next: 90,
                skipped: None
            }
        );
        // Pruned below 70.
        assert_eq!(
            resume(Some(50), 100, Some(70), 1000),
            Resume {
                next: 70,
                skipped: Some((51, 69))
            }
        );
        assert_eq!(
            resume(Some(10), 100, Some(70), 10),
            Resume {
                next: 90,
                skipped: Some((11, 89))
            }
        );
        // No backfill at all.
        assert_eq!(
            resume(Some(50), 100, None, 0),
            Resume {
                next: 100,
                skipped: Some((51, 99))
            }
        );
    }

    fn set_of(n: u8) -> Vec<SetMember> {
        (1..=n)
            .map(|i| SetMember {
                address: [i; 20],
                power: 10,
            })
            .collect()
    }

    fn verdict(
        h: u64,
        set: &[SetMember],
        flags: &[Flag],
        proposer: u8,
        txs: usize,
    ) -> HeightVerdict {
        height::verdict_for_tests(h, set, flags, proposer, txs)
    }

    fn tracker(keys: &[Address]) -> (Metrics, ChainTracker, HeightIds) {
        let metrics = Metrics::new();
        let tracker = ChainTracker::new("cosmos", metrics.for_chain("dev"));
        let labels: LabelMap = [(
            "ops".to_string(),
            keys.iter().map(address::to_hex).collect(),
        )]
        .into();
        tracker.set_validators(
            ValidatorSet::build(
                &labels,
                &[],
                &SeriesPolicy::default(),
                |k| Ok(k.to_string()),
            )
            .expect("set"),
        );
        let ids = HeightIds {
            duty: tracker.duty("block", 100).expect("duty"),
            proposed: tracker.counter("p", "p", &[]).expect("c"),
            empty_proposed: tracker.counter("e", "e", &[]).expect("c"),
            solo_missed: tracker.counter("s", "s", &[]).expect("c"),
        };
        (metrics, tracker, ids)
    }

    #[test]
    fn records_cover_watched_members_only_and_nil_is_signed() {
        let set = set_of(4);
        let (_, tracker, _) = tracker(&[[2; 20], [3; 20], [9; 20]]);
        let watched = Watched::from_set(&tracker.validators());
        assert_eq!(watched.len(), 3);
        let v = verdict(
            7,
            &set,
            &[Flag::Commit, Flag::Nil, Flag::Absent, Flag::Commit],
            2,
            0,
        );
        let records = records(&v, &set, &watched);
        assert_eq!(records.len(), 2, "validator 9 is not in the set: no record");
        let two = records.iter().find(|r| r.address == [2; 20]).expect("2");
        assert!(!two.missed && two.proposed && two.empty_proposed);
        let three = records.iter().find(|r| r.address == [3; 20]).expect("3");
        assert!(three.missed && three.solo_missed && !three.proposed);
    }

    #[test]
    fn applying_a_height_twice_counts_it_once() {
        let set = set_of(4);
        let (metrics, tracker, ids) = tracker(&[[2; 20], [3; 20]]);
        let watched = Watched::from_set(&tracker.validators());
        let v = verdict(
            7,
            &set,
            &[Flag::Commit, Flag::Commit, Flag::Absent, Flag::Commit],
            2,
            1,
        );
        let recs = records(&v, &set, &watched);
        assert_eq!(apply(&mut tracker.update(), &ids, 7, &recs), 2);
        assert_eq!(apply(&mut tracker.update(), &ids, 7, &recs), 0);
        let text = metrics.encode();
        for line in [
            r#"valwatch_p_total{chain="dev",group="ops"} 1"#,
            r#"valwatch_e_total{chain="dev",group="ops"} 0"#,
            r#"valwatch_s_total{chain="dev",group="ops"} 1"#,
            r#"valwatch_duty_missed_total{chain="dev",group="ops",duty="block"} 1"#,
            r#"valwatch_duty_performed_total{chain="dev",group="ops",duty="block"} 1"#,
        ] {
            assert!(text.contains(line), "{line} in\n{text}");
        }
    }

    #[test]
    fn miss_log_counts_the_window_only() {
        let mut log = MissLog::new(5);
        let a = [1; 20];
        for h in [10, 12, 12, 11, 14] {
            log.miss(a, h);
        }
        assert_eq!(log.count(&a, 14), 4);
        assert_eq!(log.count(&a, 15), 3, "window 11..=15");
        assert_eq!(log.count(&a, 20), 0);
        assert_eq!(log.count(&[2; 20], 20), 0);
        log.set_window(100);
        log.miss(a, 21);
        assert_eq!(log.count(&a, 21), 1);
    }

    #[test]
    fn block_time_is_smoothed_and_ignores_halts() {
        let mut bt = BlockTime::default();
        assert_eq!(bt.seconds(), None);
        bt.observe(6.0);
        bt.observe(-1.0);
        bt.observe(7200.0);
        assert_eq!(bt.seconds(), Some(6.0));
        bt.observe(16.0);
        assert!((bt.seconds().expect("some") - 7.0).abs() < 1e-9);
        assert_eq!(default_stall_after(Some(0.5)), 30.0);
        assert_eq!(default_stall_after(Some(6.0)), 120.0);
        assert_eq!(default_poll(Some(0.05)), 0.2);
    }

    #[test]
    fn stall_is_reported_after_the_threshold_and_clears_with_a_new_block() {
        let mut stall = Stall::default();
        assert!(!stall.stalled(1000.0, 30.0), "nothing seen: not stalled");
        stall.observe(10, Some(995.0), 1000.0);
        assert!(!stall.stalled(1020.0, 30.0));
        stall.observe(10, Some(995.0), 1031.0);
        assert!(stall.stalled(1031.0, 30.0));
        assert_eq!(stall.age(1031.0), Some(36.0));
        stall.observe(11, None, 1032.0);
        assert!(!stall.stalled(1032.0, 30.0));
        // Halted before we started: the block time tells.
        let mut halted = Stall::default();
        halted.observe(10, Some(500.0), 1000.0);
        assert!(halted.stalled(1000.0, 30.0));
        // A node clock in the future never hides a stall.
        let mut ahead = Stall::default();
        ahead.observe(10, Some(5000.0), 1000.0);
        assert!(ahead.stalled(1031.0, 30.0));
    }

    #[test]
    fn rfc3339_block_times() {
        let t = unix_seconds("2024-08-20T10:00:01.5Z").expect("parses");
        assert_eq!(t, 1_724_148_001.5);
        assert!(unix_seconds("yesterday").is_none());
    }
}
