//! The epoch analyser: decides every duty of one epoch from the chain itself.
//!
//! [`analyse_epoch`] is a pure function (no I/O, no clock). Given the spec constants, the
//! committees of epoch `e`, the canonical blocks of epochs `e` and `e + 1`, the proposer duties
//! and the sync committee, it says for every committee member of `e` whether and when an
//! attestation of it was included, whether its source, target and head votes were correct, and
//! the participation flags the state transition would have given it
//! (`get_attestation_participation_flag_indices`, Altair and later):
//!
//! - source timely: source correct and `inclusion_delay <= integer_sqrt(SLOTS_PER_EPOCH)`;
//! - target timely: target correct, and before Deneb also `inclusion_delay <= SLOTS_PER_EPOCH`
//!   (EIP-7045 removed that limit);
//! - head timely: head correct and `inclusion_delay == MIN_ATTESTATION_INCLUSION_DELAY`;
//!
//! where head correct implies target correct implies source correct, and the rules of the fork
//! of the *including* block apply. The state transition asserts that an included attestation's
//! source equals the justified checkpoint, so a canonical block cannot hold a wrong-source
//! attestation: an attestation with a wrong source is never included and shows as a miss.
//! Flags are OR-ed across repeated inclusions, as the spec does.
//!
//! Cost: one pass over the aggregation bits of the blocks plus one pass over the committee
//! members; results live in a flat array parallel to [`EpochCommittees::members`], so nothing
//! is allocated per validator and the number of watched keys plays no part.

use crate::beacon::ChainSpec;
use crate::beacon::{Block, EpochCommittees, Fork, ProposerDuty, Root};

/// Why an epoch could not be analysed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AnalysisError {
    /// The committees given are not those of the analysed epoch.
    #[error("committees are for epoch {got}, epoch {expected} is analysed")]
    CommitteesOfOtherEpoch {
        /// Analysed epoch.
        expected: u64,
        /// Epoch of the committees given.
        got: u64,
    },
    /// An attestation names a committee that does not exist.
    #[error(
        "block {block_slot}: attestation for slot {slot} names committee {committee}, the slot has {per_slot}"
    )]
    NoSuchCommittee {
        /// Including block.
        block_slot: u64,
        /// `data.slot`.
        slot: u64,
        /// Committee index.
        committee: u64,
        /// Committees per slot.
        per_slot: usize,
    },
    /// Aggregation bits do not match the committees' sizes: the committees are not the chain's.
    #[error(
        "block {block_slot}: attestation for slot {slot} has {bits} aggregation bits, its \
         committees have {members} members (committees do not match the chain)"
    )]
    BitsLengthMismatch {
        /// Including block.
        block_slot: u64,
        /// `data.slot`.
        slot: u64,
        /// Length of the aggregation bits.
        bits: usize,
        /// Members of the named committees.
        members: usize,
    },
    /// The root of a block needed to judge votes is unknown.
    #[error("the root of the canonical block at or before slot {0} is unknown")]
    MissingRoot(u64),
    /// Phase0 has no participation flags; its rewards follow other rules.
    #[error("epoch {0} is before Altair: phase0 attestation rewards are not analysed")]
    Phase0(u64),
    /// Two blocks for one slot.
    #[error("two blocks for slot {0}: only canonical blocks may be given")]
    DuplicateSlot(u64),
    /// A block's sync aggregate does not match the sync committee given.
    #[error("block {slot}: {bits} sync committee bits, the sync committee has {members} members")]
    SyncSizeMismatch {
        /// Block slot.
        slot: u64,
        /// Bits in the block.
        bits: usize,
        /// Members in the committee given.
        members: usize,
    },
}

/// Outcome of one validator's attestation duty.
///
/// 16 bytes, all zero when nothing was included: a mainnet epoch has a million of them, and
/// writing them is most of the analyser's memory traffic. Delays are below two epochs, so 16
/// bits hold them for any `SLOTS_PER_EPOCH` up to 32767 (larger values saturate).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AttestationOutcome {
    /// Slot of the earliest including block plus one; 0 = not included (no block at slot 0
    /// can include an attestation: the delay is at least 1).
    included_at: u64,
    inclusion_delay: u16,
    adjusted_delay: u16,
    flags: u8,
}

