//! The live watcher while things change under it, against the node double of `watcher`:
//!
//! - a reorg onto another spec chain re-judges the epoch (windows take the new truth,
//!   counters keep the first verdict and never count a unit twice), until the epoch's
//!   inclusion window is finalized;
//! - `mode = "finalized"` judges nothing before the finalized checkpoint covers the epoch and
//!   its inclusion window, then exactly the spec's verdicts;
//! - the key file is re-read while running: added, moved and removed keys, and a broken
//!   rewrite that keeps the previous keys;
//! - an event stream that never answers, or answers once and then stalls, is timed out while
//!   polling goes on judging.
//!
//! Each test takes a few seconds: polls every second, events and finality moves driven by the
//! test, waits on what the node double or the metrics show, never on fixed sleeps.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, SystemTime};

use valwatch_core::ChainSnapshot;
use valwatch_ethereum::config::Mode;

use crate::watcher::{
    Behaviour, Counts, HeadSwitch, Running, Script, assert_matches_spec, config, expected_counts,
    observed_counts, pubkeys, start_scripted_node, value,
};

/// Waits until `done` holds (a condition on the node double), failing after a generous timeout.
async fn wait_until(what: &str, done: impl Fn() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while !done() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits until the watcher has run a whole cycle that started after this call: the cycle
/// after the next one has read the head (cycles run one after the other).
async fn one_full_cycle(script: &Script) {
    let reads = script.head_reads.load(Ordering::SeqCst);
    wait_until("a whole watcher cycle", || {
        script.head_reads.load(Ordering::SeqCst) >= reads + 2
    })
    .await;
}

fn chain_series(chain: &str, family: &str) -> String {
    format!(r#"valwatch_{family}{{chain="{chain}"}}"#)
}

fn group_series(chain: &str, family: &str, group: &str, duty: &str) -> String {
    format!(r#"valwatch_{family}{{chain="{chain}",group="{group}",duty="{duty}"}}"#)
}

fn validator_series(chain: &str, family: &str, key: &str, duty: &str) -> String {
    format!(r#"valwatch_validator_{family}{{chain="{chain}",validator="{key}",duty="{duty}"}}"#)
}

/// Every counter series of `text` by name and labels, but the watcher's own bookkeeping.
fn verdict_counters(text: &str) -> BTreeMap<String, f64> {
    text.lines()
        .filter(|l| !l.starts_with('#') && l.contains("_total{"))
        .filter(|l| !l.contains("ethereum_epochs_") && !l.contains("watcher_errors"))
        .filter_map(|l| {
            let (series, number) = l.rsplit_once(' ')?;
            Some((series.to_string(), number.parse().ok()?))
        })
        .collect()
}

/// The missed units a spec chain puts in a validator's window, per duty; `None` when the
/// validator has no unit of that duty (its per-validator gauge is then NaN).
fn window_missed(counts: &Counts) -> [(&'static str, Option<f64>); 3] {
    let of = |(performed, missed): (f64, f64)| (performed + missed > 0.0).then_some(missed);
    [
        ("attestation", of(counts.attestation)),
        ("proposal", of(counts.proposal)),
        ("sync", of(counts.sync)),
    ]
}

/// Intended semantics of a verdict changed by a reorg (core's `Update::record`,
/// `docs/metrics.md`): the window of the unit takes the new verdict, so every window-derived
/// gauge (`duty_window_missed`, `missing_validators`, `uptime_ratio`) shows the new truth;
/// `duty_performed_total` / `duty_missed_total` and the vote counters count each
/// (validator, unit) once, with the verdict it was first given — a Prometheus counter cannot
/// take a count back. A unit the first chain did not have (a sync duty in a slot that was
/// empty there) is new and counted once, with the new chain's verdict. (The other way round,
/// a unit the new chain no longer has is forgotten by the window, its count kept; this test
/// moves to the chain with more blocks, so that case is covered by a unit test in
/// `duties.rs`, `a_slot_emptied_by_a_reorg_loses_its_sync_verdicts`.)
#[tokio::test]
async fn a_reorg_rejudges_the_epoch_without_counting_twice_until_its_window_is_finalized() {
    let (first, second) = ("fulu_offline", "fulu_baseline");
    let keys = pubkeys(first);
    assert_eq!(keys, pubkeys(second), "both chains share their validators");
    let script = Arc::new(Script::default());
    let url = start_scripted_node(
        first,
        Behaviour::PushedEvents,
        Arc::default(),
        script.clone(),
    )
    .await;
    let chain = "eth-reorg";
    let run = Running::start(config(chain, vec![url], &keys), None);
    let analysed = chain_series(chain, "ethereum_epochs_analysed_total");
    let reanalysed = chain_series(chain, "ethereum_epochs_reanalysed_total");
    let on_first = run
        .wait_for("epoch 4 on the first chain", |t| {
            value(t, &analysed) == Some(1.0)
        })
        .await;
    assert_matches_spec(&on_first, chain, first);
    let first_truth = expected_counts(first);
    let missed_first: f64 = first_truth.values().map(|c| c.attestation.1).sum();
    assert_eq!(missed_first, 6.0, "the offline validators missed");

    // The node moves to the other chain (other blocks in all of epoch 4's window) with a new
    // head, and says so on the event stream.
    script.reorg_to(second, 1);
    script.push_event("chain_reorg", r#"{"slot":"49","depth":"18"}"#);
    let on_second = run
        .wait_for("epoch 4 judged again", |t| {
            value(t, &reanalysed) == Some(1.0)
        })
        .await;
    assert_eq!(value(&on_second, &analysed), Some(2.0));
    let second_truth = expected_counts(second);
    for (index, key) in keys.iter().enumerate() {
        let index = index as u64;
        let (was, now) = (
            first_truth.get(&index).cloned().unwrap_or_default(),
            second_truth.get(&index).cloned().unwrap_or_default(),
        );
        for (duty, missed) in window_missed(&now) {
            let got = value(
                &on_second,
                &validator_series(chain, "duty_window_missed", key, duty),
            );
            match missed {
                Some(missed) => assert_eq!(got, Some(missed), "validator {index} {duty} window"),
                None => assert!(
                    got.is_none_or(f64::is_nan),
                    "validator {index} {duty}: {got:?}"
                ),
            }
        }
        let got = observed_counts(&on_second, chain, key);
        // First verdicts stay; each unit once.
        assert_eq!(got.attestation, was.attestation, "validator {index}");
        assert_eq!(got.proposal, was.proposal, "validator {index}");
        assert_eq!(got.votes, was.votes, "validator {index}");
        assert_eq!(got.sync.1, was.sync.1, "validator {index}: sync misses");
        assert_eq!(
            got.sync.0 + got.sync.1,
            now.sync.0 + now.sync.1,
            "validator {index}: every sync unit of the new chain counted once"
        );
    }
    for (family, want) in [
        ("duty_window_missed", 0.0),
        ("duty_missing_validators", 0.0),
        ("duty_missed_total", missed_first),
        ("duty_performed_total", 64.0 - missed_first),
    ] {
        let series = group_series(chain, family, "all", "attestation");
        assert_eq!(value(&on_second, &series), Some(want), "{series}");
    }

    // Once the finalized checkpoint covers epoch 4 and its inclusion window (epoch 6), its
    // verdicts are final: the node serving other blocks for it again changes nothing.
    script.finalized_epoch.store(6, Ordering::SeqCst);
    script.reorg_to(first, 2);
    script.push_event("chain_reorg", r#"{"slot":"49","depth":"18"}"#);
    one_full_cycle(&script).await;
    let after_finality = run.metrics.encode();
    assert_eq!(value(&after_finality, &reanalysed), Some(1.0));
    assert_eq!(value(&after_finality, &analysed), Some(2.0));
    assert_eq!(
        value(
            &after_finality,
            &group_series(chain, "duty_window_missed", "all", "attestation")
        ),
        Some(0.0)
    );
    assert_eq!(
        verdict_counters(&after_finality),
        verdict_counters(&on_second)
    );
    run.stop().await;
}

/// A snapshot of a watcher that judged everything up to `epoch`.
fn resumed_after(chain: &str, epoch: u64) -> ChainSnapshot {
    ChainSnapshot {
        family: "ethereum".into(),
        chain: chain.into(),
        identity: None,
        checkpoint: Some(epoch),
        extra: serde_json::Value::Null,
        duties: Vec::new(),
        counters: Vec::new(),
    }
}

#[tokio::test]
async fn finalized_mode_judges_an_epoch_only_once_its_inclusion_window_is_finalized() {
    let scenario = "fulu_chaos";
    let script = Arc::new(Script::default());
    // Epoch 4 itself is finalized, its inclusion window (epoch 5) is not; the head (slot 49)
    // is far enough for `head` mode to judge it already.
    script.finalized_epoch.store(5, Ordering::SeqCst);
    let url =
        start_scripted_node(scenario, Behaviour::Normal, Arc::default(), script.clone()).await;
    let chain = "eth-finalized";
    let mut config = config(chain, vec![url], &pubkeys(scenario));
    config.mode = Mode::Finalized;
    config.events = false;
    let run = Running::start(config, Some(resumed_after(chain, 3)));
    wait_until("two finality reads", || {
        script.finality_reads.load(Ordering::SeqCst) >= 2
    })
    .await;
    let before = run.metrics.encode();
    assert_eq!(
        value(
            &before,
            &chain_series(chain, "ethereum_epochs_analysed_total")
        ),
        Some(0.0)
    );
    assert_eq!(
        value(
            &before,
            &chain_series(chain, "ethereum_last_analysed_epoch")
        ),
        Some(3.0)
    );
    assert_eq!(
        value(&before, &chain_series(chain, "chain_ready")),
        Some(1.0),
        "nothing to judge yet is a completed cycle"
    );
    let recorded: Vec<(String, f64)> = verdict_counters(&before)
        .into_iter()
        .filter(|(_, v)| *v != 0.0)
        .collect();
    assert!(recorded.is_empty(), "{recorded:?}");

    script.finalized_epoch.store(6, Ordering::SeqCst);
    let done = chain_series(chain, "ethereum_last_analysed_epoch");
    let text = run
        .wait_for("epoch 4", |t| value(t, &done) == Some(4.0))
        .await;
    assert_matches_spec(&text, chain, scenario);
    run.stop().await;
}

/// Writes the key file with a modification time of its own (file systems with coarse clocks
/// could otherwise give two writes the same one).
fn write_keys(path: &Path, text: &str, version: u64) {
    std::fs::write(path, text).expect("write the key file");
    let modified = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000 + version);
    std::fs::File::options()
        .write(true)
        .open(path)
        .and_then(|f| f.set_modified(modified))
        .expect("set the modification time");
}

fn keys_yaml(labels: &[(&str, &[&String])]) -> String {
    labels
        .iter()
        .map(|(label, keys)| {
            let keys: Vec<&str> = keys.iter().map(|k| k.as_str()).collect();
            format!("{label}: [{}]\n", keys.join(", "))
        })
        .collect()
}

/// What the group counters of `text` hold for `group`, per duty (performed, missed).
fn group_counts(text: &str, chain: &str, group: &str) -> [(f64, f64); 3] {
    ["attestation", "proposal", "sync"].map(|duty| {
        let get = |family: &str| value(text, &group_series(chain, family, group, duty));
        (
            get("duty_performed_total").unwrap_or(0.0),
            get("duty_missed_total").unwrap_or(0.0),
        )
    })
}

fn plus(group: [(f64, f64); 3], key: &Counts) -> [(f64, f64); 3] {
    let add = |(p, m): (f64, f64), (kp, km): (f64, f64)| (p + kp, m + km);
    [
        add(group[0], key.attestation),
        add(group[1], key.proposal),
        add(group[2], key.sync),
    ]
}

/// The key file is re-read while running. Judged first on `fulu_baseline` (everyone
/// performs), then rewritten, then the node reorgs onto `fulu_offline` (validators 31, 38,
/// 56, 57, 62, 63 offline) and epoch 4 is judged again with the new keys:
/// - added keys (63 to `a`, 62 to `b`) get their series and the spec's verdicts, all new;
/// - the moved key (57, `a` → `b`) brings its window to `b`; its counted history stays in `a`;
/// - the removed key (31, was in `a`) loses its series, and its new miss reaches no group;
/// - a broken rewrite in between is reported (`kind="keys"`) and the keys in force stay.
#[tokio::test]
async fn the_key_file_is_reloaded_while_running_and_a_broken_one_keeps_the_keys() {
    let keys = pubkeys("fulu_baseline");
    let [stays_a, stays_b, moved, removed, added_a, added_b] =
        [0, 1, 57, 31, 63, 62].map(|i| &keys[i]);
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("keys.yaml");
    write_keys(
        &path,
        &keys_yaml(&[("a", &[stays_a, moved, removed]), ("b", &[stays_b])]),
        1,
    );
    let script = Arc::new(Script::default());
    let url = start_scripted_node(
        "fulu_baseline",
        Behaviour::PushedEvents,
        Arc::default(),
        script.clone(),
    )
    .await;
    let chain = "eth-keys";
    let mut config = config(chain, vec![url], &[]);
    config.validators.labels.clear();
    config.validators.keys_file = Some(path.clone());
    let run = Running::start(config, None);
    let analysed = chain_series(chain, "ethereum_epochs_analysed_total");
    let first = run
        .wait_for("epoch 4 with the first keys", |t| {
            value(t, &analysed) == Some(1.0)
        })
        .await;
    let (a_before, b_before) = (
        group_counts(&first, chain, "a"),
        group_counts(&first, chain, "b"),
    );
    assert_eq!(a_before[0], (3.0, 0.0));
    assert!(first.contains(&format!(r#"validator="{removed}""#)));

    write_keys(
        &path,
        &keys_yaml(&[
            ("a", &[stays_a, added_a]),
            ("b", &[stays_b, moved, added_b]),
        ]),
        2,
    );
    let status = |group: &str| {
        format!(
            r#"valwatch_ethereum_key_status{{chain="{chain}",group="{group}",status="active_ongoing"}}"#
        )
    };
    let resolved = chain_series(chain, "ethereum_keys_resolved");
    run.wait_for("the rewritten keys", |t| {
        value(t, &status("b")) == Some(3.0) && value(t, &resolved) == Some(5.0)
    })
    .await;

    write_keys(&path, "a: [0x12]\n", 3);
    let errors = format!(r#"valwatch_watcher_errors_total{{chain="{chain}",kind="keys"}}"#);
    let broken = run
        .wait_for("the broken key file reported", |t| {
            value(t, &errors).is_some_and(|v| v >= 1.0)
        })
        .await;
    assert_eq!(value(&broken, &status("a")), Some(2.0));
    assert_eq!(value(&broken, &status("b")), Some(3.0));
    assert_eq!(value(&broken, &resolved), Some(5.0));

    script.reorg_to("fulu_offline", 1);
    script.push_event("chain_reorg", r#"{"slot":"49","depth":"18"}"#);
    let reanalysed = chain_series(chain, "ethereum_epochs_reanalysed_total");
    let text = run
        .wait_for("epoch 4 judged again", |t| {
            value(t, &reanalysed) == Some(1.0)
        })
        .await;
    let offline = expected_counts("fulu_offline");
    for (index, key) in [(63, added_a), (62, added_b)] {
        assert_eq!(
            observed_counts(&text, chain, key),
            offline[&index],
            "added validator {index}"
        );
    }
    assert!(
        !text.contains(&format!(r#"validator="{removed}""#)),
        "the removed key keeps no series:\n{text}"
    );
    // Windows: `a` holds 63's miss (0 performs), `b` 57's and 62's (1 performs).
    let window = |group: &str| {
        value(
            &text,
            &group_series(chain, "duty_window_missed", group, "attestation"),
        )
    };
    assert_eq!(window("a"), Some(1.0), "removed and moved keys left `a`");
    assert_eq!(window("b"), Some(2.0), "the moved key's window came to `b`");
    // Counters: the re-judged units of kept keys count nothing new, the added keys' units
    // are new; nothing of the removed key.
    assert_eq!(
        group_counts(&text, chain, "a"),
        plus(a_before, &offline[&63])
    );
    assert_eq!(
        group_counts(&text, chain, "b"),
        plus(b_before, &offline[&62])
    );
    run.stop().await;
}

/// A scripted node whose head is young (nothing judgeable yet) until the test ages it.
async fn young_node(
    scenario: &str,
    behaviour: Behaviour,
) -> (Arc<HeadSwitch>, Arc<Script>, String) {
    let head = Arc::new(HeadSwitch::default());
    head.young.store(true, Ordering::SeqCst);
    let script = Arc::new(Script::default());
    let url = start_scripted_node(scenario, behaviour, head.clone(), script.clone()).await;
    (head, script, url)
}

/// Ages the head so that epoch 4 becomes judgeable, waits until polling judged it and checks
/// the metrics against the spec; returns the scrape.
async fn judged_by_polling(
    run: &Running,
    head: &HeadSwitch,
    chain: &str,
    scenario: &str,
) -> String {
    head.young.store(false, Ordering::SeqCst);
    let done = chain_series(chain, "ethereum_last_analysed_epoch");
    let text = run
        .wait_for("epoch 4 by polling", |t| value(t, &done) == Some(4.0))
        .await;
    assert_matches_spec(&text, chain, scenario);
    text
}

/// The stream accepts the connection and never answers: connecting times out (bounded by
/// `request_timeout_seconds`), the state shows in the metrics, polling judges on.
#[tokio::test]
async fn an_event_stream_that_never_answers_times_out_and_polling_judges_on() {
    let scenario = "fulu_chaos";
    let (head, script, url) = young_node(scenario, Behaviour::SilentEvents).await;
    let chain = "eth-silent-events";
    let mut config = config(chain, vec![url], &pubkeys(scenario));
    config.request_timeout_seconds = 1;
    let run = Running::start(config, None);
    let errors = format!(r#"valwatch_watcher_errors_total{{chain="{chain}",kind="events"}}"#);
    let up = chain_series(chain, "ethereum_event_stream_up");
    let timed_out = run
        .wait_for("the stream timed out", |t| {
            value(t, &errors).is_some_and(|v| v >= 1.0)
        })
        .await;
    assert_eq!(value(&timed_out, &up), Some(0.0));
    assert!(script.event_connections.load(Ordering::SeqCst) >= 1);

    let text = judged_by_polling(&run, &head, chain, scenario).await;
    assert_eq!(value(&text, &up), Some(0.0));
    run.stop().await;
}

/// The stream opens and sends one event, then nothing, not even keep-alives: after
/// `events_idle_timeout_seconds` it is dropped (`event_stream_up` 0, an `events` error), and
/// polling judges the epoch that becomes judgeable afterwards.
#[tokio::test]
async fn an_event_stream_that_stalls_after_one_event_is_dropped_and_polling_judges_on() {
    let scenario = "fulu_chaos";
    let (head, _script, url) = young_node(scenario, Behaviour::OneEventThenStall).await;
    let chain = "eth-stalled-events";
    let mut config = config(chain, vec![url], &pubkeys(scenario));
    config.request_timeout_seconds = 1;
    config.events_idle_timeout_seconds = Some(2);
    let run = Running::start(config, None);
    let errors = format!(r#"valwatch_watcher_errors_total{{chain="{chain}",kind="events"}}"#);
    let up = chain_series(chain, "ethereum_event_stream_up");
    let open = run
        .wait_for("the stream open", |t| value(t, &up) == Some(1.0))
        .await;
    assert_eq!(value(&open, &errors), None);
    let dropped = run
        .wait_for("the stalled stream dropped", |t| {
            value(t, &up) == Some(0.0) && value(t, &errors).is_some_and(|v| v >= 1.0)
        })
        .await;
    assert_eq!(
        value(
            &dropped,
            &chain_series(chain, "ethereum_epochs_analysed_total")
        ),
        Some(0.0)
    );

    judged_by_polling(&run, &head, chain, scenario).await;
    run.stop().await;
}
