//! Core costs that grow with the number of watched validators: recording one unit into every
//! validator's window, and publishing a tracker's per-group metrics.

use std::hint::black_box;

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use valwatch_core::{ChainTracker, LabelMap, Metrics, SeriesPolicy, ValidatorSet, WindowTable};

const VALIDATORS: usize = 1 << 20;

fn windows(c: &mut Criterion) {
    let mut group = c.benchmark_group("window_table");
    group.sample_size(10);
    group.bench_function("record_one_epoch_1m_validators", |b| {
        let mut table = WindowTable::new(225, VALIDATORS);
        let mut unit = 0u64;
        b.iter(|| {
            unit += 1;
            for index in 0..VALIDATORS {
                black_box(table.record(index, unit, index % 100 == 0));
            }
        });
    });
    group.finish();
}

fn tracker(c: &mut Criterion) {
    let keys: Vec<String> = (0..100_000).map(|i| format!("0x{i:096x}")).collect();
    let labels: LabelMap = (0..100)
        .map(|g| {
            (
                format!("server-{g}"),
                keys[g * 1000..(g + 1) * 1000].to_vec(),
            )
        })
        .collect();
    let set = ValidatorSet::build(&labels, &[], &SeriesPolicy::default(), |k| Ok(k.into()))
        .expect("valid set");
    let mut group = c.benchmark_group("tracker");
    group.sample_size(10);
    group.bench_function("record_and_publish_100k_validators_100_labels", |b| {
        b.iter_batched(
            || {
                let tracker = ChainTracker::new("bench", Metrics::new().for_chain("bench"));
                tracker.set_validators(set.clone());
                let duty = tracker.duty("attestation", 225).expect("duty");
                (tracker, duty)
            },
            |(tracker, duty)| {
                let mut update = tracker.update();
                for id in 0..100_000u32 {
                    update.record(duty, id, 1, id % 50 == 0);
                }
            },
            BatchSize::PerIteration,
        );
    });
    group.finish();
}

criterion_group!(benches, windows, tracker);
criterion_main!(benches);
