//! The analyser against the spec oracle: for every scenario directory under
//! `tests/fixtures/spec/`, decode the Beacon API answers, analyse the watched epoch and compare
//! every validator's flags, inclusion and vote correctness, every proposal and every sync bit
//! with `expected.json` (the spec state's own participation flags).

use std::path::Path;

use valwatch_ethereum::analysis::{EpochData, analyse_epoch, judge_proposals, judge_sync};
use valwatch_ethereum::beacon::{
    Block, ChainSpec, decode_block, decode_committees, decode_header, decode_proposer_duties,
    decode_sync_committee,
};

use crate::common::{Expected, fixture, read};

fn scenario_dirs() -> Vec<std::path::PathBuf> {
    let root = fixture("spec");
    let mut dirs: Vec<_> = std::fs::read_dir(&root)
        .unwrap_or_else(|e| panic!("spec fixtures missing at {}: {e}", root.display()))
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| path.join("expected.json").is_file())
        .collect();
    dirs.sort();
    assert!(
        !dirs.is_empty(),
        "no spec fixture scenario under {}",
        root.display()
    );
    dirs
}

fn load_blocks(dir: &Path) -> (Vec<Block>, Vec<(u64, [u8; 32])>) {
    let mut blocks = Vec::new();
    let mut roots = Vec::new();
    for entry in std::fs::read_dir(dir.join("blocks")).expect("blocks folder") {
        let path = entry.expect("dir entry").path();
        let slot: u64 = path
            .file_stem()
            .and_then(|s| s.to_str())
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("block file name {} is not a slot", path.display()));
        let block = decode_block(&read(&path), Some(slot))
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let header_path = dir.join(format!("headers/{slot}.json"));
        let header = decode_header(&read(&header_path), Some(slot))
            .unwrap_or_else(|e| panic!("{}: {e}", header_path.display()));
        assert_eq!(
            header.parent_root, block.parent_root,
            "slot {slot}: header and block disagree"
        );
        blocks.push(block);
        roots.push((slot, header.root));
    }
    (blocks, roots)
}