const SOURCE_TIMELY: u8 = 1;
const TARGET_TIMELY: u8 = 2;
const HEAD_TIMELY: u8 = 4;
const SOURCE_CORRECT: u8 = 8;
const TARGET_CORRECT: u8 = 16;
const HEAD_CORRECT: u8 = 32;

impl AttestationOutcome {
    /// Whether an attestation of the validator was included by the end of the next epoch.
    pub fn included(&self) -> bool {
        self.included_at != 0
    }

    /// Slot of the earliest including block.
    pub fn inclusion_slot(&self) -> Option<u64> {
        self.included_at.checked_sub(1)
    }

    /// `inclusion slot - data.slot` of the earliest inclusion (empty slots counted).
    pub fn inclusion_delay(&self) -> Option<u64> {
        self.included().then_some(u64::from(self.inclusion_delay))
    }

    /// Delay of the earliest inclusion counting only slots that had a block: the delay the
    /// validator's own client could influence.
    pub fn adjusted_delay(&self) -> Option<u64> {
        self.included().then_some(u64::from(self.adjusted_delay))
    }

    /// Spec flag `TIMELY_SOURCE`.
    pub fn source_timely(&self) -> bool {
        self.flags & SOURCE_TIMELY != 0
    }

    /// Spec flag `TIMELY_TARGET`.
    pub fn target_timely(&self) -> bool {
        self.flags & TARGET_TIMELY != 0
    }

    /// Spec flag `TIMELY_HEAD`.
    pub fn head_timely(&self) -> bool {
        self.flags & HEAD_TIMELY != 0
    }

    /// Source vote correct (true for any included attestation).
    pub fn source_correct(&self) -> bool {
        self.flags & SOURCE_CORRECT != 0
    }

    /// Target vote correct in some inclusion.
    pub fn target_correct(&self) -> bool {
        self.flags & TARGET_CORRECT != 0
    }

    /// Head vote correct in some inclusion (implies target correct).
    pub fn head_correct(&self) -> bool {
        self.flags & HEAD_CORRECT != 0
    }
}

/// One slot's block proposal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProposalOutcome {
    /// Slot.
    pub slot: u64,
    /// Validator index of the assigned proposer.
    pub proposer_index: u64,
    /// Whether the canonical chain has this proposer's block at the slot.
    pub proposed: bool,
}

/// One slot's sync-committee participation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncSlot {
    /// Slot of the block carrying the aggregate.
    pub slot: u64,
    /// Whether the slot has a canonical block; without one nobody is at fault.
    pub block_present: bool,
    /// Per sync committee position: signed (empty when no block or pre-Altair block).
    pub signed: Vec<bool>,
}

/// What one attester was assigned and what came of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AttesterDuty {
    /// Validator index.
    pub validator_index: u64,
    /// Assigned slot.
    pub slot: u64,
    /// Committee index within the slot.
    pub committee_index: u64,
    /// What happened.
    pub outcome: AttestationOutcome,
}

/// Everything decided about one epoch.
#[derive(Debug, Clone)]
pub struct EpochAnalysis<'a> {
    /// The analysed epoch.
    pub epoch: u64,
    /// The epoch's committees.
    pub committees: &'a EpochCommittees,
    /// Outcomes, parallel to `committees.members()`.
    pub outcomes: Vec<AttestationOutcome>,
    /// Proposals of the epoch's slots, sorted by slot.
    pub proposals: Vec<ProposalOutcome>,
    /// Sync participation per slot of the epoch.
    pub sync: Vec<SyncSlot>,
    /// The sync committee (position → validator index) the `sync` bits refer to.
    pub sync_committee: &'a [u64],
}

