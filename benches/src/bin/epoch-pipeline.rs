//! `epoch-pipeline URL EPOCH [RUNS]`: the exporter's work for one epoch once it is running,
//! measured against a fixture server (`fixture-server`) on 127.0.0.1. Each run does what
//! `valwatch run` does per judged epoch, with the same code: fetch the epoch's answers over
//! HTTP with the real client, decode them, analyse the epoch, record every verdict of all
//! 1,048,576 validators into a tracker (windows, counters, label aggregates) and publish the
//! metrics. Each run records its verdicts as a new epoch (`EPOCH + run`), so windows and
//! counters move as they do live. The validator set is built once, before the runs, as the
//! exporter does on its first epoch.
//!
//! Prints one line per run, the CPU time of growing the set by 16 validators (what `watch_all`
//! does in an epoch with activations), and a summary `cpu_ms min/median`,
//! `wall_ms min/median` and `peak_rss_mb`. CPU time is the thread's own on-CPU time (`/proc/thread-self/schedstat`):
//! everything runs on one thread (a current-thread runtime), so it is the pipeline's whole
//! cost, in nanoseconds rather than clock ticks.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use valwatch_core::{ChainTracker, Endpoint, IndexLabels, Metrics, SeriesPolicy, ValidatorSet};
use valwatch_ethereum::analysis::analyse_epoch;
use valwatch_ethereum::client::BeaconClient;
use valwatch_ethereum::duties::{DutyMetrics, record_epoch};
use valwatch_ethereum::fetch::{Cached, fetch_epoch};
use valwatch_ethereum::keys::{Watched, grown_all_set};

/// Validators of the generated mainnet epoch.
const VALIDATORS: u64 = 1 << 20;

fn thread_cpu() -> Duration {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|text| text.split_whitespace().next()?.parse().ok())
        .map_or(Duration::ZERO, Duration::from_nanos)
}

fn peak_rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
            line.split_whitespace().nth(1)?.parse::<f64>().ok()
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let usage = "usage: epoch-pipeline URL EPOCH [RUNS]";
    let url = args.next().ok_or(usage)?;
    let epoch: u64 = args.next().ok_or(usage)?.parse()?;
    let runs: u64 = args.next().map_or(Ok(10), |r| r.parse())?;

    let endpoint = Endpoint::parse(&url, None)?;
    let client = BeaconClient::new(vec![endpoint], Duration::from_secs(30), 256 << 20)?;
    let spec = client.spec().await?;
    let metrics = Metrics::new();
    let tracker = ChainTracker::new("ethereum", metrics.for_chain("bench"));
    let duties = DutyMetrics::register(&tracker, spec.slots_per_epoch)?;
    let indices: Vec<u64> = (0..VALIDATORS).collect();
    tracker.set_validators(ValidatorSet::from_indices(
        &IndexLabels::new(),
        &indices,
        &[],
        1000,
    )?);
    let watched = Watched::new((0..VALIDATORS).map(|index| (index, index as u32)));

    let (mut cpu, mut wall) = (Vec::new(), Vec::new());
    for run in 0..runs {
        let (cpu_before, started) = (thread_cpu(), Instant::now());
        let fetched = fetch_epoch(&client, &spec, epoch, Cached::default(), false).await?;
        let fetched_cpu = thread_cpu();
        let mut analysis = analyse_epoch(&spec, &fetched.data.input())?;
        analysis.epoch = epoch + run;
        let analysed_cpu = thread_cpu();
        let tally = {
            let mut update = tracker.update();
            record_epoch(&mut update, &duties, &analysis, None, &watched)
        };
        let cpu_ms = (thread_cpu() - cpu_before).as_secs_f64() * 1e3;
        let wall_ms = started.elapsed().as_secs_f64() * 1e3;
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        println!(
            "run {run}: cpu_ms {cpu_ms:.1} (fetch+decode {:.1}, analyse {:.1}, record+publish {:.1}) wall_ms {wall_ms:.1} attesters {} missed {}",
            ms(fetched_cpu - cpu_before),
            ms(analysed_cpu - fetched_cpu),
            ms(thread_cpu() - analysed_cpu),
            tally.attesters,
            tally.missed_attestations
        );
        cpu.push(cpu_ms);
        wall.push(wall_ms);
    }
    // What `watch_all` adds in an epoch where validators were activated: the set is rebuilt
    // with the newcomers (16, a mainnet churn) and the tracker moves every window to it.
    // The same calls as the watcher's `apply_keys`: the set grows in place when the newcomers
    // come after the last index, as activated validators do.
    let rebuild_before = thread_cpu();
    let fresh: Vec<u64> = (VALIDATORS..VALIDATORS + 16).collect();
    let current = tracker.validators();
    let policy = SeriesPolicy::default();
    let grown = grown_all_set(&current, &HashMap::new(), &fresh, &policy).ok_or("cannot grow")?;
    let mut watched = watched;
    for (offset, index) in fresh.iter().enumerate() {
        watched.insert(*index, (current.len() + offset) as u32);
    }
    tracker.set_validators(grown);
    let rebuild_ms = (thread_cpu() - rebuild_before).as_secs_f64() * 1e3;
    println!(
        "set grown by 16 activated validators: cpu_ms {rebuild_ms:.1} ({} watched)",
        watched.len()
    );
    let min = |v: &[f64]| v.iter().copied().fold(f64::INFINITY, f64::min);
    println!(
        "cpu_ms min {:.1} median {:.1}; wall_ms min {:.1} median {:.1}; peak_rss_mb {:.1}",
        min(&cpu),
        median(&mut cpu),
        min(&wall),
        median(&mut wall),
        peak_rss_mb()
    );
    Ok(())
}
