//! A fixture Beacon API server: serves a generated epoch ([`crate::mainnet::Answers`]) over
//! HTTP on 127.0.0.1, with the paths valwatch's client asks for (spec, genesis, syncing,
//! headers, blocks, committees, proposer duties, sync committees, finality checkpoints, and
//! validators by index or pubkey, GET with `id=` or POST with `{"ids": [...]}`). Anything else
//! is a 404, as for an empty slot.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};

use crate::mainnet::{Answers, validators_json};

/// The router serving `answers`.
pub fn router(answers: Arc<Answers>) -> Router {
    Router::new().fallback(handle).with_state(answers)
}

fn json(body: Vec<u8>) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}

async fn handle(
    State(answers): State<Arc<Answers>>,
    method: Method,
    uri: Uri,
    body: Bytes,
) -> Response {
    let path = uri.path();
    let query = uri.query();
    if path.starts_with("/eth/v1/beacon/states/") && path.ends_with("/validators") {
        let mut ids: Vec<String> = query
            .unwrap_or("")
            .split('&')
            .filter_map(|kv| kv.strip_prefix("id="))
            .flat_map(|v| v.split(','))
            .map(str::to_string)
            .collect();
        if method == Method::POST {
            #[derive(serde::Deserialize)]
            struct Body {
                #[serde(default)]
                ids: Vec<String>,
            }
            match serde_json::from_slice::<Body>(&body) {
                Ok(b) => ids.extend(b.ids),
                Err(_) => return StatusCode::BAD_REQUEST.into_response(),
            }
        }
        if ids.is_empty() {
            // The whole registry, as a node answers without ids.
            ids = (0..answers.validators).map(|i| i.to_string()).collect();
        }
        return json(validators_json(answers.validators, &ids).into_bytes());
    }
    match answers.route(path, query) {
        Some(bytes) => json(bytes.to_vec()),
        None => (
            StatusCode::NOT_FOUND,
            r#"{"code":404,"message":"not found"}"#,
        )
            .into_response(),
    }
}

/// Serves `answers` on `listener` until the process ends.
pub async fn serve(
    listener: tokio::net::TcpListener,
    answers: Arc<Answers>,
) -> std::io::Result<()> {
    axum::serve(listener, router(answers)).await
}