/// Runs the whole comparison for one directory; `use_headers = false` derives the block roots
/// from `parent_root` links alone (the watcher's cheap path) and must agree just the same.
fn check_scenario(dir: &Path, use_headers: bool) -> usize {
    let name = dir
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("?")
        .to_string();
    let expected: Expected =
        serde_json::from_slice(&read(&dir.join("expected.json"))).expect("expected.json");
    let spec = ChainSpec::decode(&read(&dir.join("config_spec.json"))).expect("spec");
    assert_eq!(spec.slots_per_epoch, expected.slots_per_epoch, "{name}");
    let epoch = expected.epoch;
    let spe = spec.slots_per_epoch;
    let (blocks, roots) = load_blocks(dir);
    let duties = |e: u64| {
        decode_proposer_duties(
            &read(&dir.join(format!("proposer_duties_{e}.json"))),
            e,
            spe,
        )
        .unwrap_or_else(|err| panic!("{name}: proposer duties {e}: {err}"))
    };
    let sync_committee = |e: u64| {
        decode_sync_committee(&read(&dir.join(format!("sync_committees_{e}.json"))))
            .unwrap_or_else(|err| panic!("{name}: sync committee {e}: {err}"))
    };
    let data = EpochData {
        epoch,
        committees: decode_committees(
            &read(&dir.join(format!("committees_{epoch}.json"))),
            epoch,
            spe,
        )
        .unwrap_or_else(|e| panic!("{name}: committees: {e}")),
        blocks,
        known_roots: if use_headers { roots } else { Vec::new() },
        proposer_duties: duties(epoch),
        sync_committee: sync_committee(epoch),
    };
    let analysis = analyse_epoch(&spec, &data.input()).unwrap_or_else(|e| panic!("{name}: {e}"));

    // Attestations: every validator, both ways.
    let ours: Vec<_> = analysis.attesters().collect();
    assert_eq!(
        ours.len(),
        expected.attestations.len(),
        "{name}: number of attesters"
    );
    for want in &expected.attestations {
        let got = ours
            .iter()
            .find(|d| d.validator_index == want.index)
            .unwrap_or_else(|| {
                panic!(
                    "{name}: validator {} has no duty in our analysis",
                    want.index
                )
            });
        let o = got.outcome;
        let who = format!("{name}: validator {}", want.index);
        assert_eq!(
            (got.slot, got.committee_index),
            (want.committee_slot, want.committee_index),
            "{who}: assignment"
        );
        assert_eq!(
            o.source_timely(),
            want.source_timely,
            "{who}: source timely"
        );
        assert_eq!(
            o.target_timely(),
            want.target_timely,
            "{who}: target timely"
        );
        assert_eq!(o.head_timely(), want.head_timely, "{who}: head timely");
        assert_eq!(o.included(), want.included, "{who}: included");
        assert_eq!(
            o.inclusion_slot(),
            want.inclusion_slot,
            "{who}: inclusion slot"
        );
        assert_eq!(
            o.inclusion_delay(),
            want.inclusion_delay,
            "{who}: inclusion delay"
        );
        let any_vote = |votes: &[&str]| {
            want.inclusions
                .iter()
                .any(|i| votes.contains(&i.vote.as_str()))
        };
        assert_eq!(o.source_correct(), want.included, "{who}: source correct");
        assert_eq!(
            o.target_correct(),
            any_vote(&["correct", "wrong_head"]),
            "{who}: target correct"
        );
        assert_eq!(
            o.head_correct(),
            any_vote(&["correct"]),
            "{who}: head correct"
        );
        if let (Some(raw), Some(adjusted)) = (o.inclusion_delay(), o.adjusted_delay()) {
            assert!(
                adjusted >= 1 && adjusted <= raw,
                "{who}: adjusted delay {adjusted} vs raw {raw}"
            );
        }
    }

    // Proposals and sync of e and e + 1.
    let block_refs: Vec<&Block> = data.blocks.iter().collect();
    let all_duties: Vec<_> = duties(epoch).into_iter().chain(duties(epoch + 1)).collect();
    let proposals = judge_proposals(&all_duties, &block_refs);
    assert_eq!(
        proposals.len(),
        expected.proposals.len(),
        "{name}: proposals"
    );
    for (got, want) in proposals.iter().zip(&expected.proposals) {
        assert_eq!(
            (got.slot, got.proposer_index, got.proposed),
            (want.slot, want.proposer_index, want.proposed),
            "{name}: proposal"
        );
    }
    let first = epoch * spe;
    let mut sync =
        judge_sync(first..first + spe, &block_refs, &sync_committee(epoch)).expect("sync e");
    sync.extend(
        judge_sync(
            first + spe..first + 2 * spe,
            &block_refs,
            &sync_committee(epoch + 1),
        )
        .expect("sync e+1"),
    );
    assert_eq!(sync.len(), expected.sync.len(), "{name}: sync slots");
    assert_eq!(
        &analysis.sync[..],
        &sync[..spe as usize],
        "{name}: analysis sync = judge_sync"
    );
    for (got, want) in sync.iter().zip(&expected.sync) {
        assert_eq!(
            (got.slot, got.block_present),
            (want.slot, want.block_present),
            "{name}: sync slot"
        );
        let committee = sync_committee(got.slot / spe);
        let pick = |signed: bool| -> Option<Vec<u64>> {
            got.block_present.then(|| {
                committee
                    .iter()
                    .zip(&got.signed)
                    .filter(|(_, s)| **s == signed)
                    .map(|(v, _)| *v)
                    .collect()
            })
        };
        assert_eq!(pick(true), want.signed, "{name}: slot {} signed", got.slot);
        assert_eq!(
            pick(false),
            want.not_signed,
            "{name}: slot {} not signed",
            got.slot
        );
    }
    ours.len()
}

#[test]
fn analyser_agrees_with_the_spec_for_every_validator_of_every_scenario() {
    let mut validators = 0;
    let dirs = scenario_dirs();
    for dir in &dirs {
        validators += check_scenario(dir, true);
    }
    eprintln!(
        "{} scenarios, {validators} validator duties agree with the spec",
        dirs.len()
    );
    assert!(
        dirs.len() >= 20,
        "expected the 20 fork × scenario directories, found {}",
        dirs.len()
    );
}

#[test]
fn roots_derived_from_parent_links_agree_with_headers() {
    for dir in &scenario_dirs() {
        check_scenario(dir, false);
    }
}
