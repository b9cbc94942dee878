//! Invariants of the generated epoch: committees partition the validators, every block decodes
//! with the real decoders and holds at most 8 Electra aggregates (one covering every committee
//! of a slot), and the analyser's verdict equals the generator's own, position by position.
//!
//! The small network runs by default; the mainnet-scale one (2^20 validators) takes a few
//! seconds in release mode: `cargo test -p valwatch-benches --release -- --include-ignored`.

use std::sync::Arc;
use std::time::Duration;

use valwatch_benches::mainnet::{Generated, Params, generate, index_of_pubkey, pubkey};
use valwatch_benches::watched::{Watched, baseline_sum};
use valwatch_core::Endpoint;
use valwatch_ethereum::analysis::analyse_epoch;
use valwatch_ethereum::beacon::decode_block;
use valwatch_ethereum::client::{BeaconClient, DEFAULT_MAX_ANSWER_BYTES};

fn check(params: &Params) -> Generated {
    let generated = generate(params);
    let answers = &generated.answers;
    let truth = &generated.truth;
    let spec = answers.chain_spec().expect("spec decodes");
    assert_eq!(spec.slots_per_epoch, params.slots_per_epoch);
    let data = answers.decode(&spec).expect("every answer decodes");

    // Committees: every active validator in exactly one, all of the expected size.
    let per_slot = params.committees_per_slot() as usize;
    assert_eq!(data.committees.per_slot(), per_slot);
    let mut seen = vec![0u8; params.validators as usize];
    for &v in data.committees.members() {
        seen[v as usize] += 1;
    }
    assert!(
        seen.iter().all(|&n| n == 1),
        "a validator is in 0 or 2+ committees"
    );
    let size = params.validators as usize / (per_slot * params.slots_per_epoch as usize);
    for s in 0..params.slots_per_epoch {
        for c in 0..per_slot as u64 {
            assert_eq!(data.committees.range(s, c).expect("committee").len(), size);
        }
    }
    assert_eq!(data.committees.members(), truth.members.as_slice());

    // Blocks: at most 8 aggregates, one covering every committee of its slot.
    let all_committees = if per_slot == 64 {
        u64::MAX
    } else {
        (1u64 << per_slot) - 1
    };
    for (slot, bytes) in &answers.blocks {
        let block = decode_block(bytes, Some(*slot)).expect("block decodes");
        assert!(block.fork.has_committee_bits());
        assert!((1..=8).contains(&block.attestations.len()), "slot {slot}");
        assert!(
            block
                .attestations
                .iter()
                .any(|a| a.committee_bits == all_committees),
            "slot {slot} has no aggregate covering every committee"
        );
        assert_eq!(
            block.sync_bits.as_ref().map(Vec::len),
            Some(params.sync_committee_size / 8)
        );
    }
    let counts = truth.counts;
    let served_slots = 2 * params.slots_per_epoch as usize + 1;
    assert_eq!(counts.blocks + counts.empty_slots, served_slots);
    assert_eq!(counts.empty_slots, 2 * params.empty_slots_per_epoch);

    // The analyser agrees with the generator, position by position.
    let analysis = analyse_epoch(&spec, &data.input()).expect("analysis");
    assert_eq!(analysis.outcomes.len(), counts.duties);
    let (mut attested, mut late, mut source, mut head, mut wrong) = (0, 0, 0, 0, 0);
    for (pos, outcome) in analysis.outcomes.iter().enumerate() {
        let expected = truth.inclusion_slot[pos];
        assert_eq!(
            outcome.inclusion_slot().unwrap_or(u64::MAX),
            expected,
            "position {pos}"
        );
        if !outcome.included() {
            continue;
        }
        attested += 1;
        let delay = outcome.inclusion_delay().expect("included");
        assert_eq!(delay, expected - truth.duty_slot[pos]);
        assert!(outcome.source_correct() && outcome.target_correct() && outcome.target_timely());
        assert_eq!(outcome.head_correct(), truth.head_ok[pos], "position {pos}");
        late += usize::from(delay > 1);
        source += usize::from(outcome.source_timely());
        head += usize::from(outcome.head_timely());
        wrong += usize::from(!outcome.head_correct());
    }
    assert_eq!(attested, counts.attested);
    assert_eq!(counts.duties - attested, counts.missed);
    assert_eq!(
        (late, source, head, wrong),
        (
            counts.late,
            counts.source_timely,
            counts.head_timely,
            counts.wrong_head
        )
    );

    // Realistic rates: ~1% missed, ~2% late (plus votes delayed by empty slots), some wrong heads.
    let share = |n: usize| n as f64 / counts.duties as f64;
    assert!(
        (0.008..0.013).contains(&share(counts.missed)),
        "missed {}",
        share(counts.missed)
    );
    assert!(
        (0.015..0.12).contains(&share(counts.late)),
        "late {}",
        share(counts.late)
    );
    assert!(counts.wrong_head > 0);

    // Proposals: the empty slots of e are the missed proposals.
    let proposed = analysis.proposals.iter().filter(|p| p.proposed).count();
    assert_eq!(
        analysis.proposals.len() - proposed,
        params.empty_slots_per_epoch
    );

    // Extraction copies exactly the watched validators.
    let mut records = Vec::new();
    assert_eq!(
        Watched::all(params.validators).extract(&analysis, &mut records),
        counts.duties
    );
    let some = Watched::spread(params.validators, 1000);
    assert_eq!(some.extract(&analysis, &mut records), 1000);
    assert!(baseline_sum(&data) > 0);
    generated
}

