//! Answers real nodes gave (copied from the shared fixtures, see `tests/fixtures/README.md`).

use valwatch_ethereum::analysis::{EpochData, analyse_epoch};
use valwatch_ethereum::beacon::{
    BeaconError, ChainSpec, EpochCommittees, Fork, ProposerDuty, decode_block, decode_committees,
    decode_finality, decode_genesis, decode_header, decode_proposer_duties, decode_sync_committee,
    decode_syncing, decode_validators,
};

use crate::common::{fixture, read};

#[test]
fn gnosis_electra_block_decodes_with_committee_bits() {
    let block = decode_block(
        &read(&fixture("real/gnosis-electra/block_24672001.json")),
        Some(24672001),
    )
    .expect("decode");
    assert_eq!(block.fork, Fork::Electra);
    assert_eq!(block.attestations.len(), 8);
    // One aggregate spans several committees, the other seven cover one each.
    let spans: Vec<u32> = block
        .attestations
        .iter()
        .map(|a| a.committee_bits.count_ones())
        .collect();
    assert_eq!(spans.iter().filter(|n| **n == 1).count(), 7, "{spans:?}");
    assert!(spans.iter().any(|n| *n > 1), "{spans:?}");
    assert_eq!(
        block.sync_bits.as_ref().map(Vec::len),
        Some(64),
        "512 sync bits"
    );
    assert!(
        decode_block(
            &read(&fixture("real/gnosis-electra/block_24672001.json")),
            Some(1)
        )
        .is_err()
    );
}

/// Analyses the real block with synthetic committees sized from its own bits: every set
/// aggregation bit must land on exactly one committee member, and a mis-sized committee table
/// must be refused rather than misread.
#[test]
fn gnosis_electra_block_analyses_against_committees_sized_from_its_bits() {
    let block = decode_block(
        &read(&fixture("real/gnosis-electra/block_24672001.json")),
        None,
    )
    .expect("decode");
    let spec = ChainSpec {
        slots_per_epoch: 16, // Gnosis
        min_attestation_inclusion_delay: 1,
        seconds_per_slot: 5,
        sync_committee_size: 512,
        epochs_per_sync_committee_period: 512,
        fork_epochs: vec![(Fork::Altair, 0), (Fork::Deneb, 0), (Fork::Electra, 0)],
    };
    let att_slot = block.attestations[0].slot;
    assert!(
        block.attestations.iter().all(|a| a.slot == att_slot),
        "one attested slot"
    );
    let epoch = att_slot / spec.slots_per_epoch;
    // The multi-committee aggregate tells the committee count; single ones give their sizes.
    let wide = block
        .attestations
        .iter()
        .max_by_key(|a| a.committee_bits.count_ones())
        .expect("wide");
    let per_slot = 64 - wide.committee_bits.leading_zeros() as u64;
    // Committees covered by a single-committee aggregate have a known size; the others share
    // the rest of the wide aggregate's length (their exact split is unknown, any split that
    // fills the length is a consistent committee table).
    let mut sizes = vec![0usize; per_slot as usize];
    for a in block
        .attestations
        .iter()
        .filter(|a| a.committee_bits.count_ones() == 1)
    {
        sizes[a.committee_bits.trailing_zeros() as usize] = a.aggregation_bits.len();
    }
    assert_eq!(
        wide.committee_bits.count_ones() as u64,
        per_slot,
        "wide aggregate covers every committee"
    );
    let unknown = sizes.iter().filter(|s| **s == 0).count();
    let rest = wide.aggregation_bits.len() - sizes.iter().sum::<usize>();
    let mut extra = rest % unknown.max(1);
    for size in sizes.iter_mut().filter(|s| **s == 0) {
        *size = rest / unknown + usize::from(extra > 0);
        extra = extra.saturating_sub(1);
    }
    assert_eq!(
        sizes.iter().sum::<usize>(),
        wide.aggregation_bits.len(),
        "concatenation covers all committees"
    );
    let mut next = 0u64;
    let mut committees = Vec::new();
    for slot in epoch * 16..epoch * 16 + 16 {
        for (index, size) in sizes.iter().enumerate() {
            committees.push((
                slot,
                index as u64,
                (next..next + *size as u64).collect::<Vec<_>>(),
            ));
            next += *size as u64;
        }
    }
    let committees = EpochCommittees::new(epoch, 16, committees).expect("committees");
    let data = EpochData {
        epoch,
        committees,
        blocks: vec![block.clone()],
        known_roots: vec![(att_slot, block.attestations[0].head_root)],
        proposer_duties: vec![ProposerDuty {
            slot: block.slot,
            validator_index: block.proposer_index,
        }],
        sync_committee: (0..512).collect(),
    };
    let analysis = analyse_epoch(&spec, &data.input()).expect("analysis");
    // Independent count: distinct (committee, position) pairs with a bit set in any aggregate.
    let mut credited = std::collections::HashSet::new();
    for a in &block.attestations {
        let mut offset = 0;
        for (c, size) in sizes.iter().enumerate() {
            if a.committee_bits & (1 << c) != 0 {
                for i in 0..*size {
                    if a.aggregation_bits.get(offset + i) {
                        credited.insert((c, i));
                    }
                }
                offset += size;
            }
        }
    }
    let set_bits = credited.len();
    let included = analysis
        .attesters()
        .filter(|d| d.outcome.included())
        .count();
    assert_eq!(included, set_bits, "each set bit credits one member");
    assert!(
        analysis
            .attesters()
            .filter(|d| d.outcome.included())
            .all(|d| d.slot == att_slot)
    );
    let signed = analysis.sync[(block.slot - epoch * 16) as usize]
        .signed
        .iter()
        .filter(|s| **s)
        .count();
    assert!(signed > 400 && signed < 512, "{signed} sync signatures");

    // One committee one member short: refused, not misread.
    let mut short = Vec::new();
    let mut next = 0u64;
    for slot in epoch * 16..epoch * 16 + 16 {
        for (index, size) in sizes.iter().enumerate() {
            let size = if index == 0 { *size - 1 } else { *size } as u64;
            short.push((slot, index as u64, (next..next + size).collect::<Vec<_>>()));
            next += size;
        }
    }
    let data = EpochData {
        committees: EpochCommittees::new(epoch, 16, short).expect("short"),
        ..data
    };
    assert!(analyse_epoch(&spec, &data.input()).is_err());
}

