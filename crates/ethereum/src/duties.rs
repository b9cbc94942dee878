//! Turning an analysed epoch into tracker records: pure, no I/O.
//!
//! [`DutyMetrics::register`] registers the Ethereum duties, counters and gauges once;
//! [`record_epoch`] writes one [`EpochAnalysis`] for the watched validators into an
//! [`Update`]:
//!
//! - duty `attestation` (unit = epoch) for every watched committee member of the epoch: missed
//!   when no attestation of it was included by the end of the next epoch. A validator that is
//!   not in a committee (not active) has no duty and is not recorded at all;
//! - duty `proposal` (unit = slot) only for slots whose proposer is watched;
//! - duty `sync` (unit = slot) for watched sync-committee members, only for slots with a
//!   block: an empty slot is not the members' fault. A member holding several committee
//!   positions counts as signed when any of them is set;
//! - grouped counters (delayed attestations, not-timely votes by vote and reason, inclusion
//!   delay sum), moved only when the attestation's record was [`RecordOutcome::New`], so an
//!   epoch judged twice (restart, reorg) is never counted twice;
//! - the sync-committee membership gauge.

use std::collections::HashMap;

use valwatch_core::{
    Aggregate, CategoryId, ChainTracker, CounterId, DutyId, GaugeId, MetricsError, RecordOutcome,
    Update, ValidatorId,
};

use crate::analysis::{AttestationOutcome, EpochAnalysis, GENESIS_SLOT, ProposalOutcome};
use crate::beacon::{Block, ValidatorStatus};
use crate::keys::Watched;

/// Window of the attestation duty, in epochs: 225 epochs are one day on mainnet.
pub const ATTESTATION_WINDOW_EPOCHS: u32 = 225;
/// Window of the slot-unit duties (proposal, sync), in epochs' worth of slots: 64 epochs
/// (≈ 7 h on mainnet, 2048 slots = 256 bytes per window). These duties are sparse: a window
/// exists only for validators that proposed or sat in a sync committee, so a million watched
/// keys cost nothing until they have the duty. The counters, not the window, are the
/// long-term record of proposals.
pub const SLOT_WINDOW_EPOCHS: u32 = 64;

/// The votes of an attestation.
pub const VOTES: [&str; 3] = ["source", "target", "head"];
/// Why a vote did not earn its timeliness flag.
pub const REASONS: [&str; 2] = ["wrong", "late"];

/// Handles of everything the Ethereum watcher records per validator.
#[derive(Debug, Clone, Copy)]
pub struct DutyMetrics {
    /// Attestation duty, unit = epoch.
    pub attestation: DutyId,
    /// Block proposal duty, unit = slot.
    pub proposal: DutyId,
    /// Sync-committee signature duty, unit = slot.
    pub sync: DutyId,
    /// Attestations included with a correct head but too late for the head flag, by cause
    /// (`empty_slots`: only empty slots delayed it; `late`: it missed a block).
    pub delayed: [CounterId; 2],
    /// Not-timely votes, `[vote][reason]` (see [`VOTES`], [`REASONS`]).
    pub not_timely: [[CounterId; 2]; 3],
    /// Sum of the raw inclusion delays of included attestations.
    pub inclusion_delay: CounterId,
    /// 1 while the validator is in the sync committee of the last analysed epoch.
    pub sync_member: GaugeId,
    /// Validator status (the Beacon API's nine).
    pub status: CategoryId,
}

/// Every status name, in [`ValidatorStatus::ALL`] order.
pub fn status_names() -> [&'static str; 9] {
    ValidatorStatus::ALL.map(ValidatorStatus::name)
}

/// Position of `status` among [`ValidatorStatus::ALL`].
pub fn status_index(status: ValidatorStatus) -> usize {
    ValidatorStatus::ALL
        .iter()
        .position(|s| *s == status)
        .unwrap_or(usize::MAX)
}