impl EpochAnalysis<'_> {
    /// Every attester of the epoch with its outcome, committee by committee.
    pub fn attesters(&self) -> impl Iterator<Item = AttesterDuty> + '_ {
        let per_slot = self.committees.per_slot() as u64;
        let start = self.epoch * self.committees.slots_per_epoch();
        (0..self.committees.slots_per_epoch() * per_slot).flat_map(move |c| {
            let (slot_offset, index) = (c / per_slot, c % per_slot);
            let range = self.committees.range(slot_offset, index).unwrap_or(0..0);
            range.map(move |position| AttesterDuty {
                validator_index: u64::from(self.committees.members()[position]),
                slot: start + slot_offset,
                committee_index: index,
                outcome: self.outcomes[position],
            })
        })
    }
}

/// The inputs of one epoch's analysis.
#[derive(Debug, Clone, Copy)]
pub struct EpochInput<'a> {
    /// The analysed epoch `e`.
    pub epoch: u64,
    /// Committees of `e`.
    pub committees: &'a EpochCommittees,
    /// Canonical blocks of `e` and `e + 1` (blocks of other slots are ignored); a slot without
    /// a block is an empty slot. Any order.
    pub blocks: &'a [Block],
    /// Roots of canonical blocks known from headers, `(slot, root)`; roots missing here are
    /// derived from the next block's `parent_root`.
    pub known_roots: &'a [(u64, Root)],
    /// Proposer duties of `e`.
    pub proposer_duties: &'a [ProposerDuty],
    /// Sync committee of `e`, in committee order (empty before Altair).
    pub sync_committee: &'a [u64],
}

/// `integer_squareroot` of the spec.
pub fn integer_sqrt(n: u64) -> u64 {
    if n < 2 {
        return n;
    }
    let mut x = n;
    let mut y = n.div_ceil(2);
    while y < x {
        x = y;
        y = (x + n / x) / 2;
    }
    x
}

/// The canonical block roots judged against: per slot of `e`, the root of the last block at
/// or before it.
struct HeadRoots {
    start: u64,
    /// `Some(Some(root))`: known; `Some(None)`: a block whose root is unknown; `None`: empty.
    at_or_before: Vec<Option<Root>>,
}

impl HeadRoots {
    fn build(
        start: u64,
        slots_per_epoch: u64,
        sorted_blocks: &[&Block],
        known_roots: &[(u64, Root)],
    ) -> Self {
        let known = |slot: u64| {
            known_roots
                .iter()
                .find(|(s, _)| *s == slot)
                .map(|(_, r)| *r)
        };
        // Root of the last block before `start`: a header of it, or the parent of the first
        // block at or after `start`.
        let first_after = sorted_blocks.iter().position(|b| b.slot >= start);
        let mut current: Option<Root> = match first_after {
            Some(i) if i > 0 => {
                known(sorted_blocks[i - 1].slot).or(Some(sorted_blocks[i].parent_root))
            }
            Some(i) => Some(sorted_blocks[i].parent_root),
            None => sorted_blocks.last().and_then(|b| known(b.slot)),
        };
        let mut at_or_before = Vec::with_capacity(slots_per_epoch as usize);
        let mut next = first_after.unwrap_or(sorted_blocks.len());
        for slot in start..start + slots_per_epoch {
            if next < sorted_blocks.len() && sorted_blocks[next].slot == slot {
                current =
                    known(slot).or_else(|| sorted_blocks.get(next + 1).map(|b| b.parent_root));
                next += 1;
            }
            at_or_before.push(current);
        }
        HeadRoots {
            start,
            at_or_before,
        }
    }

    fn get(&self, slot: u64) -> Result<Root, AnalysisError> {
        self.at_or_before
            .get((slot - self.start) as usize)
            .copied()
            .flatten()
            .ok_or(AnalysisError::MissingRoot(slot))
    }
}

/// What one aggregate gives each of its attesters.
#[derive(Clone, Copy)]
struct Credit {
    included_at: u64,
    delay: u16,
    adjusted: u16,
    flags: u8,
}

