//! `valwatch run` end to end: serves metrics with every node down, stops cleanly on SIGTERM,
//! saves and restores state, survives a corrupt state file, and never shows a secret.

use std::time::Duration;

use crate::support::{Exporter, http_get, repo_file, unreachable_config};

#[test]
fn serves_metrics_with_nodes_down_and_exits_cleanly_on_sigterm() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = unreachable_config(dir.path());
    let state = dir.path().join("state");
    let exporter = Exporter::start(&config, &state, &dir.path().join("log1"));

    exporter.wait_until(Duration::from_secs(20), |e| {
        e.metrics()
            .contains(r#"valwatch_endpoint_up{chain="cosmos-test""#)
            && e.metrics()
                .contains(r#"valwatch_endpoint_up{chain="eth-test""#)
    });
    let metrics = exporter.metrics();
    assert!(metrics.ends_with("# EOF\n"), "{metrics}");
    assert!(
        metrics.contains("valwatch_build_info{version="),
        "{metrics}"
    );
    assert!(
        metrics.contains(r#"valwatch_chain_ready{chain="eth-test"} 0"#),
        "{metrics}"
    );
    for line in metrics
        .lines()
        .filter(|l| l.starts_with("valwatch_endpoint_up"))
    {
        assert!(
            line.ends_with(" 0.0"),
            "an unreachable endpoint is down: {line}"
        );
    }
    let (status, body) = http_get(exporter.addr, "/readyz").expect("readyz");
    assert_eq!(status, 503, "{body}");
    assert!(
        body.contains("eth-test") && body.contains("cosmos-test"),
        "{body}"
    );
    let (status, _) = http_get(exporter.addr, "/healthz").expect("healthz");
    assert_eq!(status, 200);
    // Errors are logged clearly, with the cause.
    exporter.wait_until(Duration::from_secs(10), |e| {
        e.log_text().contains("unreachable")
    });

    let log = exporter.log.clone();
    let (status, took) = exporter.terminate(Duration::from_secs(10));
    assert!(status.success(), "exit status {status:?}");
    assert!(took < Duration::from_secs(5), "took {took:?}");
    let log = std::fs::read_to_string(log).expect("log");
    assert!(log.contains("state saved"), "{log}");
    assert!(state.join("ethereum-eth-test.state").exists());
    assert!(state.join("cosmos-cosmos-test.state").exists());
    for secret in ["SECRETPASS", "SECRETKEY", "SECRETTOKEN", "apiuser"] {
        assert!(
            !log.contains(secret),
            "{secret} leaked into the log:\n{log}"
        );
        assert!(!metrics.contains(secret), "{secret} leaked into metrics");
    }
}

#[test]
fn state_is_restored_and_a_corrupt_file_means_a_fresh_start() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = unreachable_config(dir.path());
    let state = dir.path().join("state");
    let first = Exporter::start(&config, &state, &dir.path().join("log1"));
    let (status, _) = first.terminate(Duration::from_secs(10));
    assert!(status.success());

    let second = Exporter::start(&config, &state, &dir.path().join("log2"));
    second.wait_until(Duration::from_secs(10), |e| {
        e.log_text().contains("state restored")
    });
    let log = second.log_text();
    assert_eq!(log.matches("state restored").count(), 2, "{log}");
    let (status, _) = second.terminate(Duration::from_secs(10));
    assert!(status.success());

    let eth_state = state.join("ethereum-eth-test.state");
    std::fs::write(&eth_state, b"this is not a state file").expect("corrupt");
    let third = Exporter::start(&config, &state, &dir.path().join("log3"));
    let log = third.log_text();
    assert!(
        log.contains("previous state not used") && log.contains("corrupt"),
        "{log}"
    );
    let metrics = third.metrics();
    assert!(
        metrics.contains(r#"valwatch_restore_failures_total{chain="eth-test"} 1"#),
        "{metrics}"
    );
    let rejected = std::fs::read_dir(&state)
        .expect("dir")
        .filter_map(Result::ok)
        .any(|e| e.file_name().to_string_lossy().contains(".rejected-"));
    assert!(rejected, "the corrupt file is kept aside");
    let (status, _) = third.terminate(Duration::from_secs(10));
    assert!(status.success());
    assert!(eth_state.exists(), "a fresh state was saved");
}

#[test]
fn the_example_config_runs_as_the_readme_says() {
    let dir = tempfile::tempdir().expect("tempdir");
    let exporter = Exporter::start(
        &repo_file("examples/valwatch.toml"),
        &dir.path().join("state"),
        &dir.path().join("log"),
    );
    assert!(exporter.metrics().contains("valwatch_build_info"));
    let (status, _) = exporter.terminate(Duration::from_secs(10));
    assert!(status.success());
}

#[test]
fn a_busy_listen_address_is_a_clear_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = unreachable_config(dir.path());
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = taken.local_addr().expect("addr").to_string();
    let output = std::process::Command::new(crate::support::binary())
        .args(["run", "--config"])
        .arg(&config)
        .args(["--listen", &addr, "--state-dir"])
        .arg(dir.path().join("state"))
        .output()
        .expect("run");
    assert!(!output.status.success());
    let text = String::from_utf8_lossy(&output.stderr);
    assert!(text.contains(&format!("cannot listen on {addr}")), "{text}");
}

#[test]
fn json_logs_are_one_object_per_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = unreachable_config(dir.path());
    let log_path = dir.path().join("log");
    let addr = crate::support::free_addr();
    let child = std::process::Command::new(crate::support::binary())
        .args(["--log-format", "json", "run", "--config"])
        .arg(&config)
        .args(["--listen", &addr.to_string(), "--state-dir"])
        .arg(dir.path().join("state"))
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(&log_path).expect("log"))
        .spawn()
        .expect("spawn");
    let exporter = Exporter {
        child,
        addr,
        log: log_path,
    };
    exporter.wait_until(Duration::from_secs(20), |e| {
        e.log_text().contains("valwatch started") && e.log_text().contains("\"level\":\"WARN\"")
    });
    let text = exporter.log_text();
    let (status, _) = exporter.terminate(Duration::from_secs(10));
    assert!(status.success());
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let value: serde_json::Value = serde_json::from_str(line).expect("each line is JSON");
        assert!(
            value.get("level").is_some() && value.get("fields").is_some(),
            "{line}"
        );
    }
}
