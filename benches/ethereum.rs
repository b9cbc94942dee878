//! The epoch analyser on a mainnet-scale epoch (1,048,576 validators, 2,048 committees, the
//! blocks of `e` and `e + 1`), see `valwatch_benches::mainnet`:
//!
//! - `epoch/baseline_sum`: reads the decoded inputs once (the memory-bound floor);
//! - `epoch/analyse`: `analyse_epoch` alone;
//! - `epoch/analyse_extract_all` and `epoch/analyse_extract_16k`: the analysis plus copying the
//!   watched validators' outcomes into per-validator records (all validators; 16,000);
//! - `epoch/decode` (and its parts `decode_committees`, `decode_blocks`): the JSON answers of
//!   one epoch into the analyser's inputs, as the client does;
//! - `epoch/decode_analyse`: both.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use valwatch_benches::mainnet::{Params, generate};
use valwatch_benches::watched::{Watched, baseline_sum};
use valwatch_ethereum::analysis::analyse_epoch;
use valwatch_ethereum::beacon::{decode_block, decode_committees};

fn epoch(c: &mut Criterion) {
    let params = Params::mainnet();
    let generated = generate(&params);
    let answers = &generated.answers;
    let spec = answers.chain_spec().expect("spec decodes");
    let data = answers.decode(&spec).expect("answers decode");
    let all = Watched::all(params.validators);
    let some = Watched::spread(params.validators, 16_000);
    let spe = spec.slots_per_epoch;

    let mut group = c.benchmark_group("epoch");
    group
        .sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    group.bench_function("baseline_sum", |b| {
        b.iter(|| baseline_sum(black_box(&data)))
    });
    group.bench_function("analyse", |b| {
        b.iter(|| {
            analyse_epoch(&spec, black_box(&data.input()))
                .expect("analysis")
                .outcomes
                .len()
        })
    });
    for (name, watched) in [
        ("analyse_extract_all", &all),
        ("analyse_extract_16k", &some),
    ] {
        let mut records = Vec::new();
        group.bench_function(name, |b| {
            b.iter(|| {
                let analysis = analyse_epoch(&spec, black_box(&data.input())).expect("analysis");
                watched.extract(&analysis, &mut records)
            })
        });
    }
    group.bench_function("decode", |b| {
        b.iter(|| answers.decode(&spec).expect("decode").blocks.len())
    });
    group.bench_function("decode_committees", |b| {
        b.iter(|| {
            decode_committees(black_box(&answers.committees), answers.epoch, spe)
                .expect("committees")
                .members()
                .len()
        })
    });
    group.bench_function("decode_blocks", |b| {
        b.iter(|| {
            answers
                .blocks
                .iter()
                .map(|(slot, bytes)| {
                    decode_block(black_box(bytes), Some(*slot))
                        .expect("block")
                        .attestations
                        .len()
                })
                .sum::<usize>()
        })
    });
    group.bench_function("decode_analyse", |b| {
        b.iter(|| {
            let data = answers.decode(&spec).expect("decode");
            let analysis = analyse_epoch(&spec, &data.input()).expect("analysis");
            analysis.outcomes.len()
        })
    });
    group.finish();
}

criterion_group!(benches, epoch);
criterion_main!(benches);