impl Credit {
    /// Blocks are visited in slot order, so the first inclusion seen is the earliest.
    #[inline(always)]
    fn apply(self, outcome: &mut AttestationOutcome) {
        if outcome.included_at == 0 {
            outcome.included_at = self.included_at;
            outcome.inclusion_delay = self.delay;
            outcome.adjusted_delay = self.adjusted;
        }
        outcome.flags |= self.flags;
    }
}

/// Analyses epoch `input.epoch`. See the module documentation for the rules.
pub fn analyse_epoch<'a>(
    spec: &ChainSpec,
    input: &EpochInput<'a>,
) -> Result<EpochAnalysis<'a>, AnalysisError> {
    let epoch = input.epoch;
    let committees = input.committees;
    if committees.epoch() != epoch || committees.slots_per_epoch() != spec.slots_per_epoch {
        return Err(AnalysisError::CommitteesOfOtherEpoch {
            expected: epoch,
            got: committees.epoch(),
        });
    }
    if spec.fork_at(epoch) == Fork::Phase0 {
        return Err(AnalysisError::Phase0(epoch));
    }
    let spe = spec.slots_per_epoch;
    let start = epoch * spe;
    let end = start + 2 * spe; // exclusive: blocks of e and e + 1

    let mut blocks: Vec<&Block> = input
        .blocks
        .iter()
        .filter(|b| b.slot >= start.saturating_sub(spe) && b.slot < end)
        .collect();
    blocks.sort_unstable_by_key(|b| b.slot);
    if let Some(pair) = blocks.windows(2).find(|w| w[0].slot == w[1].slot) {
        return Err(AnalysisError::DuplicateSlot(pair[0].slot));
    }
    let roots = HeadRoots::build(start, spe, &blocks, input.known_roots);
    let blocks: Vec<&Block> = blocks.into_iter().filter(|b| b.slot >= start).collect();

    // present_before[i]: number of blocks in slots start..start + i.
    let mut present_before = vec![0u32; (2 * spe + 1) as usize];
    {
        let mut present = vec![false; (2 * spe) as usize];
        for block in &blocks {
            present[(block.slot - start) as usize] = true;
        }
        for i in 0..present.len() {
            present_before[i + 1] = present_before[i] + u32::from(present[i]);
        }
    }

    let sqrt_spe = integer_sqrt(spe);
    let min_delay = spec.min_attestation_inclusion_delay;
    let mut outcomes = vec![AttestationOutcome::default(); committees.members().len()];
    // The target root is the root at the epoch's first slot, needed only if someone attested.
    let mut target_root: Option<Root> = None;

    for block in &blocks {
        let before_deneb = block.fork < Fork::Deneb;
        for attestation in &block.attestations {
            if attestation.slot < start || attestation.slot >= start + spe {
                continue; // another epoch's duty
            }
            let delay = block.slot.saturating_sub(attestation.slot);
            if delay < min_delay {
                continue; // cannot happen in a valid block; never credit it
            }
            let target = match target_root {
                Some(root) => root,
                None => {
                    let root = roots.get(start)?;
                    target_root = Some(root);
                    root
                }
            };
            let target_correct =
                attestation.target.epoch == epoch && attestation.target.root == target;
            let head_correct =
                target_correct && attestation.head_root == roots.get(attestation.slot)?;
            let mut flags = SOURCE_CORRECT;
            if delay <= sqrt_spe {
                flags |= SOURCE_TIMELY;
            }
            if target_correct {
                flags |= TARGET_CORRECT;
                if !before_deneb || delay <= spe {
                    flags |= TARGET_TIMELY;
                }
            }
            if head_correct {
                flags |= HEAD_CORRECT;
                if delay == min_delay {
                    flags |= HEAD_TIMELY;
                }
            }
            let adjusted = present_before[(block.slot - start + 1) as usize]
                - present_before[(attestation.slot - start + 1) as usize];
            let credit = Credit {
                included_at: block.slot + 1,
                delay: u16::try_from(delay).unwrap_or(u16::MAX),
                adjusted: u16::try_from(adjusted).unwrap_or(u16::MAX),
                flags,
            };

            let slot_offset = attestation.slot - start;
            let bits = &attestation.aggregation_bits;
            let mut consumed = 0usize;
            let mut committee_bits = attestation.committee_bits;
            while committee_bits != 0 {
                let committee = u64::from(committee_bits.trailing_zeros());
                committee_bits &= committee_bits - 1;
                let range = committees.range(slot_offset, committee).ok_or(
                    AnalysisError::NoSuchCommittee {
                        block_slot: block.slot,
                        slot: attestation.slot,
                        committee,
                        per_slot: committees.per_slot(),
                    },
                )?;
                let size = range.len();
                let members = &mut outcomes[range];
                // 56 bits at a time: a run of set bits (most of an aggregate) is credited in a
                // tight loop, sparse chunks bit by bit.
                bits.for_each_chunk_in(consumed, consumed + size, |offset, width, chunk| {
                    let members = &mut members[offset..offset + width];
                    if chunk == (1u64 << width) - 1 {
                        for outcome in members {
                            credit.apply(outcome);
                        }
                    } else {
                        let mut chunk = chunk;
                        while chunk != 0 {
                            credit.apply(&mut members[chunk.trailing_zeros() as usize]);
                            chunk &= chunk - 1;
                        }
                    }
                });
                consumed += size;
            }
            if consumed != bits.len() {
                return Err(AnalysisError::BitsLengthMismatch {
                    block_slot: block.slot,
                    slot: attestation.slot,
                    bits: bits.len(),
                    members: consumed,
                });
            }
        }
    }

    let proposals = judge_proposals(
        input
            .proposer_duties
            .iter()
            .filter(|d| d.slot >= start && d.slot < start + spe),
        &blocks,
    );
    let sync = judge_sync(start..start + spe, &blocks, input.sync_committee)?;

    Ok(EpochAnalysis {
        epoch,
        committees,
        outcomes,
        proposals,
        sync,
        sync_committee: input.sync_committee,
    })
}

