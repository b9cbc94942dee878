//! Typed models of the Beacon API answers valwatch reads, and their decoders.
//!
//! Every decoder takes the raw answer bytes and returns a compact, owned form that keeps only
//! what the duty analysis needs: integers sent as decimal strings become `u64`, roots become
//! `[u8; 32]`, SSZ bitfields sent as hex become byte vectors. The large answers (committees of
//! an epoch, ≈ 10 MB on mainnet; blocks) are read with `serde_json::from_slice` into borrowed
//! `&str` fields first, so no intermediate `String` is made per field. Answers that carry an
//! epoch or a slot are checked against what was asked for, because some nodes serve the wrong
//! epoch's committees; block answers must name a known fork in their `version` field.

use std::collections::HashMap;

use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};

/// A 32-byte block or state root.
pub type Root = [u8; 32];

/// Why a Beacon API answer could not be used.
#[derive(Debug, thiserror::Error)]
pub enum BeaconError {
    /// The answer is not the JSON shape the Beacon API specifies.
    #[error("{what}: malformed answer: {source}")]
    Json {
        /// Which answer.
        what: &'static str,
        /// The decoder's complaint (line and column included).
        #[source]
        source: serde_json::Error,
    },
    /// A block answer names a fork this version of valwatch does not know.
    #[error(
        "block answer has version {0:?}, a fork this valwatch does not know: upgrade valwatch \
         (refusing to guess the attestation format)"
    )]
    UnknownFork(String),
    /// A block answer has no `version` field, so its attestation format is unknown.
    #[error("block answer has no `version` field (is this /eth/v2/beacon/blocks?)")]
    MissingVersion,
    /// The answer is about another epoch than the one asked for.
    #[error("{what}: asked for epoch {asked}, the node answered for slot {slot} (epoch {got})")]
    WrongEpoch {
        /// Which answer.
        what: &'static str,
        /// Epoch asked for.
        asked: u64,
        /// Slot found in the answer.
        slot: u64,
        /// Epoch of that slot.
        got: u64,
    },
    /// The answer is about another slot than the one asked for.
    #[error("{what}: asked for slot {asked}, the node answered for slot {got}")]
    WrongSlot {
        /// Which answer.
        what: &'static str,
        /// Slot asked for.
        asked: u64,
        /// Slot in the answer.
        got: u64,
    },
    /// A value has the right JSON type but cannot be used.
    #[error("{what}: {message}")]
    Invalid {
        /// Which answer or field.
        what: &'static str,
        /// What is wrong with it.
        message: String,
    },
    /// A constant the analysis needs is missing from `/eth/v1/config/spec`.
    #[error("/eth/v1/config/spec lacks {0}")]
    MissingConstant(&'static str),
}

fn invalid(what: &'static str, message: impl Into<String>) -> BeaconError {
    BeaconError::Invalid {
        what,
        message: message.into(),
    }
}

fn json<'a, T: Deserialize<'a>>(what: &'static str, bytes: &'a [u8]) -> Result<T, BeaconError> {
    serde_json::from_slice(bytes).map_err(|source| BeaconError::Json { what, source })
}

/// Serde helpers for the Beacon API's encodings.
mod encoding {
    use super::*;

    struct U64Visitor;

    impl Visitor<'_> for U64Visitor {
        type Value = u64;

        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("an unsigned integer as a decimal string")
        }

        fn visit_u64<E: de::Error>(self, v: u64) -> Result<u64, E> {
            Ok(v)
        }

        fn visit_str<E: de::Error>(self, v: &str) -> Result<u64, E> {
            v.parse()
                .map_err(|_| E::custom(format!("{v:?} is not an unsigned decimal integer")))
        }
    }

    /// A `u64` sent as a decimal string (a bare number is accepted too).
    pub fn quoted_u64<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
        d.deserialize_any(U64Visitor)
    }

    struct U64ListVisitor;

    impl<'de> Visitor<'de> for U64ListVisitor {
        type Value = Vec<u64>;

        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a list of unsigned integers as decimal strings")
        }

        fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<u64>, A::Error> {
            let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0));
            while let Some(Quoted(v)) = seq.next_element::<Quoted>()? {
                out.push(v);
            }
            Ok(out)
        }
    }

    /// One quoted integer, as a list element.
    struct Quoted(u64);

    impl<'de> Deserialize<'de> for Quoted {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            quoted_u64(d).map(Quoted)
        }
    }

    /// A list of quoted `u64`s, decoded without a `String` per element.
    pub fn quoted_u64_list<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u64>, D::Error> {
        d.deserialize_seq(U64ListVisitor)
    }

    /// A 32-byte root as `0x` + 64 hex digits.
    pub fn root<'de, D: Deserializer<'de>>(d: D) -> Result<Root, D::Error> {
        let text = <&str>::deserialize(d)?;
        let digits = text
            .strip_prefix("0x")
            .ok_or_else(|| de::Error::custom("root lacks the 0x prefix"))?;
        let mut out = [0u8; 32];
        hex::decode_to_slice(digits, &mut out)
            .map_err(|e| de::Error::custom(format!("root {text:?}: {e}")))?;
        Ok(out)
    }
}

use encoding::{quoted_u64, quoted_u64_list, root};

/// Decodes `0x`-prefixed hex into bytes.
fn hex_bytes(what: &'static str, text: &str) -> Result<Vec<u8>, BeaconError> {
    let digits = text
        .strip_prefix("0x")
        .ok_or_else(|| invalid(what, "hex value lacks the 0x prefix"))?;
    hex::decode(digits).map_err(|e| invalid(what, format!("bad hex: {e}")))
}

/// An SSZ `Bitlist`: bits in little-endian bit order, its length given by a marker bit (the
/// highest set bit of the last byte), which is not part of the list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bitlist {
    bytes: Vec<u8>,
    len: usize,
}

impl Bitlist {
    /// Decodes the hex form the Beacon API sends (`0x` + bytes, marker bit included).
    pub fn from_hex(text: &str) -> Result<Self, BeaconError> {
        let bytes = hex_bytes("aggregation_bits", text)?;
        Self::from_ssz(bytes)
    }