#[test]
fn lodestar_altair_answers_decode() {
    let dir = "real/lodestar-1.5.1-altair/";
    let f = |name: &str| read(&fixture(&format!("{dir}{name}")));
    let spec = ChainSpec::decode(&f("config_spec.json")).expect("spec");
    assert_eq!((spec.slots_per_epoch, spec.sync_committee_size), (8, 32));
    assert_eq!(spec.fork_at(5), Fork::Altair);
    let block = decode_block(&f("block_v2_slot_35.json"), Some(35)).expect("block");
    assert_eq!(block.fork, Fork::Altair);
    assert!(
        block
            .attestations
            .iter()
            .all(|a| a.committee_bits.count_ones() == 1)
    );
    assert_eq!(block.sync_bits.as_ref().map(Vec::len), Some(4));
    let header = decode_header(&f("headers_head.json"), None).expect("header");
    assert_eq!(header.slot, 37);
    let duties = decode_proposer_duties(&f("proposer_duties_epoch_4.json"), 4, 8).expect("duties");
    assert_eq!(duties.len(), 8);
    assert_eq!(
        decode_sync_committee(&f("sync_committees_head.json"))
            .expect("sync")
            .len(),
        32
    );
    let validators = decode_validators(&f("validators_0_1.json")).expect("validators");
    assert_eq!(validators.len(), 2);
    assert!(validators[0].is_active_in(4) && validators[0].pubkey.len() == 98);
    assert_eq!(
        decode_genesis(&f("beacon_genesis.json"))
            .expect("genesis")
            .genesis_time,
        1795310021
    );
    assert_eq!(
        decode_syncing(&f("node_syncing.json"))
            .expect("syncing")
            .head_slot,
        37
    );
    assert_eq!(
        decode_finality(&f("finality_checkpoints.json"))
            .expect("finality")
            .finalized
            .epoch,
        2
    );
}

/// Lodestar 1.5.1 answered `committees?epoch=3` with the committees of slots 0 and 1: the
/// wrong epoch. The decoder must refuse it instead of judging epoch 3 with them.
#[test]
fn lodestar_wrong_epoch_committees_are_refused() {
    let bytes = read(&fixture(
        "real/lodestar-1.5.1-altair/committees_epoch_3.json",
    ));
    match decode_committees(&bytes, 3, 8) {
        Err(BeaconError::WrongEpoch {
            asked: 3, got: 0, ..
        }) => {}
        other => panic!("expected WrongEpoch, got {other:?}"),
    }
}