impl DutyMetrics {
    /// Registers the duties and metrics in `tracker`; `slots_per_epoch` sizes the slot windows
    /// (use [`ChainTracker::resize_duty`] once the node's spec is known).
    pub fn register(tracker: &ChainTracker, slots_per_epoch: u64) -> Result<Self, MetricsError> {
        let slot_window = slot_window(slots_per_epoch);
        let attestation = tracker.duty("attestation", ATTESTATION_WINDOW_EPOCHS)?;
        let proposal = tracker.sparse_duty("proposal", slot_window)?;
        let sync = tracker.sparse_duty("sync", slot_window)?;
        let delayed_help = "Attestations included with a correct head vote but after the next \
                            slot, so without the head reward; cause empty_slots when only empty \
                            slots delayed them.";
        let delayed = [
            tracker.counter(
                "ethereum_attestations_delayed",
                delayed_help,
                &[("cause", "empty_slots")],
            )?,
            tracker.counter(
                "ethereum_attestations_delayed",
                delayed_help,
                &[("cause", "late")],
            )?,
        ];
        let votes_help = "Included attestations whose source, target or head vote did not earn \
                          its timeliness flag: reason wrong (incorrect vote) or late (correct \
                          but included too late).";
        let mut not_timely = [[delayed[0]; 2]; 3];
        for (v, vote) in VOTES.iter().enumerate() {
            for (r, reason) in REASONS.iter().enumerate() {
                not_timely[v][r] = tracker.counter(
                    "ethereum_attestation_votes_not_timely",
                    votes_help,
                    &[("vote", vote), ("reason", reason)],
                )?;
            }
        }
        let inclusion_delay = tracker.counter(
            "ethereum_attestation_inclusion_delay_slots",
            "Sum of the inclusion delays (slots, empty slots included) of included attestations; \
             divide by valwatch_duty_performed_total{duty=\"attestation\"} for the mean.",
            &[],
        )?;
        let sync_member = tracker.gauge(
            "ethereum_sync_committee_member",
            "1 while the validator is in the sync committee of the last analysed epoch.",
            &[Aggregate::Sum],
            &[],
        )?;
        let status = tracker.category(
            "ethereum_key_status",
            "Beacon API status of the watched keys.",
            "status",
            &status_names(),
        )?;
        Ok(DutyMetrics {
            attestation,
            proposal,
            sync,
            delayed,
            not_timely,
            inclusion_delay,
            sync_member,
            status,
        })
    }
}

/// Window length of the slot-unit duties for `slots_per_epoch`.
pub fn slot_window(slots_per_epoch: u64) -> u32 {
    u32::try_from(slots_per_epoch.max(1) * u64::from(SLOT_WINDOW_EPOCHS)).unwrap_or(u32::MAX)
}

/// What recording one epoch did, for logs and tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EpochTally {
    /// Watched validators with an attestation duty.
    pub attesters: usize,
    /// Of which missed.
    pub missed_attestations: usize,
    /// Watched proposer slots judged.
    pub proposals: usize,
    /// Of which missed.
    pub missed_proposals: usize,
    /// Watched (member, slot) sync duties judged.
    pub sync_duties: usize,
    /// Of which missed.
    pub missed_sync: usize,
    /// Records that replaced an earlier verdict (a reorg changed the outcome).
    pub changed: usize,
}

/// Proposals read from blocks alone, for nodes that no longer serve an epoch's proposer
/// duties: every block of `slots` was proposed by its `proposer_index`. Empty slots cannot be
/// judged this way (their proposer is unknown), so they are left out: never a false miss. The
/// genesis block was proposed by nobody.
pub fn proposals_from_blocks(
    blocks: &[Block],
    slots: std::ops::Range<u64>,
) -> Vec<ProposalOutcome> {
    let mut proposals: Vec<ProposalOutcome> = blocks
        .iter()
        .filter(|b| slots.contains(&b.slot) && b.slot != GENESIS_SLOT)
        .map(|b| ProposalOutcome {
            slot: b.slot,
            proposer_index: b.proposer_index,
            proposed: true,
        })
        .collect();
    proposals.sort_unstable_by_key(|p| p.slot);
    proposals
}