/// Slot of the genesis block. That block is part of the genesis state: nobody proposed it, and
/// the state transition never processes it, so its (empty) sync aggregate judges nobody. Nodes
/// still list a proposer for slot 0 among the duties of epoch 0.
pub const GENESIS_SLOT: u64 = 0;

/// Judges proposer duties against canonical blocks: a duty is met when the canonical chain
/// has a block at its slot from that proposer. Works for any slots (not only one epoch). The
/// genesis slot is no duty.
pub fn judge_proposals<'d>(
    duties: impl IntoIterator<Item = &'d ProposerDuty>,
    blocks: &[&Block],
) -> Vec<ProposalOutcome> {
    duties
        .into_iter()
        .filter(|duty| duty.slot != GENESIS_SLOT)
        .map(|duty| ProposalOutcome {
            slot: duty.slot,
            proposer_index: duty.validator_index,
            proposed: blocks
                .iter()
                .any(|b| b.slot == duty.slot && b.proposer_index == duty.validator_index),
        })
        .collect()
}

/// Sync-committee participation in the blocks of `slots`: per slot, whether a canonical block
/// exists and which committee positions signed in its aggregate (which signs the previous
/// slot's block root). `committee` is the sync committee of those slots. The genesis block
/// carries no aggregate to judge: its slot is present with no signer list, like a pre-Altair
/// block.
pub fn judge_sync(
    slots: std::ops::Range<u64>,
    blocks: &[&Block],
    committee: &[u64],
) -> Result<Vec<SyncSlot>, AnalysisError> {
    let mut sync = Vec::with_capacity(slots.clone().count());
    for slot in slots {
        let Some(block) = blocks.iter().find(|b| b.slot == slot) else {
            sync.push(SyncSlot {
                slot,
                block_present: false,
                signed: Vec::new(),
            });
            continue;
        };
        let signed = match &block.sync_bits {
            Some(bytes) if !committee.is_empty() && slot != GENESIS_SLOT => {
                let members = committee.len();
                if bytes.len() * 8 != members {
                    return Err(AnalysisError::SyncSizeMismatch {
                        slot,
                        bits: bytes.len() * 8,
                        members,
                    });
                }
                (0..members)
                    .map(|i| bytes[i / 8] & (1 << (i % 8)) != 0)
                    .collect()
            }
            _ => Vec::new(),
        };
        sync.push(SyncSlot {
            slot,
            block_present: true,
            signed,
        });
    }
    Ok(sync)
}

