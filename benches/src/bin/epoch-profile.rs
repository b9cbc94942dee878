//! `epoch-profile WHAT [RUNS]`: runs one stage of the mainnet-epoch pipeline `RUNS` times
//! (default 20) and prints the minimum and median wall time, for quick comparisons and for
//! profilers (`valgrind --tool=callgrind --toggle-collect='*analyse_epoch*' ...`).
//! WHAT: `analyse`, `extract-all`, `extract-16k`, `baseline`, `decode`, `decode-committees`,
//! `decode-blocks`.

use std::hint::black_box;
use std::time::Instant;

use valwatch_benches::mainnet::{Params, generate};
use valwatch_benches::watched::{Watched, baseline_sum};
use valwatch_ethereum::analysis::analyse_epoch;
use valwatch_ethereum::beacon::{decode_block, decode_committees};

fn main() {
    let mut args = std::env::args().skip(1);
    let what = args.next().unwrap_or_else(|| "analyse".into());
    let runs: usize = args.next().and_then(|r| r.parse().ok()).unwrap_or(20);
    let params = Params::mainnet();
    let generated = generate(&params);
    let answers = &generated.answers;
    let Ok(spec) = answers.chain_spec() else {
        eprintln!("spec does not decode");
        std::process::exit(1);
    };
    let Ok(data) = answers.decode(&spec) else {
        eprintln!("answers do not decode");
        std::process::exit(1);
    };
    let all = Watched::all(params.validators);
    let some = Watched::spread(params.validators, 16_000);
    let mut records = Vec::new();
    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs {
        let started = Instant::now();
        let n = match what.as_str() {
            "analyse" => analyse_epoch(&spec, &data.input()).map_or(0, |a| a.outcomes.len()),
            "extract-all" | "extract-16k" => {
                let watched = if what == "extract-all" { &all } else { &some };
                analyse_epoch(&spec, &data.input()).map_or(0, |a| watched.extract(&a, &mut records))
            }
            "baseline" => baseline_sum(&data) as usize,
            "decode" => answers.decode(&spec).map_or(0, |d| d.blocks.len()),
            "decode-committees" => {
                decode_committees(&answers.committees, answers.epoch, spec.slots_per_epoch)
                    .map_or(0, |c| c.members().len())
            }
            "decode-blocks" => answers
                .blocks
                .iter()
                .filter_map(|(slot, b)| decode_block(b, Some(*slot)).ok())
                .count(),
            other => {
                eprintln!("unknown stage {other}");
                std::process::exit(2);
            }
        };
        black_box(n);
        times.push(started.elapsed().as_secs_f64() * 1e3);
    }
    times.sort_by(f64::total_cmp);
    println!(
        "{what}: min {:.3} ms, median {:.3} ms, max {:.3} ms over {runs} runs",
        times[0],
        times[runs / 2],
        times[runs - 1]
    );
}
