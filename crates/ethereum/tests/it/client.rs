//! The Beacon API client against a tiny local HTTP server that serves the spec fixture files
//! the way a beacon node would (404 for empty slots, 405 for the POST validators form, and the
//! epoch-4 committees for any unknown epoch, like the Lodestar bug).

use std::path::PathBuf;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use valwatch_core::Endpoint;
use valwatch_ethereum::analysis::analyse_epoch;
use valwatch_ethereum::client::{BeaconClient, ClientError, DEFAULT_MAX_ANSWER_BYTES};

use crate::common::fixture;

async fn serve_fixture(State(dir): State<PathBuf>, request: Request) -> Response {
    let path = request.uri().path().to_string();
    let query = request.uri().query().unwrap_or("").to_string();
    let epoch_param = query.strip_prefix("epoch=").unwrap_or("").to_string();
    let last = match path.rsplit('/').next().unwrap_or("") {
        "head" => "47".to_string(), // the fixtures' newest block
        other => other.to_string(),
    };
    let file = if path == "/eth/v1/config/spec" {
        "config_spec.json".to_string()
    } else if path == "/eth/v1/beacon/genesis" {
        "genesis.json".to_string()
    } else if path.starts_with("/eth/v2/beacon/blocks/") {
        format!("blocks/{last}.json")
    } else if path.starts_with("/eth/v1/beacon/headers/") {
        format!("headers/{last}.json")
    } else if path.ends_with("/sync_committees") {
        format!("sync_committees_{epoch_param}.json")
    } else if path.ends_with("/committees") {
        let wanted = format!("committees_{epoch_param}.json");
        if dir.join(&wanted).is_file() {
            wanted
        } else {
            "committees_4.json".to_string()
        }
    } else if path.starts_with("/eth/v1/validator/duties/proposer/") {
        format!("proposer_duties_{last}.json")
    } else if path.ends_with("/validators") {
        if request.method() == Method::POST {
            return StatusCode::METHOD_NOT_ALLOWED.into_response();
        }
        "validators.json".to_string()
    } else {
        return StatusCode::NOT_FOUND.into_response();
    };
    match std::fs::read(dir.join(file)) {
        Ok(bytes) => ([("content-type", "application/json")], bytes).into_response(),
        Err(_) => (
            StatusCode::NOT_FOUND,
            r#"{"code":404,"message":"not found"}"#,
        )
            .into_response(),
    }
}

/// Starts a server for the scenario `name`; returns its base URL.
async fn start(name: &str) -> String {
    let dir = fixture(&format!("spec/{name}"));
    assert!(dir.is_dir(), "missing fixture {}", dir.display());
    let app = axum::Router::new().fallback(serve_fixture).with_state(dir);
    crate::common::serve_on_loopback(app).await
}

/// A URL nobody listens on, with a key in its path.
async fn dead_url() -> String {
    crate::common::dead_url("/secret-api-key").await
}

fn client(urls: &[String], max: usize) -> BeaconClient {
    let endpoints = urls
        .iter()
        .map(|u| Endpoint::parse(u, None).expect("url"))
        .collect();
    BeaconClient::new(endpoints, Duration::from_secs(5), max).expect("client")
}

#[derive(serde::Deserialize)]
struct Expected {
    attestations: Vec<ExpectedFlags>,
}

#[derive(serde::Deserialize)]
struct ExpectedFlags {
    index: u64,
    source_timely: bool,
    target_timely: bool,
    head_timely: bool,
}

#[tokio::test]
async fn fetched_epoch_analyses_like_the_spec_after_failover() {
    for name in ["fulu_chaos", "deneb_chaos", "fulu_empty_slots"] {
        let url = start(name).await;
        let client = client(&[dead_url().await, url], DEFAULT_MAX_ANSWER_BYTES);
        let spec = client.spec().await.expect("spec");
        let data = client.fetch_epoch(&spec, 4).await.expect("fetch epoch 4");
        let analysis = analyse_epoch(&spec, &data.input()).expect("analysis");
        let expected: Expected = serde_json::from_slice(&crate::common::read(&fixture(&format!(
            "spec/{name}/expected.json"
        ))))
        .expect("expected");
        let ours: Vec<_> = analysis.attesters().collect();
        assert_eq!(ours.len(), expected.attestations.len());
        for want in &expected.attestations {
            let got = ours
                .iter()
                .find(|d| d.validator_index == want.index)
                .expect("duty")
                .outcome;
            assert_eq!(
                (got.source_timely(), got.target_timely(), got.head_timely()),
                (want.source_timely, want.target_timely, want.head_timely),
                "{name}: validator {}",
                want.index
            );
        }
    }
}