/// The watched attesters of the epoch with their outcomes, ordered by tracker id. The
/// analysis lists them in committee order, a random permutation of the validators: recording
/// in that order would touch a random window (and counters) per validator, a few cache misses
/// each on a million. Gathering the outcomes by id first costs one pass over a table of
/// `ids` entries and makes the recording a walk through memory in order.
fn attesters_by_id<'a>(
    analysis: &'a EpochAnalysis<'_>,
    watched: &Watched,
    ids: usize,
) -> impl Iterator<Item = (ValidatorId, AttestationOutcome)> + 'a {
    const NOT_ATTESTER: u32 = u32::MAX;
    let mut position_of = vec![NOT_ATTESTER; ids];
    for (position, member) in analysis.committees.members().iter().enumerate() {
        if let Some(slot) = watched
            .get(u64::from(*member))
            .and_then(|id| position_of.get_mut(id as usize))
        {
            *slot = position as u32;
        }
    }
    let outcomes = &analysis.outcomes;
    position_of
        .into_iter()
        .enumerate()
        .filter(|(_, position)| *position != NOT_ATTESTER)
        .map(move |(id, position)| (id as ValidatorId, outcomes[position as usize]))
}

/// Records `analysis` for the watched validators. `proposals` replaces
/// `analysis.proposals` when given (see [`proposals_from_blocks`]).
pub fn record_epoch(
    update: &mut Update<'_>,
    metrics: &DutyMetrics,
    analysis: &EpochAnalysis<'_>,
    proposals: Option<&[ProposalOutcome]>,
    watched: &Watched,
) -> EpochTally {
    let mut tally = EpochTally::default();
    let note = |outcome: RecordOutcome, tally: &mut EpochTally| {
        if outcome == RecordOutcome::Changed {
            tally.changed += 1;
        }
    };
    for (id, o) in attesters_by_id(analysis, watched, update.validators().len()) {
        let missed = !o.included();
        tally.attesters += 1;
        tally.missed_attestations += usize::from(missed);
        let outcome = update.record(metrics.attestation, id, analysis.epoch, missed);
        note(outcome, &mut tally);
        if !outcome.is_new() || missed {
            continue;
        }
        let delay = o.inclusion_delay().unwrap_or(0);
        update.count(metrics.inclusion_delay, id, delay);
        if o.head_correct() && !o.head_timely() {
            let cause = usize::from(o.adjusted_delay().unwrap_or(0) > 1);
            update.count(metrics.delayed[cause], id, 1);
        }
        let verdicts = [
            (o.source_correct(), o.source_timely()),
            (o.target_correct(), o.target_timely()),
            (o.head_correct(), o.head_timely()),
        ];
        for (vote, (correct, timely)) in verdicts.into_iter().enumerate() {
            if !timely {
                let reason = usize::from(correct);
                update.count(metrics.not_timely[vote][reason], id, 1);
            }
        }
    }

    for proposal in proposals.unwrap_or(&analysis.proposals) {
        let Some(id) = watched.get(proposal.proposer_index) else {
            continue;
        };
        tally.proposals += 1;
        tally.missed_proposals += usize::from(!proposal.proposed);
        let outcome = update.record(metrics.proposal, id, proposal.slot, !proposal.proposed);
        note(outcome, &mut tally);
    }

    let members: Vec<Option<ValidatorId>> = analysis
        .sync_committee
        .iter()
        .map(|index| watched.get(*index))
        .collect();
    if !analysis.sync_committee.is_empty() {
        for (_, id) in watched.iter() {
            update.set_gauge(metrics.sync_member, id, Some(0.0));
        }
        for id in members.iter().flatten() {
            update.set_gauge(metrics.sync_member, *id, Some(1.0));
        }
    }
    let mut signed_any: HashMap<ValidatorId, bool> = HashMap::new();
    for slot in &analysis.sync {
        if !slot.block_present {
            // No duty without a block. If a reorg emptied a slot judged before, its verdicts
            // are forgotten (counters keep what they counted).
            for id in members.iter().flatten() {
                if update.forget(metrics.sync, *id, slot.slot) {
                    tally.changed += 1;
                }
            }
            continue;
        }
        if slot.signed.len() != members.len() {
            continue;
        }
        signed_any.clear();
        for (member, signed) in members.iter().zip(&slot.signed) {
            if let Some(id) = member {
                *signed_any.entry(*id).or_insert(false) |= *signed;
            }
        }
        for (id, signed) in &signed_any {
            tally.sync_duties += 1;
            tally.missed_sync += usize::from(!signed);
            let outcome = update.record(metrics.sync, *id, slot.slot, !signed);
            note(outcome, &mut tally);
        }
    }
    tally
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::{EpochInput, analyse_epoch};
    use crate::beacon::{Attestation, Bitlist, ChainSpec, Checkpoint, EpochCommittees, Fork};
    use valwatch_core::{LabelMap, Metrics, SeriesPolicy, ValidatorSet};

    fn root(n: u64) -> [u8; 32] {
        [n as u8; 32]
    }

    fn block(slot: u64, parent: u64, attestations: Vec<Attestation>, sync: u8) -> Block {
        Block {
            fork: Fork::Deneb,
            slot,
            proposer_index: slot * 10,
            parent_root: root(parent),
            attestations,
            sync_bits: Some(vec![sync]),
        }
    }

    fn attestation(slot: u64, bits: &str, head: u64, target: u64) -> Attestation {
        Attestation {
            slot,
            committee_bits: 1,
            aggregation_bits: Bitlist::from_hex(bits).expect("bits"),
            head_root: root(head),
            source: Checkpoint {
                epoch: 0,
                root: root(0),
            },
            target: Checkpoint {
                epoch: 1,
                root: root(target),
            },
        }
    }

    /// Epoch 1 of 4 slots, one committee of two per slot (validators 0..8).
    fn scenario() -> (ChainSpec, EpochCommittees, Vec<Block>) {
        let spec = ChainSpec {
            slots_per_epoch: 4,
            min_attestation_inclusion_delay: 1,
            seconds_per_slot: 1,
            sync_committee_size: 8,
            epochs_per_sync_committee_period: 8,
            fork_epochs: vec![(Fork::Altair, 0), (Fork::Deneb, 0)],
        };
        let committees =
            EpochCommittees::new(1, 4, (0..4u64).map(|s| (4 + s, 0, vec![2 * s, 2 * s + 1])))
                .expect("committees");
        let blocks = vec![
            block(3, 2, vec![], 0xff),
            block(4, 3, vec![], 0xff),
            // v0 on time; v1 never.
            block(5, 4, vec![attestation(4, "0x05", 4, 4)], 0b1111_1101),
            // v2 wrong head at delay 1, v3 correct.
            block(
                6,
                5,
                vec![attestation(5, "0x05", 4, 4), attestation(5, "0x06", 5, 4)],
                0xff,
            ),
            // slot 7 empty: v4 included at 8, delay 2 (only empty slots), correct head.
            block(8, 6, vec![attestation(6, "0x05", 6, 4)], 0xff),
            // v5 wrong target, late (delay 5).
            block(11, 8, vec![attestation(6, "0x06", 6, 9)], 0xff),
        ];
        (spec, committees, blocks)
    }

    fn tracker(keys: &[&str]) -> (Metrics, ChainTracker, DutyMetrics, Watched) {
        let metrics = Metrics::new();
        let tracker = ChainTracker::new("ethereum", metrics.for_chain("dev"));
        let labels: LabelMap = [(
            "ops".to_string(),
            keys.iter().map(|k| k.to_string()).collect(),
        )]
        .into();
        let set = ValidatorSet::build(
            &labels,
            &[],
            &SeriesPolicy::default(),
            |k| Ok(k.to_string()),
        )
        .expect("set");
        tracker.set_validators(set);
        let duties = DutyMetrics::register(&tracker, 4).expect("register");
        let set = tracker.validators();
        let watched = Watched::new(
            set.ids()
                .map(|id| (set.key(id).parse::<u64>().expect("index"), id)),
        );
        (metrics, tracker, duties, watched)
    }

    fn value(text: &str, series: &str) -> f64 {
        text.lines()
            .find_map(|l| l.strip_prefix(series)?.trim().parse().ok())
            .unwrap_or_else(|| panic!("no {series} in\n{text}"))
    }

    #[test]
    fn records_every_duty_and_counts_votes_once() {
        let (spec, committees, blocks) = scenario();
        // Proposers: slot * 10; validator 50 proposed 5; 70 (slot 7) did not.
        let duties: Vec<_> = (4..8)
            .map(|slot| crate::beacon::ProposerDuty {
                slot,
                validator_index: slot * 10,
            })
            .collect();
        let sync_committee = [1, 1, 2, 3, 50, 60, 70, 80];
        let input = EpochInput {
            epoch: 1,
            committees: &committees,
            blocks: &blocks,
            known_roots: &[],
            proposer_duties: &duties,
            sync_committee: &sync_committee,
        };
        let analysis = analyse_epoch(&spec, &input).expect("analysis");
        let (metrics, tracker, ids, watched) =
            tracker(&["0", "1", "2", "3", "4", "5", "50", "70", "99"]);
        let tally = record_epoch(&mut tracker.update(), &ids, &analysis, None, &watched);
        assert_eq!(tally.attesters, 6);
        assert_eq!(tally.missed_attestations, 1);
        assert_eq!((tally.proposals, tally.missed_proposals), (2, 1));
        // Slots 4, 5, 6 have blocks (7 is empty); members 1, 2, 3, 50 and 70 are watched.
        assert_eq!(tally.sync_duties, 15);
        // Block 5's bits 0b1111_1101: position 1 (validator 1) unset, but validator 1 also holds
        // position 0, which is set: signed.
        assert_eq!(tally.missed_sync, 0);
        let text = metrics.encode();
        let at = |series: &str| value(&text, series);
        assert_eq!(
            at(r#"valwatch_duty_missed_total{chain="dev",group="ops",duty="attestation"}"#),
            1.0
        );
        assert_eq!(
            at(
                r#"valwatch_validator_duty_missed_total{chain="dev",validator="1",duty="attestation"}"#
            ),
            1.0
        );
        assert_eq!(
            at(
                r#"valwatch_validator_duty_missed_total{chain="dev",validator="70",duty="proposal"}"#
            ),
            1.0
        );
        assert_eq!(
            at(
                r#"valwatch_validator_duty_performed_total{chain="dev",validator="50",duty="proposal"}"#
            ),
            1.0
        );
        // v2 wrong head, v5 wrong target (hence wrong head too), v5 late source.
        assert_eq!(
            at(
                r#"valwatch_ethereum_attestation_votes_not_timely_total{chain="dev",group="ops",vote="head",reason="wrong"}"#
            ),
            2.0
        );
        assert_eq!(
            at(
                r#"valwatch_ethereum_attestation_votes_not_timely_total{chain="dev",group="ops",vote="target",reason="wrong"}"#
            ),
            1.0
        );
        assert_eq!(
            at(
                r#"valwatch_ethereum_attestation_votes_not_timely_total{chain="dev",group="ops",vote="source",reason="late"}"#
            ),
            1.0
        );
        // v4: correct head at delay 2 because slot 7 was empty.
        assert_eq!(
            at(
                r#"valwatch_ethereum_attestations_delayed_total{chain="dev",group="ops",cause="empty_slots"}"#
            ),
            1.0
        );
        assert_eq!(
            at(
                r#"valwatch_ethereum_attestations_delayed_total{chain="dev",group="ops",cause="late"}"#
            ),
            0.0
        );
        // 1 + 1 + 1 + 2 + 5 slots of delay.
        assert_eq!(
            at(
                r#"valwatch_ethereum_attestation_inclusion_delay_slots_total{chain="dev",group="ops"}"#
            ),
            10.0
        );
        assert_eq!(
            at(r#"valwatch_ethereum_sync_committee_member{chain="dev",group="ops"}"#),
            5.0
        );
        // Recording the same epoch again changes nothing.
        let again = record_epoch(&mut tracker.update(), &ids, &analysis, None, &watched);
        assert_eq!(again.changed, 0);
        assert_eq!(metrics.encode(), text);
        // A validator without a duty (99) has no attestation record.
        let ninety_nine = tracker.validators().id_of("99").expect("99");
        assert_eq!(
            tracker.update().recorded(ids.attestation, ninety_nine, 1),
            None
        );
    }

    #[test]
    fn empty_slots_are_nobodys_fault_and_block_proposals_need_no_duties() {
        let (spec, committees, blocks) = scenario();
        let sync_committee = [0u64; 8];
        let input = EpochInput {
            epoch: 1,
            committees: &committees,
            blocks: &blocks,
            known_roots: &[],
            proposer_duties: &[],
            sync_committee: &sync_committee,
        };
        let analysis = analyse_epoch(&spec, &input).expect("analysis");
        let (_metrics, tracker, ids, watched) = tracker(&["0", "70", "40"]);
        let proposals = proposals_from_blocks(&blocks, 4..8);
        let tally = record_epoch(
            &mut tracker.update(),
            &ids,
            &analysis,
            Some(&proposals),
            &watched,
        );
        // Validator 0 holds all 8 positions; slots 4, 5, 6 have blocks, slot 7 none.
        assert_eq!((tally.sync_duties, tally.missed_sync), (3, 0));
        // 40 proposed slot 4; 70's slot 7 is empty but without duties nobody is blamed.
        assert_eq!((tally.proposals, tally.missed_proposals), (1, 0));
        let id0 = tracker.validators().id_of("0").expect("0");
        assert_eq!(tracker.update().recorded(ids.sync, id0, 7), None);
        assert_eq!(tracker.update().recorded(ids.sync, id0, 6), Some(false));
    }

    #[test]
    fn a_slot_emptied_by_a_reorg_loses_its_sync_verdicts() {
        let (spec, committees, blocks) = scenario();
        let sync_committee = [0u64; 8];
        let (_metrics, tracker, ids, watched) = tracker(&["0"]);
        let judge = |blocks: &[Block]| {
            let input = EpochInput {
                epoch: 1,
                committees: &committees,
                blocks,
                known_roots: &[],
                proposer_duties: &[],
                sync_committee: &sync_committee,
            };
            let analysis = analyse_epoch(&spec, &input).expect("analysis");
            record_epoch(&mut tracker.update(), &ids, &analysis, None, &watched)
        };
        judge(&blocks);
        let id0 = tracker.validators().id_of("0").expect("0");
        assert_eq!(tracker.update().recorded(ids.sync, id0, 6), Some(false));
        // The block of slot 6 is reorged out: slot 6 is empty on the canonical chain.
        let reorged: Vec<Block> = blocks.iter().filter(|b| b.slot != 6).cloned().collect();
        let tally = judge(&reorged);
        assert_eq!(tally.changed, 1);
        assert_eq!(tracker.update().recorded(ids.sync, id0, 6), None);
        assert_eq!(tracker.update().recorded(ids.sync, id0, 5), Some(false));
    }

    #[test]
    fn the_genesis_block_records_no_sync_duty_and_no_proposal() {
        // Epoch 0 with Altair at genesis: the genesis block (slot 0) has an all-clear sync
        // aggregate and proposer 0; nobody signed or proposed anything at slot 0.
        let (spec, _, _) = scenario();
        let committees =
            EpochCommittees::new(0, 4, (0..4u64).map(|s| (s, 0, vec![2 * s, 2 * s + 1])))
                .expect("committees");
        let mut genesis = block(0, 0, vec![], 0);
        genesis.proposer_index = 0;
        let blocks = vec![genesis, block(1, 0, vec![], 0xff)];
        let duties = [crate::beacon::ProposerDuty {
            slot: 0,
            validator_index: 7,
        }];
        let sync_committee = [0u64; 8];
        let input = EpochInput {
            epoch: 0,
            committees: &committees,
            blocks: &blocks,
            known_roots: &[],
            proposer_duties: &duties,
            sync_committee: &sync_committee,
        };
        let analysis = analyse_epoch(&spec, &input).expect("analysis");
        let (_metrics, tracker, ids, watched) = tracker(&["0", "7"]);
        let tally = record_epoch(&mut tracker.update(), &ids, &analysis, None, &watched);
        assert_eq!(
            (tally.sync_duties, tally.missed_sync),
            (1, 0),
            "slot 1 only"
        );
        assert_eq!((tally.proposals, tally.missed_proposals), (0, 0));
        let id0 = tracker.validators().id_of("0").expect("0");
        assert_eq!(tracker.update().recorded(ids.sync, id0, 0), None);
        // Without duties, the blocks' proposers are credited: not the genesis block's.
        let proposals = proposals_from_blocks(&blocks, 0..4);
        assert_eq!(
            proposals.iter().map(|p| p.slot).collect::<Vec<_>>(),
            vec![1]
        );
    }
}