    /// Builds a bitlist from its SSZ bytes (marker bit included).
    pub fn from_ssz(mut bytes: Vec<u8>) -> Result<Self, BeaconError> {
        let last = *bytes
            .last()
            .ok_or_else(|| invalid("aggregation_bits", "empty bitlist (no length bit)"))?;
        if last == 0 {
            return Err(invalid("aggregation_bits", "last byte has no length bit"));
        }
        let marker = 7 - last.leading_zeros() as usize;
        let len = (bytes.len() - 1) * 8 + marker;
        if let Some(byte) = bytes.last_mut() {
            *byte &= !(1u8 << marker);
        }
        Ok(Bitlist { bytes, len })
    }

    /// Number of bits (the marker excluded).
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the list has no bits.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Bit `i` (false beyond the end).
    pub fn get(&self, i: usize) -> bool {
        i < self.len && self.bytes[i / 8] & (1 << (i % 8)) != 0
    }

    /// Number of set bits.
    pub fn count_ones(&self) -> usize {
        self.bytes.iter().map(|b| b.count_ones() as usize).sum()
    }

    /// Calls `f(offset, width, bits)` for consecutive chunks of at most 56 bits covering
    /// `start..end` (clipped to the list), in ascending order: bit `j` of `bits` is bit
    /// `start + offset + j` of the list, and `bits` has no bit at or above `width`. Reading a
    /// word at a time is what makes dense aggregates cheap.
    pub fn for_each_chunk_in(
        &self,
        start: usize,
        end: usize,
        mut f: impl FnMut(usize, usize, u64),
    ) {
        let end = end.min(self.len);
        let mut pos = start;
        while pos < end {
            // 56 bits from any bit offset fit in the 8 bytes starting at that offset's byte.
            let width = (end - pos).min(56);
            let byte = pos / 8;
            let mut word = [0u8; 8];
            let available = (self.bytes.len() - byte).min(8);
            word[..available].copy_from_slice(&self.bytes[byte..byte + available]);
            let bits = (u64::from_le_bytes(word) >> (pos % 8)) & ((1u64 << width) - 1);
            f(pos - start, width, bits);
            pos += width;
        }
    }

    /// Calls `f(i - start)` for every set bit `i` in `start..end`, in ascending order.
    pub fn for_each_one_in(&self, start: usize, end: usize, mut f: impl FnMut(usize)) {
        let end = end.min(self.len);
        if start >= end {
            return;
        }
        let mut byte_index = start / 8;
        while byte_index * 8 < end {
            let mut byte = self.bytes[byte_index];
            let base = byte_index * 8;
            if base < start {
                byte &= 0xffu8 << (start - base);
            }
            if base + 8 > end {
                byte &= 0xffu8 >> (base + 8 - end);
            }
            while byte != 0 {
                let bit = byte.trailing_zeros() as usize;
                f(base + bit - start);
                byte &= byte - 1;
            }
            byte_index += 1;
        }
    }
}

/// A consensus fork, as named in the `version` field of block answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Fork {
    /// The original beacon chain.
    Phase0,
    /// Participation flags, sync committees.
    Altair,
    /// The merge.
    Bellatrix,
    /// Withdrawals.
    Capella,
    /// EIP-7045: attestations includable until the end of the next epoch.
    Deneb,
    /// EIP-7549: `committee_bits` + concatenated `aggregation_bits`.
    Electra,
    /// PeerDAS.
    Fulu,
}

impl Fork {
    /// Parses the `version` field of a block answer.
    pub fn from_version(version: &str) -> Result<Self, BeaconError> {
        Ok(match version.to_ascii_lowercase().as_str() {
            "phase0" => Fork::Phase0,
            "altair" => Fork::Altair,
            "bellatrix" => Fork::Bellatrix,
            "capella" => Fork::Capella,
            "deneb" => Fork::Deneb,
            "electra" => Fork::Electra,
            "fulu" => Fork::Fulu,
            _ => return Err(BeaconError::UnknownFork(version.to_string())),
        })
    }

    /// The fork's name as the Beacon API spells it.
    pub fn name(self) -> &'static str {
        match self {
            Fork::Phase0 => "phase0",
            Fork::Altair => "altair",
            Fork::Bellatrix => "bellatrix",
            Fork::Capella => "capella",
            Fork::Deneb => "deneb",
            Fork::Electra => "electra",
            Fork::Fulu => "fulu",
        }
    }

    /// Whether attestations name their committees in `committee_bits` (EIP-7549).
    pub fn has_committee_bits(self) -> bool {
        self >= Fork::Electra
    }
}

/// A checkpoint: an epoch and the root of its boundary block.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub struct Checkpoint {
    /// Epoch.
    #[serde(deserialize_with = "quoted_u64")]
    pub epoch: u64,
    /// Block root at the epoch's first slot (or the last block before it).
    #[serde(deserialize_with = "root")]
    pub root: Root,
}

/// One aggregate attestation of a block, in a fork-independent form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attestation {
    /// `data.slot`: the slot the attesters were assigned to.
    pub slot: u64,
    /// Committees covered, bit `i` = committee index `i`, ascending; before Electra exactly one
    /// bit (`data.index`).
    pub committee_bits: u64,
    /// Aggregation bits: the concatenation of the covered committees' bits, ascending.
    pub aggregation_bits: Bitlist,
    /// `data.beacon_block_root`: the head vote.
    pub head_root: Root,
    /// `data.source`.
    pub source: Checkpoint,
    /// `data.target`.
    pub target: Checkpoint,
}

/// A block, reduced to what duty analysis reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Block {
    /// Fork from the answer's `version` field.
    pub fork: Fork,
    /// Slot.
    pub slot: u64,
    /// Proposer's validator index.
    pub proposer_index: u64,
    /// Root of the parent block (the canonical block before this one).
    pub parent_root: Root,
    /// Aggregate attestations.
    pub attestations: Vec<Attestation>,
    /// `sync_aggregate.sync_committee_bits` as bytes (Bitvector, little-endian bit order);
    /// `None` before Altair.
    pub sync_bits: Option<Vec<u8>>,
}

#[derive(Deserialize)]
struct RawBlockAnswer<'a> {
    #[serde(borrow)]
    version: Option<&'a str>,
    #[serde(borrow)]
    data: RawSignedBlock<'a>,
}

