//! The live watcher, run by the real supervisor against scripted chains served over HTTP.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use valwatch_core::{ChainTracker, LabelMap, Metrics, StateStore, Supervisor};
use valwatch_cosmos::CosmosConfig;
use valwatch_cosmos::height::Flag;

use crate::scripted::{Chain, Mode, Plan, Script, Server, Val, metric, wait_until};

const WAIT: Duration = Duration::from_secs(30);

/// A supervisor running one Cosmos chain.
struct Running {
    metrics: Metrics,
    tracker: Arc<ChainTracker>,
    cancel: valwatch_core::CancellationToken,
    task: tokio::task::JoinHandle<()>,
}

impl Running {
    fn start(config: CosmosConfig, state: &std::path::Path) -> Running {
        let metrics = Metrics::new();
        let mut supervisor = Supervisor::new(
            metrics.clone(),
            StateStore::new(state),
            Duration::from_secs(3600),
        );
        supervisor
            .add(valwatch_cosmos::watcher(config).expect("valid config"))
            .expect("added");
        let tracker = supervisor.trackers().remove(0);
        let cancel = supervisor.cancel_token();
        let task = tokio::spawn(supervisor.run());
        Running {
            metrics,
            tracker,
            cancel,
            task,
        }
    }

    fn last_judged(&self) -> u64 {
        self.tracker.checkpoint().0.unwrap_or(0)
    }

    fn text(&self) -> String {
        self.metrics.encode()
    }

    fn value(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        metric(&self.text(), name, labels).unwrap_or(f64::NAN)
    }

    /// Validator `v`'s counter `name` (per validator series).
    fn counter(&self, name: &str, v: &Val) -> f64 {
        let hex = v.hex();
        let mut labels = vec![("chain", "t"), ("validator", hex.as_str())];
        if name.starts_with("valwatch_validator_duty") {
            labels.push(("duty", "block"));
        }
        metric(&self.text(), name, &labels).unwrap_or(0.0)
    }

    async fn wait_judged(&self, height: u64) {
        wait_until(&format!("height {height} judged"), WAIT, || {
            self.last_judged() >= height
        })
        .await;
    }

    async fn stop(self) {
        self.cancel.cancel();
        self.task.await.expect("supervisor stops");
    }
}

fn config(urls: Vec<String>, labels: LabelMap) -> CosmosConfig {
    let mut config = CosmosConfig::new("t", urls);
    config.poll_interval_seconds = Some(1);
    config.sdk_refresh_seconds = 1;
    config.request_timeout_seconds = 2;
    config.validators.labels = labels;
    config
}

fn vals() -> Vec<Val> {
    vec![
        Val::new(1, 400),
        Val::new(2, 300),
        Val::new(3, 200),
        Val::new(4, 100),
    ]
}

/// Everyone in the set and signing, proposers in turn.
fn all_sign(n: usize) -> Script {
    Box::new(move |h| Plan {
        set: (0..n).collect(),
        flags: vec![Flag::Commit; n],
        proposer: (h as usize) % n,
        txs: 1,
    })
}

const MISSED: &str = "valwatch_validator_duty_missed_total";
const SIGNED: &str = "valwatch_validator_duty_performed_total";

