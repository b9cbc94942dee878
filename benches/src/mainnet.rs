//! A deterministic mainnet-scale epoch, as the Beacon API JSON a node would serve.
//!
//! [`generate`] builds, from a fixed seed, 1,048,576 active validators shuffled into 64
//! committees per slot (2,048 per epoch, 512 members each: the even split mainnet's
//! `compute_committee` makes of 2^20 validators), and simulates the attestations of epochs
//! `e - 1`, `e` and `e + 1`: about 97% of duties voted correctly and ready one slot later, 2%
//! ready only 2 to 6 slots later, 1% never sent, and 0.1% of the sent votes naming the wrong
//! head (the parent of the correct head). Every canonical block packs the ready votes into at
//! most 8 Electra aggregates (`committee_bits` + the concatenated `aggregation_bits` of the
//! named committees): the aggregate of the previous slot's correct votes covers all 64
//! committees, the others are partial; votes that do not fit wait for the next block, and votes
//! not included by the end of the epoch after theirs are lost, as on mainnet. A few slots of
//! `e` and `e + 1` are empty. Blocks carry a 512-member sync aggregate and an execution payload
//! of random transactions (so decoding pays for skipping them), in the Fulu format.
//!
//! The result is the JSON bytes of every answer [`valwatch_ethereum::client::BeaconClient`]
//! asks for when analysing epoch `e` ([`Answers`]), the decoded inputs
//! ([`Answers::decode`], through the real decoders) and the generator's own verdict ([`Truth`]),
//! computed while placing the votes, without the analyser. Generating the mainnet epoch takes
//! about a second in a release build.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;

use valwatch_ethereum::analysis::EpochData;
use valwatch_ethereum::beacon::{
    BeaconError, ChainSpec, decode_block, decode_committees, decode_header, decode_proposer_duties,
    decode_sync_committee,
};

use crate::rng::{Rng, mix};

/// `MAX_ATTESTATIONS_ELECTRA`: aggregates per block since Electra.
pub const MAX_AGGREGATES_PER_BLOCK: usize = 8;
/// `TARGET_COMMITTEE_SIZE` of the mainnet preset, used by `get_committee_count_per_slot`.
const TARGET_COMMITTEE_SIZE: u64 = 128;
/// `MAX_COMMITTEES_PER_SLOT`.
const MAX_COMMITTEES_PER_SLOT: u64 = 64;
/// `integer_sqrt(SLOTS_PER_EPOCH)` on mainnet: the source-timeliness limit.
const SOURCE_DELAY_LIMIT: u64 = 5;

/// What to generate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Params {
    /// Seed of every random choice.
    pub seed: u64,
    /// Active validators (all of them active, indices `0..validators`).
    pub validators: u32,
    /// The analysed epoch `e`.
    pub epoch: u64,
    /// `SLOTS_PER_EPOCH`.
    pub slots_per_epoch: u64,
    /// `SYNC_COMMITTEE_SIZE`.
    pub sync_committee_size: usize,
    /// Empty slots in each of `e` and `e + 1` (never the first slot of an epoch, nor the last
    /// slot of `e + 1`, which is the head the analysis waits for).
    pub empty_slots_per_epoch: usize,
    /// Duties whose vote is never sent, per million.
    pub missed_ppm: u32,
    /// Duties whose vote is ready only 2 to 6 slots after the duty, per million.
    pub late_ppm: u32,
    /// Sent votes naming the wrong head, per million.
    pub wrong_head_ppm: u32,
    /// Bytes of transactions in each block's execution payload.
    pub tx_bytes_per_block: usize,
}

impl Params {
    /// Mainnet scale: 2^20 validators, 64 committees per slot, a Fulu epoch.
    pub fn mainnet() -> Self {
        Params {
            seed: 0x5eed_0001,
            validators: 1 << 20,
            epoch: 420_000,
            slots_per_epoch: 32,
            sync_committee_size: 512,
            empty_slots_per_epoch: 2,
            missed_ppm: 10_000,
            late_ppm: 20_000,
            wrong_head_ppm: 1_000,
            tx_bytes_per_block: 80_000,
        }
    }

    /// A small network with the same behaviour (4 committees of 128 per slot), for quick tests.
    pub fn small() -> Self {
        Params {
            validators: 1 << 14,
            tx_bytes_per_block: 2_000,
            ..Params::mainnet()
        }
    }

    /// `get_committee_count_per_slot`.
    pub fn committees_per_slot(&self) -> u64 {
        (u64::from(self.validators) / self.slots_per_epoch / TARGET_COMMITTEE_SIZE)
            .clamp(1, MAX_COMMITTEES_PER_SLOT)
    }