#[derive(Deserialize)]
struct RawSignedBlock<'a> {
    #[serde(borrow)]
    message: RawBlock<'a>,
}

#[derive(Deserialize)]
struct RawBlock<'a> {
    #[serde(deserialize_with = "quoted_u64")]
    slot: u64,
    #[serde(deserialize_with = "quoted_u64")]
    proposer_index: u64,
    #[serde(deserialize_with = "root")]
    parent_root: Root,
    #[serde(borrow)]
    body: RawBody<'a>,
}

#[derive(Deserialize)]
struct RawBody<'a> {
    #[serde(borrow)]
    attestations: Vec<RawAttestation<'a>>,
    #[serde(borrow, default)]
    sync_aggregate: Option<RawSyncAggregate<'a>>,
}

#[derive(Deserialize)]
struct RawSyncAggregate<'a> {
    sync_committee_bits: &'a str,
}

#[derive(Deserialize)]
struct RawAttestation<'a> {
    aggregation_bits: &'a str,
    #[serde(default)]
    committee_bits: Option<&'a str>,
    data: RawAttestationData,
}

#[derive(Deserialize)]
struct RawAttestationData {
    #[serde(deserialize_with = "quoted_u64")]
    slot: u64,
    #[serde(deserialize_with = "quoted_u64")]
    index: u64,
    #[serde(deserialize_with = "root")]
    beacon_block_root: Root,
    source: Checkpoint,
    target: Checkpoint,
}

/// Largest committee count per slot any preset allows (`MAX_COMMITTEES_PER_SLOT`), the width of
/// Electra's `committee_bits`.
pub const MAX_COMMITTEES_PER_SLOT: u64 = 64;

/// Decodes `GET /eth/v2/beacon/blocks/{id}`; `expected_slot` (when asking by slot) is checked.
pub fn decode_block(bytes: &[u8], expected_slot: Option<u64>) -> Result<Block, BeaconError> {
    let raw: RawBlockAnswer<'_> = json("block", bytes)?;
    let fork = Fork::from_version(raw.version.ok_or(BeaconError::MissingVersion)?)?;
    let message = raw.data.message;
    if let Some(asked) = expected_slot {
        if asked != message.slot {
            return Err(BeaconError::WrongSlot {
                what: "block",
                asked,
                got: message.slot,
            });
        }
    }
    let mut attestations = Vec::with_capacity(message.body.attestations.len());
    for raw in message.body.attestations {
        let committee_bits = if fork.has_committee_bits() {
            let text = raw.committee_bits.ok_or_else(|| {
                invalid(
                    "attestation",
                    "an Electra-or-later attestation lacks committee_bits",
                )
            })?;
            let bytes = hex_bytes("committee_bits", text)?;
            if bytes.len() > 8 {
                return Err(invalid("committee_bits", "longer than 64 bits"));
            }
            let mut word = [0u8; 8];
            word[..bytes.len()].copy_from_slice(&bytes);
            let bits = u64::from_le_bytes(word);
            if bits == 0 {
                return Err(invalid("committee_bits", "no committee set"));
            }
            bits
        } else {
            if raw.data.index >= MAX_COMMITTEES_PER_SLOT {
                return Err(invalid(
                    "attestation",
                    format!("committee index {} out of range", raw.data.index),
                ));
            }
            1u64 << raw.data.index
        };
        attestations.push(Attestation {
            slot: raw.data.slot,
            committee_bits,
            aggregation_bits: Bitlist::from_hex(raw.aggregation_bits)?,
            head_root: raw.data.beacon_block_root,
            source: raw.data.source,
            target: raw.data.target,
        });
    }
    let sync_bits = match message.body.sync_aggregate {
        Some(aggregate) => Some(hex_bytes(
            "sync_committee_bits",
            aggregate.sync_committee_bits,
        )?),
        None => None,
    };
    Ok(Block {
        fork,
        slot: message.slot,
        proposer_index: message.proposer_index,
        parent_root: message.parent_root,
        attestations,
        sync_bits,
    })
}

/// A block header answer (`GET /eth/v1/beacon/headers/{id}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// The block's root.
    pub root: Root,
    /// Whether the node holds it canonical.
    pub canonical: bool,
    /// Slot.
    pub slot: u64,
    /// Proposer's validator index.
    pub proposer_index: u64,
    /// Parent block root.
    pub parent_root: Root,
}

#[derive(Deserialize)]
struct RawHeaderAnswer {
    data: RawHeaderData,
}

#[derive(Deserialize)]
struct RawHeaderData {
    #[serde(deserialize_with = "root")]
    root: Root,
    #[serde(default = "yes")]
    canonical: bool,
    header: RawSignedHeader,
}

fn yes() -> bool {
    true
}

#[derive(Deserialize)]
struct RawSignedHeader {
    message: RawHeaderMessage,
}

#[derive(Deserialize)]
struct RawHeaderMessage {
    #[serde(deserialize_with = "quoted_u64")]
    slot: u64,
    #[serde(deserialize_with = "quoted_u64")]
    proposer_index: u64,
    #[serde(deserialize_with = "root")]
    parent_root: Root,
}

/// Decodes `GET /eth/v1/beacon/headers/{id}`; `expected_slot` (when asking by slot) is checked.
pub fn decode_header(bytes: &[u8], expected_slot: Option<u64>) -> Result<Header, BeaconError> {
    let raw: RawHeaderAnswer = json("header", bytes)?;
    let message = raw.data.header.message;
    if let Some(asked) = expected_slot {
        if asked != message.slot {
            return Err(BeaconError::WrongSlot {
                what: "header",
                asked,
                got: message.slot,
            });
        }
    }
    Ok(Header {
        root: raw.data.root,
        canonical: raw.data.canonical,
        slot: message.slot,
        proposer_index: message.proposer_index,
        parent_root: message.parent_root,
    })
}

/// The attestation committees of one epoch, flattened: committee `c` of slot offset `s` holds
/// `validators[offsets[s * per_slot + c]..offsets[s * per_slot + c + 1]]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EpochCommittees {
    epoch: u64,
    slots_per_epoch: u64,
    per_slot: usize,
    offsets: Vec<u32>,
    validators: Vec<u32>,
}