#[tokio::test]
async fn empty_slot_is_none_and_validators_fall_back_to_get() {
    let url = start("fulu_empty_slots").await;
    let client = client(&[url], DEFAULT_MAX_ANSWER_BYTES);
    // Slot 32 (first of e) is empty in this scenario.
    assert!(client.block(32).await.expect("answer").is_none());
    assert!(client.block(31).await.expect("answer").is_some());
    let validators = client
        .validators("head", &["0".into(), "1".into()])
        .await
        .expect("validators");
    assert!(!validators.is_empty());
}

#[tokio::test]
async fn wrong_epoch_committees_are_refused_with_a_clear_error() {
    let url = start("fulu_baseline").await;
    let client = client(&[url], DEFAULT_MAX_ANSWER_BYTES);
    match client.committees(3, 8).await {
        Err(ClientError::Decode { source, .. }) => {
            assert!(source.to_string().contains("asked for epoch 3"), "{source}")
        }
        other => panic!("expected a decode error, got {other:?}"),
    }
}

#[tokio::test]
async fn oversized_answers_are_refused() {
    let url = start("fulu_baseline").await;
    let client = client(&[url], 1000);
    assert!(matches!(
        client.committees(4, 8).await,
        Err(ClientError::TooLarge { limit: 1000, .. })
    ));
}

#[tokio::test]
async fn errors_name_endpoints_without_their_secrets() {
    let client = client(&[dead_url().await], DEFAULT_MAX_ANSWER_BYTES);
    let error = client.spec().await.expect_err("nobody listens");
    let text = error.to_string();
    assert!(!text.contains("secret-api-key"), "{text}");
    assert!(text.contains("127.0.0.1"), "{text}");
}

#[tokio::test]
async fn one_shot_report_lists_the_given_keys_with_labels() {
    use valwatch_ethereum::beacon::decode_validators;
    use valwatch_ethereum::report::{ReportError, analyze_epoch, render_table};
    let url = start("fulu_offline").await;
    let client = client(&[url], DEFAULT_MAX_ANSWER_BYTES);
    let all = decode_validators(&crate::common::read(&fixture(
        "spec/fulu_offline/validators.json",
    )))
    .expect("validators");
    let expected: Expected = serde_json::from_slice(&crate::common::read(&fixture(
        "spec/fulu_offline/expected.json",
    )))
    .expect("expected");
    let mut keys = valwatch_core::LabelMap::new();
    keys.insert(
        "server-a".into(),
        vec![
            all[0].pubkey.to_uppercase().replace("0X", "0x"),
            all[5].pubkey.clone(),
        ],
    );
    keys.insert("customer-b".into(), vec![all[5].pubkey.clone()]);
    let report = analyze_epoch(&client, 4, Some(&keys))
        .await
        .expect("report");
    assert_eq!(report.validators.len(), 2);
    for row in &report.validators {
        let want = expected
            .attestations
            .iter()
            .find(|a| a.index == row.index)
            .expect("expected row");
        assert_eq!(
            (row.source_timely, row.target_timely, row.head_timely),
            (want.source_timely, want.target_timely, want.head_timely)
        );
        assert_eq!(
            row.pubkey.as_deref(),
            Some(all[row.index as usize].pubkey.as_str())
        );
    }
    let five = report
        .validators
        .iter()
        .find(|r| r.index == 5)
        .expect("validator 5");
    let mut labels = five.labels.clone();
    labels.sort();
    assert_eq!(
        labels,
        vec!["customer-b".to_string(), "server-a".to_string()]
    );
    assert_eq!(report.summary.proposals.len(), 8);
    assert_eq!(report.summary.sync.len(), 8);
    let table = render_table(&report);
    assert!(
        table.contains("epoch 4") && table.contains("customer-b"),
        "{table}"
    );
    let json = serde_json::to_value(&report).expect("json");
    assert!(
        json["validators"][0]["inclusion_delay"].is_number()
            || json["validators"][0]["inclusion_delay"].is_null()
    );
    let everyone = analyze_epoch(&client, 4, None).await.expect("report");
    assert_eq!(everyone.validators.len(), 64);
    assert!(matches!(
        analyze_epoch(&client, 5, None).await,
        Err(ReportError::TooRecent { needed: 55, .. })
    ));
}