    fn start(&self) -> u64 {
        self.epoch * self.slots_per_epoch
    }
}

/// The generator's own verdict on epoch `e`, parallel to the committee members of `e`
/// (committee by committee, as [`valwatch_ethereum::beacon::EpochCommittees::members`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Truth {
    /// Validator index of each position.
    pub members: Vec<u32>,
    /// Slot each position was assigned to.
    pub duty_slot: Vec<u64>,
    /// Slot of the block that included the position's vote, `u64::MAX` if none did.
    pub inclusion_slot: Vec<u64>,
    /// Whether the position's vote named the correct head.
    pub head_ok: Vec<bool>,
    /// Totals.
    pub counts: TruthCounts,
}

/// Totals of [`Truth`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TruthCounts {
    /// Attestation duties of `e` (= active validators).
    pub duties: usize,
    /// Included by the end of `e + 1`.
    pub attested: usize,
    /// Never included.
    pub missed: usize,
    /// Included with an inclusion delay above 1.
    pub late: usize,
    /// Included with a delay within `integer_sqrt(SLOTS_PER_EPOCH)`.
    pub source_timely: usize,
    /// Included at delay 1 with the correct head.
    pub head_timely: usize,
    /// Included with a wrong head vote.
    pub wrong_head: usize,
    /// Canonical blocks served (from the last slot of `e - 1` to the last slot of `e + 1`).
    pub blocks: usize,
    /// Empty slots in `e` and `e + 1`.
    pub empty_slots: usize,
    /// Aggregates in the served blocks.
    pub aggregates: usize,
}

/// Every Beacon API answer needed to analyse epoch `e`, as JSON bytes.
#[derive(Debug, Clone)]
pub struct Answers {
    /// The analysed epoch.
    pub epoch: u64,
    /// `SLOTS_PER_EPOCH`.
    pub slots_per_epoch: u64,
    /// `GET /eth/v1/config/spec`.
    pub spec: Vec<u8>,
    /// `GET /eth/v1/beacon/genesis`.
    pub genesis: Vec<u8>,
    /// `GET /eth/v1/node/syncing`.
    pub syncing: Vec<u8>,
    /// `GET /eth/v1/beacon/states/{id}/finality_checkpoints`: `e + 2` finalized, so that a
    /// watcher in `finalized` mode judges exactly `e`.
    pub finality: Vec<u8>,
    /// `GET /eth/v1/beacon/states/{id}/committees?epoch=e` (≈ 10 MB on mainnet).
    pub committees: Vec<u8>,
    /// `GET /eth/v1/validator/duties/proposer/e`.
    pub proposer_duties: Vec<u8>,
    /// `GET /eth/v1/beacon/states/{id}/sync_committees?epoch=e` (any epoch of the period).
    pub sync_committee: Vec<u8>,
    /// `GET /eth/v2/beacon/blocks/{slot}` by slot (absent = empty slot).
    pub blocks: BTreeMap<u64, Vec<u8>>,
    /// `GET /eth/v1/beacon/headers/{slot}` by slot.
    pub headers: BTreeMap<u64, Vec<u8>>,
    /// Slot of the head block (the last slot of `e + 1`).
    pub head_slot: u64,
    /// `EPOCHS_PER_SYNC_COMMITTEE_PERIOD`.
    pub sync_period: u64,
    /// Number of validators (for the validators endpoint).
    pub validators: u32,
}

/// A generated epoch: the answers and the truth.
#[derive(Debug, Clone)]
pub struct Generated {
    /// What was asked for.
    pub params: Params,
    /// The answers.
    pub answers: Answers,
    /// The generator's verdict.
    pub truth: Truth,
}

/// Fake but well-formed BLS public key of validator `index`: 48 bytes, unique per index, the
/// index readable in the last 4 bytes (see [`index_of_pubkey`]).
pub fn pubkey(index: u32) -> String {
    let mut bytes = [0u8; 48];
    for (i, chunk) in bytes[..40].chunks_mut(8).enumerate() {
        chunk.copy_from_slice(&mix(u64::from(index) << 3 | i as u64).to_be_bytes());
    }
    bytes[0] |= 0x80; // compressed-point flag, as real keys have
    bytes[44..].copy_from_slice(&index.to_be_bytes());
    format!("0x{}", hex::encode(bytes))
}

/// Inverse of [`pubkey`] (`None` for a key it did not make).
pub fn index_of_pubkey(key: &str) -> Option<u32> {
    let digits = key.strip_prefix("0x")?;
    if digits.len() != 96 {
        return None;
    }
    let mut tail = [0u8; 4];
    hex::decode_to_slice(&digits[88..], &mut tail).ok()?;
    let index = u32::from_be_bytes(tail);
    (pubkey(index).eq_ignore_ascii_case(key)).then_some(index)
}