/// The script of the first test: validator 2 is ABSENT at 3, 4 and 10; validator 1 votes NIL
/// at 3..=6; validator 3 is out of the set at 5..=8.
fn script_with_faults() -> Script {
    Box::new(|h| {
        let set: Vec<usize> = if (5..=8).contains(&h) {
            vec![0, 1, 2]
        } else {
            vec![0, 1, 2, 3]
        };
        let flags = set
            .iter()
            .map(|&i| match i {
                2 if matches!(h, 3 | 4 | 10) => Flag::Absent,
                1 if (3..=6).contains(&h) => Flag::Nil,
                _ => Flag::Commit,
            })
            .collect();
        Plan {
            proposer: (h as usize) % set.len(),
            set,
            flags,
            txs: (h % 2) as usize,
        }
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn absent_is_missed_nil_is_signed_and_validators_outside_the_set_are_not_judged() {
    let mut vals = vals();
    let mut bls = Val::new(9, 50);
    bls.bls = true;
    vals.push(bls.clone());
    let unknown_valoper = valwatch_cosmos::address::to_bech32("cosmosvaloper", &[99; 20]);
    let chain = Arc::new(Mutex::new(Chain::new(vals.clone(), script_with_faults())));
    {
        let mut c = chain.lock().expect("chain");
        c.produce(2);
        c.missed_counter.insert(2, 2);
        c.voted.insert(vals[0].valoper.clone());
    }
    let server = Server::start(chain.clone()).await;
    let labels: LabelMap = [
        (
            "server-1".to_string(),
            // By operator address (through x/staking) and by lower-case hex.
            vec![vals[0].valoper.clone(), vals[1].hex().to_ascii_lowercase()],
        ),
        (
            "server-2".to_string(),
            // By valcons, by base64 public key, an unknown operator and a BLS-keyed one.
            vec![
                vals[2].valcons(),
                vals[3].pubkey_b64(),
                unknown_valoper,
                bls.valoper.clone(),
            ],
        ),
    ]
    .into();
    let dir = tempfile::tempdir().expect("tempdir");
    let run = Running::start(config(vec![server.url.clone()], labels), dir.path());
    // A fresh start judges from the newest judgeable height: 1.
    run.wait_judged(1).await;
    chain.lock().expect("chain").produce(10);
    run.wait_judged(11).await;
    wait_until("x/staking and gov gauges", WAIT, || {
        metric(
            &run.text(),
            "valwatch_validator_cosmos_proposal_voted",
            &[("validator", &vals[0].hex()), ("proposal_id", "7")],
        ) == Some(1.0)
    })
    .await;

    // Heights 1..=11 judged. Validator 2: ABSENT at 3, 4, 10.
    assert_eq!(run.counter(MISSED, &vals[2]), 3.0);
    assert_eq!(run.counter(SIGNED, &vals[2]), 8.0);
    assert_eq!(
        run.counter(
            "valwatch_validator_cosmos_solo_missed_blocks_total",
            &vals[2]
        ),
        3.0,
        "3 of 4 equal powers signed: more than 2/3"
    );
    // Validator 1 voted NIL at 3..=6: signed, never missed.
    assert_eq!(run.counter(MISSED, &vals[1]), 0.0);
    assert_eq!(run.counter(SIGNED, &vals[1]), 11.0);
    // Validator 3 was out of the set at 5..=8: those heights are unknown, not missed.
    assert_eq!(run.counter(MISSED, &vals[3]), 0.0);
    assert_eq!(run.counter(SIGNED, &vals[3]), 7.0);
    assert_eq!(run.counter(SIGNED, &vals[0]), 11.0);
    // Proposals and empty proposals expected from the same script.
    let expected: Vec<(f64, f64)> = {
        let c = chain.lock().expect("chain");
        (0..4)
            .map(|i| {
                let (mut proposed, mut empty) = (0.0, 0.0);
                for h in 1..=11 {
                    let plan = c.plan(h);
                    if plan.set[plan.proposer] == i {
                        proposed += 1.0;
                        if plan.txs == 0 {
                            empty += 1.0;
                        }
                    }
                }
                (proposed, empty)
            })
            .collect()
    };
    for (i, (v, (proposed, empty))) in vals.iter().zip(&expected).enumerate() {
        assert_eq!(
            run.counter("valwatch_validator_cosmos_proposed_blocks_total", v),
            *proposed,
            "validator {i}"
        );
        assert_eq!(
            run.counter("valwatch_validator_cosmos_empty_proposed_blocks_total", v),
            *empty,
            "validator {i}"
        );
    }
    assert!(expected.iter().map(|(p, _)| p).sum::<f64>() == 11.0);
    let text = run.text();
    let g = |name: &str, labels: &[(&str, &str)]| metric(&text, name, labels);
    // Groups.
    assert_eq!(
        g(
            "valwatch_duty_missed_total",
            &[("group", "server-2"), ("duty", "block")]
        ),
        Some(3.0)
    );
    assert_eq!(
        g(
            "valwatch_duty_missed_total",
            &[("group", "server-1"), ("duty", "block")]
        ),
        Some(0.0)
    );
    // Keys: the unknown operator and the BLS-keyed validator are reported, not watched.
    assert_eq!(
        g("valwatch_cosmos_keys_unresolved", &[("chain", "t")]),
        Some(2.0)
    );
    // Slashing: window 20, min_signed 0.5 → 10 misses allowed.
    assert_eq!(g("valwatch_cosmos_signed_blocks_window", &[]), Some(20.0));
    let v2 = vals[2].hex();
    assert_eq!(
        g(
            "valwatch_validator_cosmos_blocks_left_before_jail",
            &[("validator", &v2)]
        ),
        Some(8.0),
        "chain counter 2"
    );
    assert_eq!(
        g(
            "valwatch_validator_cosmos_blocks_left_before_jail_valwatch",
            &[("validator", &v2)]
        ),
        Some(7.0),
        "valwatch saw 3 misses"
    );
    assert_eq!(
        g(
            "valwatch_validator_duty_consecutive_missed",
            &[("validator", &v2)]
        ),
        Some(0.0)
    );
    // Staking.
    for (i, v) in vals.iter().enumerate().take(4) {
        let hex = v.hex();
        assert_eq!(
            g("valwatch_validator_cosmos_rank", &[("validator", &hex)]),
            Some(i as f64 + 1.0)
        );
        assert_eq!(
            g("valwatch_validator_cosmos_bonded", &[("validator", &hex)]),
            Some(1.0)
        );
        assert_eq!(
            g("valwatch_validator_cosmos_jailed", &[("validator", &hex)]),
            Some(0.0)
        );
    }
    assert_eq!(g("valwatch_cosmos_seat_price_tokens", &[]), Some(100.0));
    assert_eq!(
        g("valwatch_cosmos_upgrade_plan_height", &[]),
        Some(1_000_000.0)
    );
    // Gov: validator 0 voted on proposal 7; 1 in server-1 and 2 in server-2 did not.
    assert_eq!(
        g(
            "valwatch_cosmos_proposal_not_voted",
            &[("group", "server-1"), ("proposal_id", "7")]
        ),
        Some(1.0)
    );
    assert_eq!(
        g(
            "valwatch_cosmos_proposal_not_voted",
            &[("group", "server-2"), ("proposal_id", "7")]
        ),
        Some(2.0)
    );
    assert_eq!(g("valwatch_cosmos_chain_stalled", &[]), Some(0.0));
    assert_eq!(g("valwatch_chain_ready", &[("chain", "t")]), Some(1.0));

    // Validator 3 jailed: x/staking changes rank and bonded at the next refresh.
    {
        let mut c = chain.lock().expect("chain");
        c.jailed.insert(3);
    }
    let v3 = vals[3].hex();
    wait_until("jailed validator unbonded", WAIT, || {
        metric(
            &run.text(),
            "valwatch_validator_cosmos_jailed",
            &[("validator", &v3)],
        ) == Some(1.0)
    })
    .await;
    let text = run.text();
    assert_eq!(
        metric(
            &text,
            "valwatch_validator_cosmos_bonded",
            &[("validator", &v3)]
        ),
        Some(0.0)
    );
    assert!(
        !text.contains(&format!(
            "valwatch_validator_cosmos_rank{{chain=\"t\",validator=\"{v3}\"}}"
        )) || metric(
            &text,
            "valwatch_validator_cosmos_rank",
            &[("validator", &v3)]
        )
        .is_some_and(f64::is_nan),
        "a validator that is not bonded has no rank"
    );
    run.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_halted_chain_is_stalled_and_records_no_miss() {
    let vals = vals();
    let chain = Arc::new(Mutex::new(Chain::new(vals.clone(), all_sign(4))));
    chain.lock().expect("chain").produce(3);
    let server = Server::start(chain.clone()).await;
    let labels: LabelMap = [(
        "ops".to_string(),
        vals.iter().map(Val::hex).collect::<Vec<_>>(),
    )]
    .into();
    let mut config = config(vec![server.url.clone()], labels);
    config.stall_after_seconds = Some(2);
    let dir = tempfile::tempdir().expect("tempdir");
    let run = Running::start(config, dir.path());
    run.wait_judged(2).await;
    // The chain halts at height 3: nothing more to judge.
    wait_until("stalled", WAIT, || {
        run.value("valwatch_cosmos_chain_stalled", &[("chain", "t")]) == 1.0
    })
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        run.last_judged(),
        2,
        "height 3 has no commit yet: not judged"
    );
    for v in &vals {
        assert_eq!(run.counter(MISSED, v), 0.0, "no miss during a halt");
    }
    let text = run.text();
    assert_eq!(
        metric(&text, "valwatch_duty_missed_total", &[("group", "all")]),
        Some(0.0)
    );
    // Blocks again: no longer stalled, and the next heights are judged.
    chain.lock().expect("chain").produce(2);
    run.wait_judged(4).await;
    wait_until("not stalled", WAIT, || {
        run.value("valwatch_cosmos_chain_stalled", &[("chain", "t")]) == 0.0
    })
    .await;
    for v in &vals {
        assert_eq!(run.counter(SIGNED, v), 3.0);
        assert_eq!(run.counter(MISSED, v), 0.0);
    }
    run.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failover_between_two_endpoints_loses_no_height() {
    let vals = vals();
    let chain = Arc::new(Mutex::new(Chain::new(vals.clone(), all_sign(4))));
    chain.lock().expect("chain").produce(2);
    let a = Server::start(chain.clone()).await;
    let b = Server::start(chain.clone()).await;
    let labels: LabelMap = [(
        "ops".to_string(),
        vals.iter().map(Val::hex).collect::<Vec<_>>(),
    )]
    .into();
    let dir = tempfile::tempdir().expect("tempdir");
    let run = Running::start(
        config(vec![a.url.clone(), b.url.clone()], labels),
        dir.path(),
    );
    run.wait_judged(1).await;
    let producer = {
        let chain = chain.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_millis(300)).await;
                chain.lock().expect("chain").produce(1);
            }
        })
    };
    // Phase 1: A down and B answering garbage blocks: no height can be judged; both failures
    // are counted and nothing is recorded. Then A comes back and its answers win over B's.
    a.set_mode(Mode::Down);
    b.set_mode(Mode::GarbageBlocks);
    wait_until("both failures counted", WAIT, || {
        let text = run.text();
        metric(
            &text,
            "valwatch_watcher_errors_total",
            &[("kind", "malformed")],
        )
        .unwrap_or(0.0)
            > 0.0
            && metric(
                &text,
                "valwatch_watcher_errors_total",
                &[("kind", "unreachable")],
            )
            .unwrap_or(0.0)
                > 0.0
    })
    .await;
    let stuck = run.last_judged();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(
        run.last_judged() <= stuck + 1,
        "no endpoint gives a usable block"
    );
    a.set_mode(Mode::Healthy);
    let start = run.last_judged();
    run.wait_judged(start + 8).await;
    // Phase 2: B healthy, A down; B's answers win.
    b.set_mode(Mode::Healthy);
    a.set_mode(Mode::Down);
    let start = run.last_judged();
    run.wait_judged(start + 8).await;
    let a_name = a.url.clone();
    wait_until("A reported down", WAIT, || {
        run.value("valwatch_endpoint_up", &[("endpoint", &a_name)]) == 0.0
    })
    .await;
    // Phase 3: A back, B down.
    a.set_mode(Mode::Healthy);
    b.set_mode(Mode::Down);
    let start = run.last_judged();
    run.wait_judged(start + 8).await;
    producer.abort();
    let last = run.last_judged();
    // Every height 1..=last was judged exactly once for every validator: none lost.
    let text = run.text();
    for v in &vals {
        assert_eq!(
            metric(&text, SIGNED, &[("validator", &v.hex())]),
            Some(last as f64),
            "{}: all of 1..={last}",
            v.hex()
        );
    }
    assert_eq!(
        metric(&text, "valwatch_duty_missed_total", &[("group", "all")]),
        Some(0.0)
    );
    assert!(
        metric(
            &text,
            "valwatch_watcher_errors_total",
            &[("kind", "unreachable")]
        )
        .unwrap_or(0.0)
            > 0.0,
        "the down endpoint is counted"
    );
    let b_name = b.url.clone();
    wait_until("B reported down", WAIT, || {
        run.value("valwatch_endpoint_up", &[("endpoint", &b_name)]) == 0.0
    })
    .await;
    wait_until("A's height exported", WAIT, || {
        run.value("valwatch_cosmos_endpoint_height", &[("endpoint", &a_name)]) >= last as f64
    })
    .await;
    run.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_from_the_snapshot_resumes_without_gap_or_double_count() {
    let vals = vals();
    let chain = Arc::new(Mutex::new(Chain::new(vals.clone(), script_with_faults())));
    chain.lock().expect("chain").produce(2);
    let server = Server::start(chain.clone()).await;
    let labels: LabelMap = [(
        "ops".to_string(),
        // Operator addresses: after the restart they resolve before x/staking answers again.
        vals.iter().map(|v| v.valoper.clone()).collect::<Vec<_>>(),
    )]
    .into();
    let dir = tempfile::tempdir().expect("tempdir");
    let config = config(vec![server.url.clone()], labels);
    let first = Running::start(config.clone(), dir.path());
    first.wait_judged(1).await;
    chain.lock().expect("chain").produce(5);
    first.wait_judged(6).await;
    assert_eq!(first.counter(MISSED, &vals[2]), 2.0, "3 and 4");
    first.stop().await;

    // While valwatch is stopped the chain goes on (validator 2 misses 10 too).
    chain.lock().expect("chain").produce(8);
    let second = Running::start(config, dir.path());
    second.wait_judged(14).await;
    // Heights 1..=14: each counted once, the gap 7..=14 back-filled.
    assert_eq!(second.counter(MISSED, &vals[2]), 3.0);
    assert_eq!(second.counter(SIGNED, &vals[2]), 11.0);
    assert_eq!(second.counter(SIGNED, &vals[1]), 14.0);
    assert_eq!(
        second.counter(SIGNED, &vals[3]),
        10.0,
        "out of the set at 5..=8"
    );
    assert_eq!(
        second.value(
            "valwatch_validator_duty_window_missed",
            &[("validator", &vals[2].hex())]
        ),
        3.0,
        "the window survived the restart"
    );
    second.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_commit_that_does_not_match_the_set_is_retried_never_a_miss() {
    let vals = vals();
    let chain = Arc::new(Mutex::new(Chain::new(vals.clone(), all_sign(4))));
    chain.lock().expect("chain").produce(2);
    let server = Server::start(chain.clone()).await;
    let labels: LabelMap = [(
        "ops".to_string(),
        vals.iter().map(Val::hex).collect::<Vec<_>>(),
    )]
    .into();
    let dir = tempfile::tempdir().expect("tempdir");
    let run = Running::start(config(vec![server.url.clone()], labels), dir.path());
    run.wait_judged(1).await;
    {
        let mut c = chain.lock().expect("chain");
        c.short_commit_for = Some(4);
        c.produce(6);
    }
    run.wait_judged(3).await;
    wait_until("inconsistency counted", WAIT, || {
        run.value("valwatch_watcher_errors_total", &[("kind", "inconsistent")]) >= 2.0
    })
    .await;
    assert_eq!(run.last_judged(), 3, "height 4 cannot be judged: retried");
    assert!(run.value("valwatch_chain_lag_units", &[("chain", "t")]) >= 3.0);
    for v in &vals {
        assert_eq!(run.counter(MISSED, v), 0.0);
    }
    chain.lock().expect("chain").short_commit_for = None;
    run.wait_judged(7).await;
    for v in &vals {
        assert_eq!(run.counter(SIGNED, v), 7.0);
        assert_eq!(run.counter(MISSED, v), 0.0);
    }
    run.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_block_event_wakes_the_watcher_long_before_its_poll_interval() {
    let chain = Arc::new(Mutex::new(Chain::new(vals(), all_sign(4))));
    chain.lock().expect("chain").produce(5);
    let server = Server::start_with_websocket(chain.clone()).await;
    let state = tempfile::tempdir().expect("tempdir");
    let mut config = config(vec![server.url.clone()], LabelMap::new());
    config.poll_interval_seconds = Some(30);
    let running = Running::start(config, state.path());
    running.wait_judged(4).await;
    let up = ("chain", "t");
    wait_until("subscription up", WAIT, || {
        running.value("valwatch_cosmos_newblock_subscription_up", &[up]) == 1.0
    })
    .await;
    for next in 6..=7u64 {
        chain.lock().expect("chain").produce(1);
        let started = std::time::Instant::now();
        assert_eq!(server.push_new_block(next), 1, "one subscriber");
        // Height next-1 is judged once block `next` exists: woken, not after 30 s of polling.
        wait_until(
            &format!("height {} judged after the event", next - 1),
            Duration::from_secs(5),
            || running.last_judged() >= next - 1,
        )
        .await;
        assert!(started.elapsed() < Duration::from_secs(5));
    }
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_without_websocket_leaves_polling_working() {
    let chain = Arc::new(Mutex::new(Chain::new(vals(), all_sign(4))));
    chain.lock().expect("chain").produce(5);
    let server = Server::start(chain.clone()).await;
    let state = tempfile::tempdir().expect("tempdir");
    let config = config(vec![server.url.clone()], LabelMap::new());
    assert!(config.subscribe, "subscribing is the default");
    let running = Running::start(config, state.path());
    running.wait_judged(4).await;
    chain.lock().expect("chain").produce(3);
    running.wait_judged(7).await;
    assert_eq!(
        running.value(
            "valwatch_cosmos_newblock_subscription_up",
            &[("chain", "t")]
        ),
        0.0
    );
    running.stop().await;
}