#[derive(Deserialize)]
struct RawCommitteesAnswer {
    data: Vec<RawCommittee>,
}

#[derive(Deserialize)]
struct RawCommittee {
    #[serde(deserialize_with = "quoted_u64")]
    index: u64,
    #[serde(deserialize_with = "quoted_u64")]
    slot: u64,
    #[serde(deserialize_with = "quoted_u64_list")]
    validators: Vec<u64>,
}

impl EpochCommittees {
    /// Builds the committees of `epoch` from `(slot, committee index, validator indices)`;
    /// every slot of the epoch must have the same committees `0..n`.
    pub fn new(
        epoch: u64,
        slots_per_epoch: u64,
        committees: impl IntoIterator<Item = (u64, u64, Vec<u64>)>,
    ) -> Result<Self, BeaconError> {
        const WHAT: &str = "committees";
        if slots_per_epoch == 0 {
            return Err(invalid(WHAT, "SLOTS_PER_EPOCH is 0"));
        }
        let start = epoch * slots_per_epoch;
        let mut table: Vec<(u64, u64, Vec<u64>)> = committees.into_iter().collect();
        for (slot, _, _) in &table {
            if *slot < start || *slot >= start + slots_per_epoch {
                return Err(BeaconError::WrongEpoch {
                    what: WHAT,
                    asked: epoch,
                    slot: *slot,
                    got: slot / slots_per_epoch,
                });
            }
        }
        table.sort_unstable_by_key(|(slot, index, _)| (*slot, *index));
        if table.len() as u64 % slots_per_epoch != 0 || table.is_empty() {
            return Err(invalid(
                WHAT,
                format!(
                    "{} committees for {slots_per_epoch} slots: not the same count per slot",
                    table.len()
                ),
            ));
        }
        let per_slot = table.len() / slots_per_epoch as usize;
        if per_slot as u64 > MAX_COMMITTEES_PER_SLOT {
            return Err(invalid(
                WHAT,
                format!("{per_slot} committees per slot (at most 64)"),
            ));
        }
        let total: usize = table.iter().map(|(_, _, v)| v.len()).sum();
        let mut offsets = Vec::with_capacity(table.len() + 1);
        let mut validators = Vec::with_capacity(total);
        offsets.push(0u32);
        for (position, (slot, index, members)) in table.into_iter().enumerate() {
            let expected_slot = start + (position / per_slot) as u64;
            let expected_index = (position % per_slot) as u64;
            if slot != expected_slot || index != expected_index {
                return Err(invalid(
                    WHAT,
                    format!(
                        "slot {slot} committee {index} where slot {expected_slot} committee {expected_index} was expected"
                    ),
                ));
            }
            for member in members {
                let member = u32::try_from(member)
                    .map_err(|_| invalid(WHAT, format!("validator index {member} too large")))?;
                validators.push(member);
            }
            let end = u32::try_from(validators.len())
                .map_err(|_| invalid(WHAT, "more than 2^32 committee members"))?;
            offsets.push(end);
        }
        Ok(EpochCommittees {
            epoch,
            slots_per_epoch,
            per_slot,
            offsets,
            validators,
        })
    }

    /// The epoch.
    pub fn epoch(&self) -> u64 {
        self.epoch
    }

    /// Slots per epoch the committees were built for.
    pub fn slots_per_epoch(&self) -> u64 {
        self.slots_per_epoch
    }

    /// Committees per slot.
    pub fn per_slot(&self) -> usize {
        self.per_slot
    }

    /// Every committee member of the epoch, committee after committee (slot, then index).
    pub fn members(&self) -> &[u32] {
        &self.validators
    }

    /// Range in [`EpochCommittees::members`] of committee `index` at `slot_offset` (the slot
    /// minus the epoch's first slot), if it exists.
    pub fn range(&self, slot_offset: u64, index: u64) -> Option<std::ops::Range<usize>> {
        if slot_offset >= self.slots_per_epoch || index >= self.per_slot as u64 {
            return None;
        }
        let c = slot_offset as usize * self.per_slot + index as usize;
        Some(self.offsets[c] as usize..self.offsets[c + 1] as usize)
    }

    /// `(slot, committee index)` of the member at `position` in [`EpochCommittees::members`].
    pub fn assignment(&self, position: usize) -> (u64, u64) {
        // offsets is sorted; the committee is the last one starting at or before position.
        let c = self.offsets.partition_point(|&o| o as usize <= position) - 1;
        (
            self.epoch * self.slots_per_epoch + (c / self.per_slot) as u64,
            (c % self.per_slot) as u64,
        )
    }
}

/// Decodes `GET /eth/v1/beacon/states/{id}/committees?epoch={epoch}` and checks that every
/// committee belongs to `epoch`.
pub fn decode_committees(
    bytes: &[u8],
    epoch: u64,
    slots_per_epoch: u64,
) -> Result<EpochCommittees, BeaconError> {
    if let Some(table) = fast_committees::parse(bytes) {
        return EpochCommittees::new(epoch, slots_per_epoch, table);
    }
    // Anything the fast reader does not expect goes through serde, which also gives the
    // precise error.
    let raw: RawCommitteesAnswer = json("committees", bytes)?;
    EpochCommittees::new(
        epoch,
        slots_per_epoch,
        raw.data
            .into_iter()
            .map(|c| (c.slot, c.index, c.validators)),
    )
}

/// A reader for the committees answer alone: on mainnet it is a million quoted integers
/// (≈ 10 MB), which serde_json decodes at several hundred instructions each; this reads them
/// at a few per byte. It accepts exactly the JSON grammar for the shape
/// `{..., "data": [{"index": N, "slot": N, "validators": [N, ...], ...}, ...], ...}` (integers
/// quoted or bare, other members skipped, whitespace anywhere) and returns `None` for anything
/// else, including any escape sequence, so that serde decides.
mod fast_committees {
    type Table = Vec<(u64, u64, Vec<u64>)>;