fn hex0x(bytes: &[u8]) -> String {
    format!("0x{}", hex::encode(bytes))
}

/// The committees of one epoch, in committee order.
struct EpochDuties {
    epoch: u64,
    /// Validator index per position (the shuffled order).
    members: Vec<u32>,
    /// `starts[c]..starts[c + 1]` = positions of committee `c` (slot offset × per slot + index).
    starts: Vec<u32>,
    /// Earliest slot a block may include the position's vote; `u64::MAX` = never sent.
    ready: Vec<u64>,
    head_ok: Vec<bool>,
    /// Inclusion slot per position.
    included: Vec<u64>,
}

impl EpochDuties {
    fn new(p: &Params, epoch: u64) -> Self {
        let n = p.validators as usize;
        let mut members: Vec<u32> = (0..p.validators).collect();
        Rng::new(p.seed, 1_000 + epoch).shuffle(&mut members);
        let per_slot = p.committees_per_slot();
        let count = p.slots_per_epoch * per_slot;
        let starts: Vec<u32> = (0..=count).map(|c| (n as u64 * c / count) as u32).collect();
        let mut rng = Rng::new(p.seed, 2_000 + epoch);
        let mut ready = vec![u64::MAX; n];
        let mut head_ok = vec![true; n];
        for c in 0..count as usize {
            let slot = epoch * p.slots_per_epoch + c as u64 / per_slot;
            for pos in starts[c] as usize..starts[c + 1] as usize {
                let r = rng.below(1_000_000) as u32;
                ready[pos] = if r < p.missed_ppm {
                    u64::MAX
                } else if r < p.missed_ppm + p.late_ppm {
                    slot + 2 + rng.below(5)
                } else {
                    slot + 1
                };
                head_ok[pos] = !rng.chance(p.wrong_head_ppm);
            }
        }
        EpochDuties {
            epoch,
            members,
            starts,
            ready,
            head_ok,
            included: vec![u64::MAX; n],
        }
    }

    fn committee_of(&self, pos: u32) -> usize {
        self.starts.partition_point(|&s| s <= pos) - 1
    }
}

/// Canonical chain of the simulated slots.
struct Chain {
    first: u64,
    /// Root per slot, `None` = empty slot.
    roots: Vec<Option<[u8; 32]>>,
    before: [u8; 32],
}

impl Chain {
    fn root_at_or_before(&self, slot: u64) -> [u8; 32] {
        // Past the simulated slots the chain has no further block.
        let mut s = slot.min(self.first + self.roots.len() as u64 - 1);
        while s >= self.first {
            if let Some(root) = self.roots[(s - self.first) as usize] {
                return root;
            }
            if s == 0 {
                break;
            }
            s -= 1;
        }
        self.before
    }

    /// The head a validator that missed the latest block votes for: the parent of the block
    /// at or before `slot`.
    fn parent_of_head_at(&self, slot: u64) -> [u8; 32] {
        let mut s = slot;
        while s >= self.first && self.roots[(s - self.first) as usize].is_none() {
            s -= 1;
        }
        if s < self.first {
            return self.before;
        }
        self.root_at_or_before(s - 1)
    }

    fn present(&self, slot: u64) -> bool {
        slot >= self.first && self.roots[(slot - self.first) as usize].is_some()
    }
}

/// One aggregate, ready to be written as JSON.
struct Aggregate {
    slot: u64,
    committee_bits: u64,
    /// SSZ bitlist bytes, length bit included.
    bits: Vec<u8>,
    head: [u8; 32],
    source: (u64, [u8; 32]),
    target: (u64, [u8; 32]),
}