/// Owned inputs of one epoch's analysis, as fetched from a node or read from files.
#[derive(Debug, Clone)]
pub struct EpochData {
    /// The analysed epoch.
    pub epoch: u64,
    /// Committees of the epoch.
    pub committees: EpochCommittees,
    /// Canonical blocks of the epoch and the next (and optionally the last of the previous).
    pub blocks: Vec<Block>,
    /// Known canonical block roots `(slot, root)`.
    pub known_roots: Vec<(u64, Root)>,
    /// Proposer duties of the epoch.
    pub proposer_duties: Vec<ProposerDuty>,
    /// Sync committee of the epoch.
    pub sync_committee: Vec<u64>,
}

impl EpochData {
    /// Borrowed view for [`analyse_epoch`].
    pub fn input(&self) -> EpochInput<'_> {
        EpochInput {
            epoch: self.epoch,
            committees: &self.committees,
            blocks: &self.blocks,
            known_roots: &self.known_roots,
            proposer_duties: &self.proposer_duties,
            sync_committee: &self.sync_committee,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::beacon::{Attestation, Bitlist, Checkpoint};

    fn spec(fork_epochs: Vec<(Fork, u64)>) -> ChainSpec {
        ChainSpec {
            slots_per_epoch: 4,
            min_attestation_inclusion_delay: 1,
            seconds_per_slot: 1,
            sync_committee_size: 8,
            epochs_per_sync_committee_period: 8,
            fork_epochs,
        }
    }

    fn root(n: u8) -> Root {
        [n; 32]
    }

    /// Block at `slot` whose root is `root(slot)`, parent root(parent).
    fn block(fork: Fork, slot: u64, parent: u64, attestations: Vec<Attestation>) -> Block {
        Block {
            fork,
            slot,
            proposer_index: slot * 10,
            parent_root: root(parent as u8),
            attestations,
            sync_bits: Some(vec![0b1010_1010]),
        }
    }

    fn attestation(slot: u64, committee: u64, bits: &str, head: u64, target: u64) -> Attestation {
        Attestation {
            slot,
            committee_bits: 1 << committee,
            aggregation_bits: Bitlist::from_hex(bits).expect("test bits"),
            head_root: root(head as u8),
            source: Checkpoint {
                epoch: 0,
                root: root(0),
            },
            target: Checkpoint {
                epoch: 1,
                root: root(target as u8),
            },
        }
    }

    fn committees() -> EpochCommittees {
        // Epoch 1 = slots 4..8, one committee of 2 per slot: validators 0..8.
        EpochCommittees::new(1, 4, (0..4u64).map(|s| (4 + s, 0, vec![2 * s, 2 * s + 1])))
            .expect("test committees")
    }

    #[test]
    fn integer_sqrt_matches_the_spec() {
        for (n, r) in [
            (0, 0),
            (1, 1),
            (3, 1),
            (4, 2),
            (8, 2),
            (31, 5),
            (32, 5),
            (36, 6),
        ] {
            assert_eq!(integer_sqrt(n), r, "isqrt({n})");
        }
    }

    fn run(fork: Fork, blocks: &[Block]) -> Vec<AttesterDuty> {
        let committees = committees();
        let spec = spec(vec![(Fork::Altair, 0), (fork, 0)]);
        let input = EpochInput {
            epoch: 1,
            committees: &committees,
            blocks,
            known_roots: &[],
            proposer_duties: &[],
            sync_committee: &[1, 2, 3, 4, 5, 6, 7, 8],
        };
        analyse_epoch(&spec, &input)
            .expect("analysis")
            .attesters()
            .collect()
    }

    #[test]
    fn timely_late_and_wrong_votes() {
        // Slots 3(parent of epoch), 4, 5, 6 present, 7 empty, 8.. in epoch 2.
        let blocks = vec![
            block(Fork::Deneb, 3, 2, vec![]),
            // slot 4's committee (validators 0,1): validator 0 attests correctly, in block 5.
            block(Fork::Deneb, 4, 3, vec![]),
            block(Fork::Deneb, 5, 4, vec![attestation(4, 0, "0x05", 4, 4)]),
            // Validator 2 (slot 5) votes a wrong head, included at delay 1.
            block(Fork::Deneb, 6, 5, vec![attestation(5, 0, "0x05", 4, 4)]),
            // slot 7 empty. Validator 4 (slot 6) included at 8: delay 2, adjusted 1.
            block(Fork::Deneb, 8, 6, vec![attestation(6, 0, "0x05", 6, 4)]),
            // Validator 5 (slot 6) wrong target, included late at 15 (> sqrt(4)=2, > 4).
            block(Fork::Deneb, 11, 8, vec![attestation(6, 0, "0x06", 6, 9)]),
        ];
        let duties = run(Fork::Deneb, &blocks);
        let by_index = |i: u64| {
            duties
                .iter()
                .find(|d| d.validator_index == i)
                .expect("duty")
                .outcome
        };
        let v0 = by_index(0);
        assert!(v0.source_timely() && v0.target_timely() && v0.head_timely());
        assert_eq!(v0.inclusion_delay(), Some(1));
        assert!(!by_index(1).included());
        let v2 = by_index(2);
        assert!(
            v2.source_timely() && v2.target_timely() && !v2.head_timely() && !v2.head_correct()
        );
        let v4 = by_index(4);
        assert_eq!(
            (v4.inclusion_delay(), v4.adjusted_delay()),
            (Some(2), Some(1))
        );
        assert!(v4.source_timely() && v4.target_timely() && !v4.head_timely() && v4.head_correct());
        let v5 = by_index(5);
        assert_eq!(v5.inclusion_slot(), Some(11));
        assert!(!v5.source_timely() && !v5.target_correct() && !v5.target_timely());
        // Nobody in slot 7's committee attested.
        assert!(!by_index(6).included() && !by_index(7).included());
    }

    #[test]
    fn target_delay_limit_applies_before_deneb_only() {
        // Validator 0 attests slot 4 correctly; included at slot 10 (delay 6 > 4 slots).
        let make = |fork| {
            vec![
                block(fork, 3, 2, vec![]),
                block(fork, 4, 3, vec![]),
                block(fork, 10, 4, vec![attestation(4, 0, "0x05", 4, 4)]),
            ]
        };
        let deneb = run(Fork::Deneb, &make(Fork::Deneb))[0].outcome;
        assert!(deneb.target_timely() && !deneb.source_timely());
        let capella = run(Fork::Capella, &make(Fork::Capella))[0].outcome;
        assert!(capella.target_correct() && !capella.target_timely());
    }

    #[test]
    fn repeated_inclusions_are_ored_and_keep_the_earliest() {
        let blocks = vec![
            block(Fork::Deneb, 4, 3, vec![]),
            // Late first (delay 3: not source timely), then... a later one cannot be earlier,
            // so use a wrong-head one first and a head-correct one later.
            block(Fork::Deneb, 5, 4, vec![attestation(4, 0, "0x05", 9, 4)]),
            block(Fork::Deneb, 6, 5, vec![attestation(4, 0, "0x05", 4, 4)]),
        ];
        let v0 = run(Fork::Deneb, &blocks)[0].outcome;
        assert_eq!(v0.inclusion_slot(), Some(5));
        assert!(v0.head_correct() && !v0.head_timely() && v0.source_timely());
    }

    #[test]
    fn mismatched_bits_length_is_an_error() {
        let committees = committees();
        let spec = spec(vec![(Fork::Altair, 0)]);
        let blocks = vec![
            block(Fork::Altair, 4, 3, vec![]),
            block(Fork::Altair, 5, 4, vec![attestation(4, 0, "0x0d", 4, 4)]),
        ];
        let input = EpochInput {
            epoch: 1,
            committees: &committees,
            blocks: &blocks,
            known_roots: &[],
            proposer_duties: &[],
            sync_committee: &[],
        };
        assert!(matches!(
            analyse_epoch(&spec, &input),
            Err(AnalysisError::BitsLengthMismatch {
                bits: 3,
                members: 2,
                ..
            })
        ));
    }

    #[test]
    fn proposals_and_sync_judge_only_present_blocks() {
        let committees = committees();
        let spec = spec(vec![(Fork::Altair, 0)]);
        let blocks = vec![
            block(Fork::Altair, 4, 3, vec![]),
            block(Fork::Altair, 6, 4, vec![]),
        ];
        let duties: Vec<ProposerDuty> = (4..8)
            .map(|slot| ProposerDuty {
                slot,
                validator_index: slot * 10,
            })
            .collect();
        let input = EpochInput {
            epoch: 1,
            committees: &committees,
            blocks: &blocks,
            known_roots: &[],
            proposer_duties: &duties,
            sync_committee: &[1, 2, 3, 4, 5, 6, 7, 8],
        };
        let analysis = analyse_epoch(&spec, &input).expect("analysis");
        let proposed: Vec<bool> = analysis.proposals.iter().map(|p| p.proposed).collect();
        assert_eq!(proposed, vec![true, false, true, false]);
        assert!(analysis.sync[0].block_present);
        assert_eq!(
            analysis.sync[0].signed,
            vec![false, true, false, true, false, true, false, true]
        );
        assert!(!analysis.sync[1].block_present && analysis.sync[1].signed.is_empty());
    }

    #[test]
    fn the_genesis_block_is_no_proposal_and_no_sync_aggregate() {
        // Epoch 0 of a chain with Altair at genesis: the genesis block at slot 0 has an empty
        // sync aggregate (all bits clear) and proposer 0, while the node's duties name another
        // proposer for slot 0. Seen on Lodestar 1.5.1: every member was counted as missing
        // slot 0, and the slot-0 "proposer" as missing a block.
        let committees =
            EpochCommittees::new(0, 4, (0..4u64).map(|s| (s, 0, vec![2 * s, 2 * s + 1])))
                .expect("test committees");
        let spec = spec(vec![(Fork::Altair, 0)]);
        let mut genesis = block(Fork::Altair, 0, 0, vec![]);
        genesis.proposer_index = 0;
        genesis.sync_bits = Some(vec![0]);
        let blocks = vec![genesis, block(Fork::Altair, 1, 0, vec![])];
        let duties: Vec<ProposerDuty> = (0..4)
            .map(|slot| ProposerDuty {
                slot,
                validator_index: 19 + slot,
            })
            .collect();
        let input = EpochInput {
            epoch: 0,
            committees: &committees,
            blocks: &blocks,
            known_roots: &[],
            proposer_duties: &duties,
            sync_committee: &[1, 2, 3, 4, 5, 6, 7, 8],
        };
        let analysis = analyse_epoch(&spec, &input).expect("analysis");
        let proposals: Vec<(u64, bool)> = analysis
            .proposals
            .iter()
            .map(|p| (p.slot, p.proposed))
            .collect();
        assert_eq!(proposals, vec![(1, false), (2, false), (3, false)]);
        assert_eq!(analysis.sync[0].slot, 0);
        assert!(analysis.sync[0].signed.is_empty(), "slot 0 judges nobody");
        assert_eq!(analysis.sync[1].signed.len(), 8, "slot 1 is judged");
    }
}