    struct Reader<'a> {
        bytes: &'a [u8],
        pos: usize,
    }

    impl<'a> Reader<'a> {
        fn ws(&mut self) {
            while let Some(b' ' | b'\n' | b'\r' | b'\t') = self.bytes.get(self.pos) {
                self.pos += 1;
            }
        }

        fn peek(&mut self) -> Option<u8> {
            self.ws();
            self.bytes.get(self.pos).copied()
        }

        fn eat(&mut self, byte: u8) -> Option<()> {
            (self.peek()? == byte).then(|| self.pos += 1)
        }

        /// A string without escapes; returns its contents.
        fn string(&mut self) -> Option<&'a [u8]> {
            self.eat(b'"')?;
            let start = self.pos;
            loop {
                match *self.bytes.get(self.pos)? {
                    b'"' => break,
                    b'\\' => return None,
                    0..0x20 => return None,
                    _ => self.pos += 1,
                }
            }
            let bytes: &'a [u8] = self.bytes;
            let text = &bytes[start..self.pos];
            self.pos += 1;
            std::str::from_utf8(text).ok()?;
            Some(text)
        }

        /// An unsigned integer, quoted or bare (no sign, no leading zeros but `0`).
        fn integer(&mut self) -> Option<u64> {
            let quoted = self.peek()? == b'"';
            if quoted {
                self.pos += 1;
            }
            let start = self.pos;
            let mut value: u64 = 0;
            while let Some(&digit @ b'0'..=b'9') = self.bytes.get(self.pos) {
                value = value
                    .checked_mul(10)?
                    .checked_add(u64::from(digit - b'0'))?;
                self.pos += 1;
            }
            let digits = self.pos - start;
            if digits == 0 || (digits > 1 && self.bytes[start] == b'0') {
                return None;
            }
            if quoted {
                (self.bytes.get(self.pos) == Some(&b'"')).then_some(())?;
                self.pos += 1;
            } else if let Some(b'.' | b'e' | b'E') = self.bytes.get(self.pos) {
                return None;
            }
            Some(value)
        }

        /// Skips any JSON value.
        fn skip(&mut self, depth: usize) -> Option<()> {
            if depth > 64 {
                return None;
            }
            match self.peek()? {
                b'"' => self.string().map(drop),
                b'{' => {
                    self.pos += 1;
                    if self.eat(b'}').is_some() {
                        return Some(());
                    }
                    loop {
                        self.string()?;
                        self.eat(b':')?;
                        self.skip(depth + 1)?;
                        if self.eat(b',').is_none() {
                            return self.eat(b'}');
                        }
                    }
                }
                b'[' => {
                    self.pos += 1;
                    if self.eat(b']').is_some() {
                        return Some(());
                    }
                    loop {
                        self.skip(depth + 1)?;
                        if self.eat(b',').is_none() {
                            return self.eat(b']');
                        }
                    }
                }
                _ => {
                    // A number or a literal: its characters up to a delimiter.
                    let start = self.pos;
                    while let Some(b) = self.bytes.get(self.pos) {
                        if matches!(b, b',' | b'}' | b']' | b' ' | b'\n' | b'\r' | b'\t') {
                            break;
                        }
                        self.pos += 1;
                    }
                    let token = &self.bytes[start..self.pos];
                    let literal = matches!(token, b"true" | b"false" | b"null");
                    let number = !token.is_empty()
                        && token
                            .iter()
                            .all(|b| matches!(b, b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E'));
                    (literal || number).then_some(())
                }
            }
        }

        /// Calls `member(key, reader)` for each member of an object; `member` reads the value.
        fn object(&mut self, mut member: impl FnMut(&[u8], &mut Self) -> Option<()>) -> Option<()> {
            self.eat(b'{')?;
            if self.eat(b'}').is_some() {
                return Some(());
            }
            loop {
                let key = self.string()?;
                self.eat(b':')?;
                member(key, self)?;
                if self.eat(b',').is_none() {
                    return self.eat(b'}');
                }
            }
        }

        /// A JSON array, each element read by `item`; `capacity` pre-sizes the result.
        fn list<T>(
            &mut self,
            capacity: usize,
            mut item: impl FnMut(&mut Self) -> Option<T>,
        ) -> Option<Vec<T>> {
            let mut list = Vec::with_capacity(capacity);
            self.eat(b'[')?;
            if self.eat(b']').is_none() {
                loop {
                    list.push(item(self)?);
                    if self.eat(b',').is_none() {
                        self.eat(b']')?;
                        break;
                    }
                }
            }
            Some(list)
        }

        fn committee(&mut self) -> Option<(u64, u64, Vec<u64>)> {
            let (mut index, mut slot, mut validators) = (None, None, None);
            self.object(|key, r| {
                match key {
                    b"index" if index.is_none() => index = Some(r.integer()?),
                    b"slot" if slot.is_none() => slot = Some(r.integer()?),
                    b"validators" if validators.is_none() => {
                        validators = Some(r.list(1024, Self::integer)?);
                    }
                    b"index" | b"slot" | b"validators" => return None, // duplicate key
                    _ => r.skip(0)?,
                }
                Some(())
            })?;
            Some((slot?, index?, validators?))
        }
    }

    /// `(slot, index, validators)` of every committee, or `None` to let serde decide.
    pub(super) fn parse(bytes: &[u8]) -> Option<Table> {
        let mut reader = Reader { bytes, pos: 0 };
        let mut table = None;
        reader.object(|key, r| {
            if key == b"data" {
                if table.is_some() {
                    return None;
                }
                table = Some(r.list(0, Reader::committee)?);
                Some(())
            } else {
                r.skip(0)
            }
        })?;
        reader.ws();
        (reader.pos == bytes.len()).then_some(())?;
        table
    }
}

#[derive(Deserialize)]
struct RawSyncCommitteeAnswer {
    data: RawSyncCommittee,
}

#[derive(Deserialize)]
struct RawSyncCommittee {
    #[serde(deserialize_with = "quoted_u64_list")]
    validators: Vec<u64>,
}

/// Decodes `GET /eth/v1/beacon/states/{id}/sync_committees?epoch={epoch}`: the members in
/// committee order (a validator may appear more than once).
pub fn decode_sync_committee(bytes: &[u8]) -> Result<Vec<u64>, BeaconError> {
    let raw: RawSyncCommitteeAnswer = json("sync committee", bytes)?;
    Ok(raw.data.validators)
}

