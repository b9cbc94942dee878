//! A third chain family, written outside valwatch, plugged into valwatch-core.
//!
//! `ToyChain` stands for any chain whose blocks say which validators signed. Its "node" is
//! simulated in memory so the example runs anywhere: a block every 100 ms, and validator
//! `val-c` fails to sign every third block. The watcher implements [`ChainWatcher`], records
//! one `block` duty per height, and the [`Supervisor`] does the rest: metrics per label group
//! and per validator, persisted state, restart with backoff.
//!
//! Run: `cargo run -p valwatch-examples --example custom_chain`

use std::time::Duration;

use futures::FutureExt;
use futures::future::BoxFuture;
use valwatch_core::{
    ChainTracker, ChainWatcher, DutyId, LabelMap, Metrics, SeriesPolicy, StateStore, Supervisor,
    ValidatorSet, WatchContext, WatchError,
};

/// What a real client would fetch from a node: the signers of one height.
fn simulated_signers(height: u64) -> Vec<&'static str> {
    let mut signers = vec!["val-a", "val-b"];
    if height % 3 != 0 {
        signers.push("val-c");
    }
    signers
}

struct ToyChainWatcher {
    name: String,
    duty: Option<DutyId>,
    next_height: u64,
}

impl ChainWatcher for ToyChainWatcher {
    fn family(&self) -> &'static str {
        "toychain"
    }

    fn name(&self) -> &str {
        &self.name
    }

    fn register(&mut self, tracker: &ChainTracker) -> Result<(), WatchError> {
        let labels: LabelMap = [
            ("server-1".to_string(), vec!["val-a".into(), "val-c".into()]),
            ("server-2".to_string(), vec!["val-b".into()]),
        ]
        .into();
        let set = ValidatorSet::build(&labels, &[], &SeriesPolicy::default(), |k| Ok(k.into()))
            .map_err(|e| WatchError::Fatal(e.to_string()))?;
        tracker.set_validators(set);
        self.duty = Some(tracker.duty("block", 100)?);
        // Resume after the last height judged before a restart.
        if let (Some(last), _) = tracker.checkpoint() {
            self.next_height = last + 1;
        }
        Ok(())
    }

    fn run<'a>(&'a mut self, ctx: &'a WatchContext) -> BoxFuture<'a, Result<(), WatchError>> {
        async move {
            let duty = self
                .duty
                .ok_or_else(|| WatchError::Fatal("not registered".into()))?;
            loop {
                let height = self.next_height;
                let signers = simulated_signers(height);
                {
                    let mut update = ctx.tracker.update();
                    let validators = update.validators();
                    for id in validators.ids() {
                        let signed = signers.contains(&validators.key(id));
                        update.record(duty, id, height, !signed);
                    }
                    update.set_checkpoint(height, serde_json::Value::Null);
                }
                ctx.health.set_progress(Some(height), Some(height));
                ctx.health.mark_ready();
                self.next_height += 1;
                tokio::select! {
                    _ = ctx.cancel.cancelled() => return Ok(()),
                    _ = tokio::time::sleep(Duration::from_millis(100)) => {}
                }
            }
        }
        .boxed()
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let state_dir = std::env::temp_dir().join("valwatch-example-state");
    let metrics = Metrics::new();
    let mut supervisor = Supervisor::new(
        metrics.clone(),
        StateStore::new(&state_dir),
        Duration::from_secs(1),
    );
    supervisor.add(Box::new(ToyChainWatcher {
        name: "toy".into(),
        duty: None,
        next_height: 1,
    }))?;
    let stop = supervisor.cancel_token();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(1500)).await;
        stop.cancel();
    });
    supervisor.run().await;
    for line in metrics.encode().lines() {
        if line.starts_with("valwatch_duty_missed_total")
            || line.starts_with("valwatch_validator_duty_window_missed{")
            || line.starts_with("valwatch_chain_last_processed_unit")
        {
            println!("{line}");
        }
    }
    println!(
        "state saved in {} (run again to resume)",
        state_dir.display()
    );
    Ok(())
}
