//! The HTTP server: `/metrics` (OpenMetrics text), `/healthz` (the process is alive) and
//! `/readyz` (every chain completed a first cycle).

use std::net::SocketAddr;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use valwatch_core::{CancellationToken, Metrics, Readiness};

#[derive(Clone)]
struct AppState {
    metrics: Metrics,
    readiness: Readiness,
}

const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

async fn scrape(State(state): State<AppState>) -> impl IntoResponse {
    let body = tokio::task::spawn_blocking(move || state.metrics.encode())
        .await
        .unwrap_or_default();
    ([(header::CONTENT_TYPE, OPENMETRICS)], body)
}

async fn healthz() -> &'static str {
    "ok\n"
}

async fn readyz(State(state): State<AppState>) -> impl IntoResponse {
    let pending = state.readiness.pending();
    if pending.is_empty() {
        (StatusCode::OK, "ready\n".to_string())
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            format!(
                "waiting for a first complete cycle of: {}\n",
                pending.join(", ")
            ),
        )
    }
}

/// Binds `listen` (failing at once with a clear error when it cannot) and serves until
/// `stop` fires.
pub async fn serve(
    listen: SocketAddr,
    metrics: Metrics,
    readiness: Readiness,
    stop: CancellationToken,
) -> anyhow::Result<tokio::task::JoinHandle<()>> {
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {listen}: {e}"))?;
    let bound = listener.local_addr()?;
    tracing::info!(address = %bound, "serving /metrics, /healthz and /readyz");
    let app = Router::new()
        .route("/metrics", get(scrape))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .with_state(AppState { metrics, readiness });
    Ok(tokio::spawn(async move {
        let shutdown = async move { stop.cancelled().await };
        if let Err(e) = axum::serve(listener, app)
            .with_graceful_shutdown(shutdown)
            .await
        {
            tracing::error!(error = %e, "HTTP server failed");
        }
    }))
}