/// The proposer of one slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub struct ProposerDuty {
    /// Slot.
    #[serde(deserialize_with = "quoted_u64")]
    pub slot: u64,
    /// Proposer's validator index.
    #[serde(deserialize_with = "quoted_u64")]
    pub validator_index: u64,
}

#[derive(Deserialize)]
struct RawProposerAnswer {
    data: Vec<ProposerDuty>,
}

/// Decodes `GET /eth/v1/validator/duties/proposer/{epoch}`, checking that every duty lies in
/// `epoch`; the duties come back sorted by slot.
pub fn decode_proposer_duties(
    bytes: &[u8],
    epoch: u64,
    slots_per_epoch: u64,
) -> Result<Vec<ProposerDuty>, BeaconError> {
    let mut raw: RawProposerAnswer = json("proposer duties", bytes)?;
    let start = epoch * slots_per_epoch;
    for duty in &raw.data {
        if duty.slot < start || duty.slot >= start + slots_per_epoch {
            return Err(BeaconError::WrongEpoch {
                what: "proposer duties",
                asked: epoch,
                slot: duty.slot,
                got: duty.slot / slots_per_epoch.max(1),
            });
        }
    }
    raw.data.sort_unstable_by_key(|d| d.slot);
    Ok(raw.data)
}

/// A validator's status, as the Beacon API names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ValidatorStatus {
    /// Deposited, not yet eligible.
    PendingInitialized,
    /// In the activation queue.
    PendingQueued,
    /// Active.
    ActiveOngoing,
    /// Active, exit scheduled.
    ActiveExiting,
    /// Active, slashed.
    ActiveSlashed,
    /// Exited, not slashed.
    ExitedUnslashed,
    /// Exited, slashed.
    ExitedSlashed,
    /// Balance withdrawable.
    WithdrawalPossible,
    /// Withdrawn.
    WithdrawalDone,
}

impl ValidatorStatus {
    /// Every status, in lifecycle order.
    pub const ALL: [ValidatorStatus; 9] = [
        ValidatorStatus::PendingInitialized,
        ValidatorStatus::PendingQueued,
        ValidatorStatus::ActiveOngoing,
        ValidatorStatus::ActiveExiting,
        ValidatorStatus::ActiveSlashed,
        ValidatorStatus::ExitedUnslashed,
        ValidatorStatus::ExitedSlashed,
        ValidatorStatus::WithdrawalPossible,
        ValidatorStatus::WithdrawalDone,
    ];

    /// The Beacon API's name.
    pub fn name(self) -> &'static str {
        match self {
            ValidatorStatus::PendingInitialized => "pending_initialized",
            ValidatorStatus::PendingQueued => "pending_queued",
            ValidatorStatus::ActiveOngoing => "active_ongoing",
            ValidatorStatus::ActiveExiting => "active_exiting",
            ValidatorStatus::ActiveSlashed => "active_slashed",
            ValidatorStatus::ExitedUnslashed => "exited_unslashed",
            ValidatorStatus::ExitedSlashed => "exited_slashed",
            ValidatorStatus::WithdrawalPossible => "withdrawal_possible",
            ValidatorStatus::WithdrawalDone => "withdrawal_done",
        }
    }

    /// Parses the Beacon API's name.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.name() == name)
    }
}

/// One entry of `GET/POST /eth/v1/beacon/states/{id}/validators`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidatorEntry {
    /// Validator index.
    pub index: u64,
    /// BLS public key, `0x` + 96 lowercase hex digits.
    pub pubkey: String,
    /// Status.
    pub status: ValidatorStatus,
    /// First epoch with duties.
    pub activation_epoch: u64,
    /// First epoch without duties.
    pub exit_epoch: u64,
}

impl ValidatorEntry {
    /// Whether the validator is active (has an attestation duty) in `epoch`.
    pub fn is_active_in(&self, epoch: u64) -> bool {
        self.activation_epoch <= epoch && epoch < self.exit_epoch
    }
}

#[derive(Deserialize)]
struct RawValidatorsAnswer<'a> {
    #[serde(borrow)]
    data: Vec<RawValidatorEntry<'a>>,
}

#[derive(Deserialize)]
struct RawValidatorEntry<'a> {
    #[serde(deserialize_with = "quoted_u64")]
    index: u64,
    status: &'a str,
    #[serde(borrow)]
    validator: RawValidator<'a>,
}

#[derive(Deserialize)]
struct RawValidator<'a> {
    pubkey: &'a str,
    #[serde(deserialize_with = "quoted_u64")]
    activation_epoch: u64,
    #[serde(deserialize_with = "quoted_u64")]
    exit_epoch: u64,
}

/// Decodes a validators answer.
pub fn decode_validators(bytes: &[u8]) -> Result<Vec<ValidatorEntry>, BeaconError> {
    let raw: RawValidatorsAnswer<'_> = json("validators", bytes)?;
    raw.data
        .into_iter()
        .map(|v| {
            Ok(ValidatorEntry {
                index: v.index,
                pubkey: v.validator.pubkey.to_ascii_lowercase(),
                status: ValidatorStatus::from_name(v.status).ok_or_else(|| {
                    invalid("validators", format!("unknown status {:?}", v.status))
                })?,
                activation_epoch: v.validator.activation_epoch,
                exit_epoch: v.validator.exit_epoch,
            })
        })
        .collect()
}

/// The constants of `/eth/v1/config/spec` the analysis uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainSpec {
    /// `SLOTS_PER_EPOCH` (32 mainnet, 8 minimal).
    pub slots_per_epoch: u64,
    /// `MIN_ATTESTATION_INCLUSION_DELAY` (1).
    pub min_attestation_inclusion_delay: u64,
    /// `SECONDS_PER_SLOT`.
    pub seconds_per_slot: u64,
    /// `SYNC_COMMITTEE_SIZE` (512 mainnet, 32 minimal); 0 when the node has no Altair.
    pub sync_committee_size: u64,
    /// `EPOCHS_PER_SYNC_COMMITTEE_PERIOD`; 0 when absent.
    pub epochs_per_sync_committee_period: u64,
    /// Fork activation epochs, in fork order (`u64::MAX` = not scheduled).
    pub fork_epochs: Vec<(Fork, u64)>,
}