#[test]
fn small_epoch_matches_the_analyser_and_is_deterministic() {
    let first = check(&Params::small());
    let again = generate(&Params::small());
    assert_eq!(first.answers.committees, again.answers.committees);
    assert_eq!(first.answers.blocks, again.answers.blocks);
}

#[test]
#[ignore = "mainnet scale: run in release mode with --include-ignored"]
fn mainnet_epoch_matches_the_analyser() {
    let generated = check(&Params::mainnet());
    let bytes = generated.answers.committees.len();
    assert!(
        (8_000_000..14_000_000).contains(&bytes),
        "committees answer is {bytes} bytes"
    );
    assert_eq!(generated.truth.counts.duties, 1 << 20);
}

#[test]
fn pubkeys_are_unique_and_invertible() {
    for i in [0u32, 1, 77, 1 << 20] {
        let key = pubkey(i);
        assert_eq!(key.len(), 98);
        assert_eq!(index_of_pubkey(&key), Some(i));
    }
    assert_ne!(pubkey(1), pubkey(2));
    assert_eq!(index_of_pubkey("0x1234"), None);
}

#[test]
fn the_fixture_server_serves_what_the_client_fetches() {
    let generated = generate(&Params::small());
    let spec = generated.answers.chain_spec().expect("spec");
    let expected = generated.answers.decode(&spec).expect("decode");
    let epoch = generated.answers.epoch;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let address = listener.local_addr().expect("address");
        let answers = Arc::new(generated.answers);
        tokio::spawn(valwatch_benches::server::serve(listener, answers));
        let endpoint = Endpoint::parse(&format!("http://{address}"), None).expect("endpoint");
        let client = BeaconClient::new(
            vec![endpoint],
            Duration::from_secs(30),
            DEFAULT_MAX_ANSWER_BYTES,
        )
        .expect("client");
        let spec = client.spec().await.expect("spec");
        let fetched = client.fetch_epoch(&spec, epoch).await.expect("fetch");
        assert_eq!(fetched.committees, expected.committees);
        assert_eq!(fetched.blocks, expected.blocks);
        assert_eq!(fetched.known_roots, expected.known_roots);
        assert_eq!(fetched.sync_committee, expected.sync_committee);
        let entries = client
            .validators("head", &[pubkey(5), "7".to_string()])
            .await
            .expect("validators");
        assert_eq!(
            entries.iter().map(|e| e.index).collect::<Vec<_>>(),
            vec![5, 7]
        );
    });
}
