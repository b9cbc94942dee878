//! `valwatch_cosmos::height::judge` from decoded input: the real cosmoshub-4 height (180
//! validators) and a generated 500-validator set.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use valwatch_benches::cosmos::{generated, hub_180};
use valwatch_cosmos::height::judge;

fn height(c: &mut Criterion) {
    let hub = hub_180().expect("hub fixtures decode");
    let big = generated(500, 7);
    let mut group = c.benchmark_group("cosmos_height");
    group
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(2));
    for (name, height) in [("judge_180_cosmoshub", &hub), ("judge_500_generated", &big)] {
        group.bench_function(name, |b| {
            b.iter(|| judge(black_box(&height.input())).expect("consistent"))
        });
    }
    group.finish();
}

criterion_group!(benches, height);
criterion_main!(benches);