impl ChainSpec {
    /// Decodes `/eth/v1/config/spec` (values are strings; non-string values are ignored).
    pub fn decode(bytes: &[u8]) -> Result<Self, BeaconError> {
        #[derive(Deserialize)]
        struct Answer<'a> {
            #[serde(borrow)]
            data: HashMap<&'a str, serde_json::Value>,
        }
        let raw: Answer<'_> = json("spec", bytes)?;
        let get = |key: &'static str| -> Result<Option<u64>, BeaconError> {
            match raw.data.get(key) {
                None => Ok(None),
                Some(serde_json::Value::String(s)) => s
                    .parse()
                    .map(Some)
                    .map_err(|_| invalid("spec", format!("{key} = {s:?} is not an integer"))),
                Some(serde_json::Value::Number(n)) => n
                    .as_u64()
                    .map(Some)
                    .ok_or_else(|| invalid("spec", format!("{key} = {n} is not an integer"))),
                Some(other) => Err(invalid(
                    "spec",
                    format!("{key} = {other} is not an integer"),
                )),
            }
        };
        let need = |key: &'static str| get(key)?.ok_or(BeaconError::MissingConstant(key));
        let slots_per_epoch = need("SLOTS_PER_EPOCH")?;
        if slots_per_epoch == 0 {
            return Err(invalid("spec", "SLOTS_PER_EPOCH is 0"));
        }
        let mut fork_epochs = vec![(Fork::Phase0, 0)];
        for (fork, key) in [
            (Fork::Altair, "ALTAIR_FORK_EPOCH"),
            (Fork::Bellatrix, "BELLATRIX_FORK_EPOCH"),
            (Fork::Capella, "CAPELLA_FORK_EPOCH"),
            (Fork::Deneb, "DENEB_FORK_EPOCH"),
            (Fork::Electra, "ELECTRA_FORK_EPOCH"),
            (Fork::Fulu, "FULU_FORK_EPOCH"),
        ] {
            fork_epochs.push((fork, get(key)?.unwrap_or(u64::MAX)));
        }
        Ok(ChainSpec {
            slots_per_epoch,
            min_attestation_inclusion_delay: need("MIN_ATTESTATION_INCLUSION_DELAY")?,
            seconds_per_slot: get("SECONDS_PER_SLOT")?.unwrap_or(12),
            sync_committee_size: get("SYNC_COMMITTEE_SIZE")?.unwrap_or(0),
            epochs_per_sync_committee_period: get("EPOCHS_PER_SYNC_COMMITTEE_PERIOD")?.unwrap_or(0),
            fork_epochs,
        })
    }

    /// The fork active at `epoch` by the node's schedule.
    pub fn fork_at(&self, epoch: u64) -> Fork {
        self.fork_epochs
            .iter()
            .filter(|(_, start)| *start <= epoch)
            .map(|(fork, _)| *fork)
            .max()
            .unwrap_or(Fork::Phase0)
    }

    /// First slot of `epoch`.
    pub fn start_slot(&self, epoch: u64) -> u64 {
        epoch * self.slots_per_epoch
    }

    /// Epoch of `slot`.
    pub fn epoch_of(&self, slot: u64) -> u64 {
        slot / self.slots_per_epoch
    }
}

/// `GET /eth/v1/beacon/genesis`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Genesis {
    /// Unix time of slot 0.
    #[serde(deserialize_with = "quoted_u64")]
    pub genesis_time: u64,
    /// Identifies the network (used as the state file's identity).
    pub genesis_validators_root: String,
}

/// Decodes `GET /eth/v1/beacon/genesis`.
pub fn decode_genesis(bytes: &[u8]) -> Result<Genesis, BeaconError> {
    #[derive(Deserialize)]
    struct Answer {
        data: Genesis,
    }
    Ok(json::<Answer>("genesis", bytes)?.data)
}

/// `GET /eth/v1/node/syncing`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub struct Syncing {
    /// The node's head slot.
    #[serde(deserialize_with = "quoted_u64")]
    pub head_slot: u64,
    /// Slots the node is behind.
    #[serde(deserialize_with = "quoted_u64")]
    pub sync_distance: u64,
    /// Whether the node is syncing.
    pub is_syncing: bool,
    /// Whether the head is not yet verified by an execution node (absent on old nodes).
    #[serde(default)]
    pub is_optimistic: bool,
}

/// Decodes `GET /eth/v1/node/syncing`.
pub fn decode_syncing(bytes: &[u8]) -> Result<Syncing, BeaconError> {
    #[derive(Deserialize)]
    struct Answer {
        data: Syncing,
    }
    Ok(json::<Answer>("syncing", bytes)?.data)
}

/// `GET /eth/v1/beacon/states/{id}/finality_checkpoints`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub struct FinalityCheckpoints {
    /// Previous justified checkpoint.
    pub previous_justified: Checkpoint,
    /// Current justified checkpoint.
    pub current_justified: Checkpoint,
    /// Finalized checkpoint.
    pub finalized: Checkpoint,
}