/// Generates the epoch described by `p`.
pub fn generate(p: &Params) -> Generated {
    let spe = p.slots_per_epoch;
    let e = p.epoch;
    let start = p.start();
    let first = start - spe; // simulation starts at e - 1
    let end = start + 2 * spe; // exclusive
    let per_slot = p.committees_per_slot();

    // The chain: empty slots in e and e + 1.
    let mut rng = Rng::new(p.seed, 1);
    let mut roots: Vec<Option<[u8; 32]>> = (first..end).map(|_| Some(rng.root())).collect();
    let mut empty = 0;
    for epoch in [e, e + 1] {
        let mut chosen = 0;
        while chosen < p.empty_slots_per_epoch.min(spe as usize - 2) {
            let offset = 1 + rng.below(spe - 1);
            let slot = epoch * spe + offset;
            if slot == end - 1 || roots[(slot - first) as usize].is_none() {
                continue;
            }
            roots[(slot - first) as usize] = None;
            chosen += 1;
            empty += 1;
        }
    }
    let chain = Chain {
        first,
        roots,
        before: rng.root(),
    };
    let proposers: Vec<u32> = (first..end)
        .map(|_| rng.below(u64::from(p.validators)) as u32)
        .collect();

    let mut epochs: Vec<EpochDuties> = [e - 1, e, e + 1]
        .into_iter()
        .map(|x| EpochDuties::new(p, x))
        .collect();

    // Positions by the slot their vote becomes ready.
    let mut ready_at: Vec<Vec<(u8, u32)>> = vec![Vec::new(); (end - first) as usize];
    for (ei, duties) in epochs.iter().enumerate() {
        for (pos, &ready) in duties.ready.iter().enumerate() {
            if ready < end {
                ready_at[(ready - first) as usize].push((ei as u8, pos as u32));
            }
        }
    }

    // Sync committee and its signers.
    let mut sync_rng = Rng::new(p.seed, 3);
    let sync_committee: Vec<u32> = (0..p.sync_committee_size)
        .map(|_| sync_rng.below(u64::from(p.validators)) as u32)
        .collect();
    let sync_offline: Vec<usize> = (0..3)
        .map(|_| sync_rng.below(p.sync_committee_size as u64) as usize)
        .collect();

    let checkpoint = |epoch: u64| (epoch, chain.root_at_or_before(epoch * spe));
    let mut blocks = BTreeMap::new();
    let mut headers = BTreeMap::new();
    let mut aggregates_served = 0;
    // Pending votes: (data slot, head correct) -> (epoch index, positions).
    let mut pending: BTreeMap<(u64, bool), Vec<u32>> = BTreeMap::new();
    let mut block_rng = Rng::new(p.seed, 4);
    for slot in first..end {
        for &(ei, pos) in &ready_at[(slot - first) as usize] {
            let duties = &epochs[ei as usize];
            let c = duties.committee_of(pos);
            let data_slot = duties.epoch * spe + c as u64 / per_slot;
            pending
                .entry((data_slot, duties.head_ok[pos as usize]))
                .or_default()
                .push(pos);
        }
        if !chain.present(slot) {
            continue;
        }
        // Votes of an epoch are includable until the end of the next one.
        pending.retain(|(data_slot, _), _| data_slot / spe + 1 >= slot / spe);
        let mut candidates: Vec<(u64, bool, usize)> = pending
            .iter()
            .filter(|((data_slot, _), _)| *data_slot < slot)
            .map(|((s, ok), v)| (*s, *ok, v.len()))
            .collect();
        // The biggest aggregates first, as a block builder maximising rewards would.
        candidates.sort_by(|a, b| b.2.cmp(&a.2).then(b.0.cmp(&a.0)).then(b.1.cmp(&a.1)));
        let mut aggregates = Vec::new();
        for (data_slot, ok, _) in candidates.into_iter().take(MAX_AGGREGATES_PER_BLOCK) {
            let mut positions = pending.remove(&(data_slot, ok)).unwrap_or_default();
            positions.sort_unstable();
            let duties = &mut epochs[(data_slot / spe + 1 - e) as usize];
            let offset = (data_slot - duties.epoch * spe) as usize;
            let slot_committees = offset * per_slot as usize..(offset + 1) * per_slot as usize;
            // Lay the committees named by the aggregate end to end.
            let mut committee_bits = 0u64;
            let mut ones = Vec::with_capacity(positions.len());
            let mut length = 0usize;
            let mut i = 0;
            for c in slot_committees {
                let (lo, hi) = (duties.starts[c], duties.starts[c + 1]);
                let from = i;
                while i < positions.len() && positions[i] < hi {
                    ones.push(length + (positions[i] - lo) as usize);
                    duties.included[positions[i] as usize] = slot;
                    i += 1;
                }
                if i > from {
                    committee_bits |= 1 << (c as u64 % per_slot);
                    length += (hi - lo) as usize;
                }
            }
            let mut bits = vec![0u8; length / 8 + 1];
            for one in ones {
                bits[one / 8] |= 1 << (one % 8);
            }
            bits[length / 8] |= 1 << (length % 8);
            let x = duties.epoch;
            aggregates.push(Aggregate {
                slot: data_slot,
                committee_bits,
                bits,
                head: if ok {
                    chain.root_at_or_before(data_slot)
                } else {
                    chain.parent_of_head_at(data_slot)
                },
                source: checkpoint(x - 1),
                target: checkpoint(x),
            });
        }
        if slot < start - 1 {
            continue; // e - 1 is simulated for its votes, its blocks are not served
        }
        aggregates_served += aggregates.len();
        let mut sync_bits = vec![0u8; p.sync_committee_size / 8];
        for i in 0..p.sync_committee_size {
            if !sync_offline.contains(&i) && !block_rng.chance(5_000) {
                sync_bits[i / 8] |= 1 << (i % 8);
            }
        }
        let root = chain.root_at_or_before(slot);
        let parent = chain.root_at_or_before(slot - 1);
        let proposer = proposers[(slot - first) as usize];
        let state_root = block_rng.root();
        let body = block_json(
            slot,
            proposer,
            &parent,
            &state_root,
            &aggregates,
            &sync_bits,
            p.tx_bytes_per_block,
            &mut block_rng,
        );
        let header = header_json(slot, proposer, &root, &parent, &state_root, &mut block_rng);
        blocks.insert(slot, body.into_bytes());
        headers.insert(slot, header.into_bytes());
    }

    // Truth for e.
    let duties = &epochs[1];
    let mut counts = TruthCounts {
        duties: duties.members.len(),
        blocks: blocks.len(),
        empty_slots: empty,
        aggregates: aggregates_served,
        ..TruthCounts::default()
    };
    let duty_slot: Vec<u64> = (0..duties.members.len() as u32)
        .map(|pos| start + duties.committee_of(pos) as u64 / per_slot)
        .collect();
    for (pos, &slot) in duty_slot.iter().enumerate() {
        let included = duties.included[pos];
        if included == u64::MAX {
            counts.missed += 1;
            continue;
        }
        counts.attested += 1;
        let delay = included - slot;
        counts.late += usize::from(delay > 1);
        counts.source_timely += usize::from(delay <= SOURCE_DELAY_LIMIT);
        counts.head_timely += usize::from(delay == 1 && duties.head_ok[pos]);
        counts.wrong_head += usize::from(!duties.head_ok[pos]);
    }
    let truth = Truth {
        members: duties.members.clone(),
        duty_slot,
        inclusion_slot: duties.included.clone(),
        head_ok: duties.head_ok.clone(),
        counts,
    };

    let answers = Answers {
        epoch: e,
        slots_per_epoch: spe,
        spec: spec_json(p).into_bytes(),
        genesis: br#"{"data":{"genesis_time":"1606824023","genesis_validators_root":"0x4b363db94e286120d76eb905340fdd4e54bfe9f06bf33ff6cf5ad27f511bfe95","genesis_fork_version":"0x00000000"}}"#.to_vec(),
        syncing: format!(
            r#"{{"data":{{"head_slot":"{}","sync_distance":"0","is_syncing":false,"is_optimistic":false,"el_offline":false}}}}"#,
            end - 1
        )
        .into_bytes(),
        finality: {
            let cp = |(epoch, root): (u64, [u8; 32])| {
                format!(r#"{{"epoch":"{epoch}","root":"{}"}}"#, hex0x(&root))
            };
            format!(
                r#"{{"execution_optimistic":false,"finalized":false,"data":{{"previous_justified":{},"current_justified":{},"finalized":{}}}}}"#,
                cp(checkpoint(e + 1)),
                cp(checkpoint(e + 2)),
                cp(checkpoint(e + 2)),
            )
            .into_bytes()
        },
        committees: committees_json(duties, start, per_slot).into_bytes(),
        proposer_duties: {
            let mut out = format!(
                r#"{{"dependent_root":"{}","execution_optimistic":false,"data":["#,
                hex0x(&chain.root_at_or_before(start - 1))
            );
            for slot in start..start + spe {
                let v = proposers[(slot - first) as usize];
                if slot > start {
                    out.push(',');
                }
                let _ = write!(
                    out,
                    r#"{{"pubkey":"{}","validator_index":"{v}","slot":"{slot}"}}"#,
                    pubkey(v)
                );
            }
            out.push_str("]}");
            out.into_bytes()
        },
        sync_committee: {
            let list = |members: &[u32]| {
                members
                    .iter()
                    .map(|v| format!("\"{v}\""))
                    .collect::<Vec<_>>()
                    .join(",")
            };
            let subnets: Vec<String> = sync_committee
                .chunks(p.sync_committee_size.div_ceil(4).max(1))
                .map(|c| format!("[{}]", list(c)))
                .collect();
            format!(
                r#"{{"execution_optimistic":false,"finalized":false,"data":{{"validators":[{}],"validator_aggregates":[{}]}}}}"#,
                list(&sync_committee),
                subnets.join(",")
            )
            .into_bytes()
        },
        blocks,
        headers,
        head_slot: end - 1,
        sync_period: 256,
        validators: p.validators,
    };
    Generated {
        params: p.clone(),
        answers,
        truth,
    }
}

fn committees_json(duties: &EpochDuties, start: u64, per_slot: u64) -> String {
    let mut out = String::with_capacity(duties.members.len() * 11 + 64 * 1024);
    out.push_str(r#"{"execution_optimistic":false,"finalized":true,"data":["#);
    for c in 0..duties.starts.len() - 1 {
        if c > 0 {
            out.push(',');
        }
        let _ = write!(
            out,
            r#"{{"index":"{}","slot":"{}","validators":["#,
            c as u64 % per_slot,
            start + c as u64 / per_slot
        );
        let members = &duties.members[duties.starts[c] as usize..duties.starts[c + 1] as usize];
        for (i, v) in members.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            let _ = write!(out, "\"{v}\"");
        }
        out.push_str("]}");
    }
    out.push_str("]}");
    out
}

#[allow(clippy::too_many_arguments)]
fn block_json(
    slot: u64,
    proposer: u32,
    parent: &[u8; 32],
    state_root: &[u8; 32],
    aggregates: &[Aggregate],
    sync_bits: &[u8],
    tx_bytes: usize,
    rng: &mut Rng,
) -> String {
    let mut sig = [0u8; 96];
    let mut out = String::with_capacity(2 * tx_bytes + aggregates.len() * 9_000 + 8_192);
    let _ = write!(
        out,
        r#"{{"version":"fulu","execution_optimistic":false,"finalized":true,"data":{{"message":{{"slot":"{slot}","proposer_index":"{proposer}","parent_root":"{}","state_root":"{}","body":{{"#,
        hex0x(parent),
        hex0x(state_root)
    );
    rng.fill(&mut sig);
    let _ = write!(
        out,
        r#""randao_reveal":"{}","eth1_data":{{"deposit_root":"{}","deposit_count":"2046132","block_hash":"{}"}},"graffiti":"{}","proposer_slashings":[],"attester_slashings":[],"attestations":["#,
        hex0x(&sig),
        hex0x(&rng.root()),
        hex0x(&rng.root()),
        hex0x(&rng.root())
    );
    for (i, a) in aggregates.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        rng.fill(&mut sig);
        let _ = write!(
            out,
            r#"{{"aggregation_bits":"{}","data":{{"slot":"{}","index":"0","beacon_block_root":"{}","source":{{"epoch":"{}","root":"{}"}},"target":{{"epoch":"{}","root":"{}"}}}},"signature":"{}","committee_bits":"{}"}}"#,
            hex0x(&a.bits),
            a.slot,
            hex0x(&a.head),
            a.source.0,
            hex0x(&a.source.1),
            a.target.0,
            hex0x(&a.target.1),
            hex0x(&sig),
            hex0x(&a.committee_bits.to_le_bytes()),
        );
    }
    rng.fill(&mut sig);
    let _ = write!(
        out,
        r#"],"deposits":[],"voluntary_exits":[],"sync_aggregate":{{"sync_committee_bits":"{}","sync_committee_signature":"{}"}},"#,
        hex0x(sync_bits),
        hex0x(&sig)
    );
    let mut logs_bloom = [0u8; 256];
    rng.fill(&mut logs_bloom);
    let _ = write!(
        out,
        r#""execution_payload":{{"parent_hash":"{}","fee_recipient":"{}","state_root":"{}","receipts_root":"{}","logs_bloom":"{}","prev_randao":"{}","block_number":"{}","gas_limit":"36000000","gas_used":"17123456","timestamp":"{}","extra_data":"0x6265617665726275696c642e6f7267","base_fee_per_gas":"1234567890","block_hash":"{}","transactions":["#,
        hex0x(&rng.root()),
        hex0x(&rng.root()[..20]),
        hex0x(&rng.root()),
        hex0x(&rng.root()),
        hex0x(&logs_bloom),
        hex0x(&rng.root()),
        21_000_000 + slot,
        1_606_824_023 + 12 * slot,
        hex0x(&rng.root()),
    );
    let mut written = 0;
    let mut tx = vec![0u8; 2_000];
    let mut first = true;
    while written < tx_bytes {
        let len = (100 + rng.below(1_100) as usize)
            .min(tx_bytes - written)
            .max(1);
        rng.fill(&mut tx[..len]);
        if !first {
            out.push(',');
        }
        first = false;
        out.push('"');
        out.push_str(&hex0x(&tx[..len]));
        out.push('"');
        written += len;
    }
    out.push_str(r#"],"withdrawals":["#);
    for i in 0..16u64 {
        if i > 0 {
            out.push(',');
        }
        let _ = write!(
            out,
            r#"{{"index":"{}","validator_index":"{}","address":"{}","amount":"{}"}}"#,
            90_000_000 + slot * 16 + i,
            rng.below(1 << 20),
            hex0x(&rng.root()[..20]),
            16_000_000 + rng.below(1_000_000)
        );
    }
    out.push_str(r#"],"blob_gas_used":"786432","excess_blob_gas":"0"},"bls_to_execution_changes":[],"blob_kzg_commitments":["#);
    let mut commitment = [0u8; 48];
    for i in 0..6 {
        if i > 0 {
            out.push(',');
        }
        rng.fill(&mut commitment);
        let _ = write!(out, "\"{}\"", hex0x(&commitment));
    }
    rng.fill(&mut sig);
    let _ = write!(
        out,
        r#"],"execution_requests":{{"deposits":[],"withdrawals":[],"consolidations":[]}}}}}},"signature":"{}"}}}}"#,
        hex0x(&sig)
    );
    out
}

fn header_json(
    slot: u64,
    proposer: u32,
    root: &[u8; 32],
    parent: &[u8; 32],
    state_root: &[u8; 32],
    rng: &mut Rng,
) -> String {
    let mut sig = [0u8; 96];
    rng.fill(&mut sig);
    format!(
        r#"{{"execution_optimistic":false,"finalized":true,"data":{{"root":"{}","canonical":true,"header":{{"message":{{"slot":"{slot}","proposer_index":"{proposer}","parent_root":"{}","state_root":"{}","body_root":"{}"}},"signature":"{}"}}}}}}"#,
        hex0x(root),
        hex0x(parent),
        hex0x(state_root),
        hex0x(&rng.root()),
        hex0x(&sig)
    )
}

fn spec_json(p: &Params) -> String {
    let values: [(&str, String); 22] = [
        ("PRESET_BASE", "mainnet".into()),
        ("CONFIG_NAME", "mainnet".into()),
        ("SECONDS_PER_SLOT", "12".into()),
        ("SLOTS_PER_EPOCH", p.slots_per_epoch.to_string()),
        ("MIN_ATTESTATION_INCLUSION_DELAY", "1".into()),
        (
            "MAX_COMMITTEES_PER_SLOT",
            MAX_COMMITTEES_PER_SLOT.to_string(),
        ),
        ("TARGET_COMMITTEE_SIZE", TARGET_COMMITTEE_SIZE.to_string()),
        ("SHUFFLE_ROUND_COUNT", "90".into()),
        ("SYNC_COMMITTEE_SIZE", p.sync_committee_size.to_string()),
        ("EPOCHS_PER_SYNC_COMMITTEE_PERIOD", "256".into()),
        (
            "MAX_ATTESTATIONS_ELECTRA",
            MAX_AGGREGATES_PER_BLOCK.to_string(),
        ),
        ("MAX_ATTESTER_SLASHINGS_ELECTRA", "1".into()),
        ("GENESIS_FORK_VERSION", "0x00000000".into()),
        ("ALTAIR_FORK_EPOCH", "74240".into()),
        ("BELLATRIX_FORK_EPOCH", "144896".into()),
        ("CAPELLA_FORK_EPOCH", "194048".into()),
        ("DENEB_FORK_EPOCH", "269568".into()),
        ("ELECTRA_FORK_EPOCH", "364032".into()),
        ("FULU_FORK_EPOCH", "411392".into()),
        ("FULU_FORK_VERSION", "0x06000000".into()),
        ("DEPOSIT_CHAIN_ID", "1".into()),
        ("DOMAIN_BEACON_ATTESTER", "0x01000000".into()),
    ];
    let body: Vec<String> = values
        .iter()
        .map(|(k, v)| format!(r#""{k}":"{v}""#))
        .collect();
    format!(r#"{{"data":{{{}}}}}"#, body.join(","))
}

impl Answers {
    /// First slot of the analysed epoch.
    pub fn start_slot(&self) -> u64 {
        self.epoch * self.slots_per_epoch
    }

    /// The answer to `GET path?query`, as a beacon node would give it (`None` = 404). The
    /// validators endpoint is not here: see [`validators_json`].
    pub fn route(&self, path: &str, query: Option<&str>) -> Option<&[u8]> {
        let epoch_param = || {
            query?
                .split('&')
                .find_map(|kv| kv.strip_prefix("epoch="))?
                .parse::<u64>()
                .ok()
        };
        let slot_of = |id: &str, map: &BTreeMap<u64, Vec<u8>>| -> Option<u64> {
            match id {
                "head" => Some(self.head_slot),
                _ => id.parse().ok().filter(|s| map.contains_key(s)),
            }
        };
        let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
        match parts.as_slice() {
            ["eth", "v1", "config", "spec"] => Some(&self.spec),
            ["eth", "v1", "beacon", "genesis"] => Some(&self.genesis),
            ["eth", "v1", "node", "syncing"] => Some(&self.syncing),
            ["eth", "v1", "beacon", "headers", id] => {
                let slot = slot_of(id, &self.headers)?;
                self.headers.get(&slot).map(Vec::as_slice)
            }
            ["eth", "v2", "beacon", "blocks", id] => {
                let slot = slot_of(id, &self.blocks)?;
                self.blocks.get(&slot).map(Vec::as_slice)
            }
            ["eth", "v1", "beacon", "states", _, "committees"] => {
                (epoch_param()? == self.epoch).then_some(self.committees.as_slice())
            }
            ["eth", "v1", "beacon", "states", _, "sync_committees"] => {
                let asked = epoch_param().unwrap_or(self.epoch);
                (asked / self.sync_period == self.epoch / self.sync_period)
                    .then_some(self.sync_committee.as_slice())
            }
            ["eth", "v1", "beacon", "states", _, "finality_checkpoints"] => Some(&self.finality),
            ["eth", "v1", "validator", "duties", "proposer", epoch] => {
                (epoch.parse::<u64>().ok()? == self.epoch)
                    .then_some(self.proposer_duties.as_slice())
            }
            _ => None,
        }
    }

    /// Total bytes of the answers the analysis of one epoch reads.
    pub fn epoch_bytes(&self) -> usize {
        let first = self.start_slot() - 1;
        let end = self.start_slot() + 2 * self.slots_per_epoch;
        self.committees.len()
            + self.proposer_duties.len()
            + self.sync_committee.len()
            + self
                .blocks
                .range(first..end)
                .map(|(_, b)| b.len())
                .sum::<usize>()
            + self
                .headers
                .range(first..self.start_slot() + self.slots_per_epoch)
                .map(|(_, b)| b.len())
                .sum::<usize>()
    }

    /// The chain spec, decoded.
    pub fn chain_spec(&self) -> Result<ChainSpec, BeaconError> {
        ChainSpec::decode(&self.spec)
    }

    /// Decodes the answers into the analyser's inputs exactly as
    /// [`valwatch_ethereum::client::BeaconClient::fetch_epoch`] does: committees, proposer
    /// duties, sync committee, blocks from the last slot of `e - 1` to the last of `e + 1`,
    /// headers of the last slot of `e - 1` and of `e`.
    pub fn decode(&self, spec: &ChainSpec) -> Result<EpochData, BeaconError> {
        let spe = spec.slots_per_epoch;
        let epoch = self.epoch;
        let start = epoch * spe;
        let first = start - 1;
        let end = start + 2 * spe;
        let committees = decode_committees(&self.committees, epoch, spe)?;
        let proposer_duties = decode_proposer_duties(&self.proposer_duties, epoch, spe)?;
        let sync_committee = decode_sync_committee(&self.sync_committee)?;
        let blocks = self
            .blocks
            .range(first..end)
            .map(|(slot, bytes)| decode_block(bytes, Some(*slot)))
            .collect::<Result<Vec<_>, _>>()?;
        let known_roots = self
            .headers
            .range(first..start + spe)
            .map(|(slot, bytes)| decode_header(bytes, Some(*slot)).map(|h| (h.slot, h.root)))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(EpochData {
            epoch,
            committees,
            blocks,
            known_roots,
            proposer_duties,
            sync_committee,
        })
    }
}

/// The answer of `/eth/v1/beacon/states/{id}/validators` for `ids` (indices or pubkeys of
/// [`pubkey`]); unknown ids are left out, as a node does.
pub fn validators_json(validators: u32, ids: &[String]) -> String {
    let mut out = String::from(r#"{"execution_optimistic":false,"finalized":false,"data":["#);
    let mut first = true;
    let mut seen = HashMap::new();
    for id in ids {
        let index = match id.parse::<u32>() {
            Ok(i) => Some(i),
            Err(_) => index_of_pubkey(id),
        };
        let Some(index) = index.filter(|i| *i < validators) else {
            continue;
        };
        if seen.insert(index, ()).is_some() {
            continue;
        }
        if !first {
            out.push(',');
        }
        first = false;
        let _ = write!(
            out,
            r#"{{"index":"{index}","balance":"32001234567","status":"active_ongoing","validator":{{"pubkey":"{}","withdrawal_credentials":"0x01000000000000000000000000{:040x}","effective_balance":"32000000000","slashed":false,"activation_eligibility_epoch":"0","activation_epoch":"0","exit_epoch":"18446744073709551615","withdrawable_epoch":"18446744073709551615"}}}}"#,
            pubkey(index),
            u128::from(mix(u64::from(index)))
        );
    }
    out.push_str("]}");
    out
}
