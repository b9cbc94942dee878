//! Encoding `/metrics` (`Metrics::encode`) for a chain tracker watching 10,000 validators, all
//! with series of their own, with one duty judged once for each of them.

use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use valwatch_core::{ChainTracker, LabelMap, Metrics, SeriesPolicy, ValidatorSet};

const VALIDATORS: usize = 10_000;

fn encode(c: &mut Criterion) {
    let keys: Vec<String> = (0..VALIDATORS).map(|i| format!("0x{i:096x}")).collect();
    let labels: LabelMap = (0..10)
        .map(|g| {
            (
                format!("server-{g}"),
                keys[g * 1000..(g + 1) * 1000].to_vec(),
            )
        })
        .collect();
    let policy = SeriesPolicy {
        per_validator_max: VALIDATORS,
        always: Vec::new(),
    };
    let set = ValidatorSet::build(&labels, &[], &policy, |k| Ok(k.into())).expect("valid set");
    let metrics = Metrics::new();
    let tracker = ChainTracker::new("ethereum", metrics.for_chain("mainnet"));
    tracker.set_validators(set);
    let duty = tracker.duty("attestation", 225).expect("duty");
    {
        let mut update = tracker.update();
        for id in 0..VALIDATORS as u32 {
            update.record(duty, id, 1, id % 50 == 0);
        }
    }
    let text = metrics.encode();
    let series = text.lines().filter(|l| !l.starts_with('#')).count();
    let own = text.lines().filter(|l| l.contains("validator=\"")).count();
    eprintln!(
        "metrics_encode: {series} series ({own} per-validator), {:.1} MB",
        text.len() as f64 / 1e6
    );
    let mut group = c.benchmark_group("metrics");
    group
        .sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    group.bench_function("encode_10k_validators", |b| {
        b.iter(|| metrics.encode().len())
    });
    group.finish();
}

criterion_group!(benches, encode);
criterion_main!(benches);
