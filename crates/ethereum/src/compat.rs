//! Workarounds for beacon nodes that answer in non-standard ways. Each is gated twice: on the
//! node's version string and on the shape of the answer, and the repaired answer still goes
//! through the standard checks ([`EpochCommittees::new`]); anything else keeps the standard
//! decoder's refusal.
//!
//! Lodestar 1.5.1 (the version installable here, see `devnets/lodestar/`):
//! - `GET /eth/v1/beacon/states/{id}/committees?epoch=e` answers the committees of `e` with
//!   `index` and `slot` swapped, and `slot` relative to the epoch: `{"index": "<slot offset>",
//!   "slot": "<committee index>"}`. Checked against the node's own attester duties on a live
//!   devnet: with the fields swapped back, all 64 validators' slots, committee indices and
//!   positions agree; read as written, 8 of 64 do.
//! - It keeps states only at the last few epoch boundaries, so the committees of `e` are asked
//!   from the state at the first slot of `e + 1` when the first slot of `e` is gone (see
//!   [`crate::fetch`]).

use serde::Deserialize;

use crate::beacon::{BeaconError, EpochCommittees, MAX_COMMITTEES_PER_SLOT, decode_committees};

/// Whether `version` (`/eth/v1/node/version`) is a Lodestar 1.x, whose committees answers
/// have the swapped fields.
pub fn swaps_committee_fields(version: &str) -> bool {
    version.starts_with("Lodestar/v1.")
}

#[derive(Deserialize)]
struct RawCommittees {
    data: Vec<RawCommittee>,
}

#[derive(Deserialize)]
struct RawCommittee {
    index: String,
    slot: String,
    validators: Vec<String>,
}

#[derive(Deserialize)]
struct RawVersion {
    data: VersionData,
}

#[derive(Deserialize)]
struct VersionData {
    version: String,
}

/// Decodes `GET /eth/v1/node/version`.
pub fn decode_version(bytes: &[u8]) -> Result<String, BeaconError> {
    serde_json::from_slice::<RawVersion>(bytes)
        .map(|v| v.data.version)
        .map_err(|source| BeaconError::Json {
            what: "node version",
            source,
        })
}

/// Decodes a committees answer; when `swapped` (a node known to swap the fields) and the
/// standard decoding refuses it, reads it the Lodestar 1.5.1 way if its shape fits: every
/// `index` a slot offset below `slots_per_epoch`, every `slot` a committee index below 64.
pub fn decode_committees_compat(
    bytes: &[u8],
    epoch: u64,
    slots_per_epoch: u64,
    swapped: bool,
) -> Result<EpochCommittees, BeaconError> {
    let standard = decode_committees(bytes, epoch, slots_per_epoch);
    let refused = match standard {
        Ok(committees) => return Ok(committees),
        Err(error) if !swapped => return Err(error),
        Err(error) => error,
    };
    let raw: RawCommittees = serde_json::from_slice(bytes).map_err(|source| BeaconError::Json {
        what: "committees",
        source,
    })?;
    let number = |text: &str| text.parse::<u64>().ok();
    let mut committees = Vec::with_capacity(raw.data.len());
    for committee in raw.data {
        let (Some(offset), Some(index)) = (number(&committee.index), number(&committee.slot))
        else {
            return Err(refused);
        };
        if offset >= slots_per_epoch || index >= MAX_COMMITTEES_PER_SLOT {
            return Err(refused);
        }
        let validators = committee
            .validators
            .iter()
            .map(|v| number(v))
            .collect::<Option<Vec<u64>>>();
        let Some(validators) = validators else {
            return Err(refused);
        };
        committees.push((epoch * slots_per_epoch + offset, index, validators));
    }
    EpochCommittees::new(epoch, slots_per_epoch, committees)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn swapped_fields_are_read_back_only_for_lodestar() {
        // Two slots of one committee each... in an epoch of 2 slots: index = slot offset.
        let answer = br#"{"data":[{"index":"0","slot":"0","validators":["5","6"]},
            {"index":"1","slot":"0","validators":["7","8"]}]}"#;
        assert!(decode_committees_compat(answer, 3, 2, false).is_err());
        let committees = decode_committees_compat(answer, 3, 2, true).expect("repaired");
        assert_eq!(committees.members(), &[5, 6, 7, 8]);
        assert_eq!(committees.assignment(2), (7, 0));
        // A standard answer is used as it is, swapped or not.
        let standard = br#"{"data":[{"index":"0","slot":"6","validators":["5","6"]},
            {"index":"0","slot":"7","validators":["7","8"]}]}"#;
        let committees = decode_committees_compat(standard, 3, 2, true).expect("standard");
        assert_eq!(committees.assignment(0), (6, 0));
        // Shapes that fit neither reading stay refused.
        let odd = br#"{"data":[{"index":"9","slot":"0","validators":["5"]}]}"#;
        assert!(decode_committees_compat(odd, 3, 2, true).is_err());
    }

    #[test]
    fn the_real_lodestar_answer_is_repaired() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/real/lodestar-1.5.1-altair/committees_epoch_3.json");
        let bytes = std::fs::read(&path).expect("fixture");
        assert!(decode_committees(&bytes, 3, 8).is_err());
        let committees = decode_committees_compat(&bytes, 3, 8, true).expect("repaired");
        assert_eq!(committees.per_slot(), 2);
        assert_eq!(committees.members().len(), 64);
        assert!(swaps_committee_fields("Lodestar/v1.5.1/2115aa7"));
        assert!(!swaps_committee_fields("Lighthouse/v7.0.0"));
        assert_eq!(
            decode_version(br#"{"data":{"version":"Lodestar/v1.5.1/2115aa7"}}"#).expect("v"),
            "Lodestar/v1.5.1/2115aa7"
        );
    }
}