/// Decodes `GET /eth/v1/beacon/states/{id}/finality_checkpoints`.
pub fn decode_finality(bytes: &[u8]) -> Result<FinalityCheckpoints, BeaconError> {
    #[derive(Deserialize)]
    struct Answer {
        data: FinalityCheckpoints,
    }
    Ok(json::<Answer>("finality checkpoints", bytes)?.data)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bitlist_length_comes_from_the_marker_bit() -> Result<(), BeaconError> {
        // 0x1f = 0b0001_1111: marker at bit 4, four set bits.
        let bits = Bitlist::from_hex("0x1f")?;
        assert_eq!(bits.len(), 4);
        assert_eq!(bits.count_ones(), 4);
        // 0x0501: byte0 = 0b101, byte1 marker at bit 0 -> 8 bits, ones at 0 and 2.
        let bits = Bitlist::from_hex("0x0501")?;
        assert_eq!(bits.len(), 8);
        let mut ones = Vec::new();
        bits.for_each_one_in(0, 8, |i| ones.push(i));
        assert_eq!(ones, vec![0, 2]);
        assert!(Bitlist::from_hex("0x00").is_err());
        assert!(Bitlist::from_hex("0x").is_err());
        Ok(())
    }

    #[test]
    fn bitlist_range_iteration_is_relative_and_clipped() -> Result<(), BeaconError> {
        // 20 bits all set: 0xff 0xff 0x1f (marker at bit 4 of byte 2 -> 16 + 4 = 20 bits).
        let bits = Bitlist::from_hex("0xffff1f")?;
        assert_eq!(bits.len(), 20);
        let mut ones = Vec::new();
        bits.for_each_one_in(5, 13, |i| ones.push(i));
        assert_eq!(ones, (0..8).collect::<Vec<_>>());
        ones.clear();
        bits.for_each_one_in(18, 40, |i| ones.push(i));
        assert_eq!(ones, vec![0, 1]);
        Ok(())
    }

    #[test]
    fn chunks_agree_with_bit_iteration() -> Result<(), BeaconError> {
        // 200 bits with an irregular pattern, read from every start and end.
        let mut bytes: Vec<u8> = (0..25u32).map(|i| (i * 37 + 11) as u8).collect();
        bytes.push(1); // length bit: 200 bits
        let bits = Bitlist::from_ssz(bytes)?;
        assert_eq!(bits.len(), 200);
        for start in [0, 1, 7, 8, 9, 63, 100, 199, 200] {
            for end in [start, start + 1, start + 56, start + 57, 150, 200, 230] {
                let mut expected = Vec::new();
                bits.for_each_one_in(start, end, |i| expected.push(i));
                let mut got = Vec::new();
                let mut covered = 0;
                bits.for_each_chunk_in(start, end, |offset, width, chunk| {
                    assert_eq!(offset, covered);
                    assert!(width <= 56 && (width == 64 || chunk >> width == 0));
                    covered += width;
                    let mut c = chunk;
                    while c != 0 {
                        got.push(offset + c.trailing_zeros() as usize);
                        c &= c - 1;
                    }
                });
                assert_eq!(
                    covered,
                    end.min(200).saturating_sub(start),
                    "{start}..{end}"
                );
                assert_eq!(got, expected, "{start}..{end}");
            }
        }
        Ok(())
    }

    #[test]
    fn unknown_fork_is_a_clear_error() {
        let answer = br#"{"version":"gloas","data":{"message":{"slot":"1","proposer_index":"1",
            "parent_root":"0x0000000000000000000000000000000000000000000000000000000000000000",
            "body":{"attestations":[]}}}}"#;
        match decode_block(answer, None) {
            Err(BeaconError::UnknownFork(v)) => assert_eq!(v, "gloas"),
            other => panic!("expected UnknownFork, got {other:?}"),
        }
    }

    #[test]
    fn committees_of_another_epoch_are_rejected() {
        let answer = br#"{"data":[{"index":"0","slot":"0","validators":["1","2"]}]}"#;
        assert!(matches!(
            decode_committees(answer, 3, 1),
            Err(BeaconError::WrongEpoch {
                asked: 3,
                got: 0,
                ..
            })
        ));
    }

    #[test]
    fn fast_committee_reader_agrees_with_serde_or_defers_to_it() {
        let serde = |bytes: &[u8]| -> Option<Vec<(u64, u64, Vec<u64>)>> {
            let raw: RawCommitteesAnswer = serde_json::from_slice(bytes).ok()?;
            Some(
                raw.data
                    .into_iter()
                    .map(|c| (c.slot, c.index, c.validators))
                    .collect(),
            )
        };
        let accepted: [&[u8]; 4] = [
            br#"{"execution_optimistic":false,"finalized":true,"data":[{"index":"0","slot":"8","validators":["1","22","0"]},{"index":"1","slot":"8","validators":[]}]}"#,
            b" { \"data\" : [ { \"validators\" : [ 3 , \"4\" ] , \"extra\": {\"a\": [1.5, null, true]}, \"slot\": 8, \"index\": \"0\" } ] , \"x\": -1e3 }\n",
            br#"{"data":[]}"#,
            br#"{"data":[{"index":"0","slot":"18446744073709551615","validators":["7"]}]}"#,
        ];
        for bytes in accepted {
            let fast = fast_committees::parse(bytes);
            assert!(fast.is_some(), "{}", String::from_utf8_lossy(bytes));
            assert_eq!(fast, serde(bytes), "{}", String::from_utf8_lossy(bytes));
        }
        // Shapes the fast reader leaves to serde (which accepts or rejects them itself).
        let deferred: [&[u8]; 9] = [
            br#"{"data":[{"index":"0","slot":"8","validators":["01"]}]}"#,
            br#"{"data":[{"index":"0","slot":"8","validators":["1\u0030"]}]}"#,
            br#"{"data":[{"index":"0","slot":"8","validators":["-1"]}]}"#,
            br#"{"data":[{"index":"0","slot":"8","validators":["18446744073709551616"]}]}"#,
            br#"{"data":[{"index":"0","slot":"8"}]}"#,
            br#"{"data":[{"index":"0","slot":"8","validators":["1"]}]} x"#,
            br#"{"data":[{"index":"0","slot":"8","validators":["1",]}]}"#,
            br#"{"data":[{"index":"0","index":"1","slot":"8","validators":["1"]}]}"#,
            br#"[]"#,
        ];
        for bytes in deferred {
            assert_eq!(
                fast_committees::parse(bytes),
                None,
                "{}",
                String::from_utf8_lossy(bytes)
            );
        }
    }

    #[test]
    fn committee_assignment_inverts_range() -> Result<(), BeaconError> {
        let c = EpochCommittees::new(
            2,
            2,
            vec![
                (4, 0, vec![1, 2]),
                (4, 1, vec![3]),
                (5, 1, vec![6]),
                (5, 0, vec![4, 5]),
            ],
        )?;
        assert_eq!(c.members(), &[1, 2, 3, 4, 5, 6]);
        assert_eq!(c.range(1, 0), Some(3..5));
        assert_eq!(c.assignment(4), (5, 0));
        assert_eq!(c.assignment(2), (4, 1));
        assert_eq!(c.range(2, 0), None);
        Ok(())
    }
}
