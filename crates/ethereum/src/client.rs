//! Beacon API client: the requests valwatch makes, over several endpoints with failover.
//!
//! Every request goes to the endpoint that answered last; on a transport error, a 5xx, an
//! oversized answer or an answer that does not decode (including one about the wrong epoch or
//! slot) it moves on to the next endpoint, and fails only when all of them failed. A 404 is an
//! answer, not a failure: an empty slot has no block. Answers larger than the configured limit
//! are refused while reading, and errors name endpoints only by their redacted names (no URL,
//! which may carry an API key). [`BeaconClient::fetch_epoch`] gathers everything
//! [`crate::analysis::analyse_epoch`] needs for one epoch.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use futures::future::try_join_all;
use valwatch_core::Endpoint;

use crate::analysis::EpochData;
use crate::beacon::{
    BeaconError, Block, ChainSpec, EpochCommittees, FinalityCheckpoints, Fork, Genesis, Header,
    ProposerDuty, Syncing, ValidatorEntry, decode_block, decode_committees, decode_finality,
    decode_genesis, decode_header, decode_proposer_duties, decode_sync_committee, decode_syncing,
    decode_validators,
};

/// Default largest answer accepted: mainnet committees are ≈ 10 MB, blocks a few MB.
pub const DEFAULT_MAX_ANSWER_BYTES: usize = 64 * 1024 * 1024;

/// Validators asked per request when resolving keys (URL length and node limits).
pub const VALIDATOR_BATCH: usize = 64;

/// Why a request failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// No endpoint configured.
    #[error("no beacon endpoint configured")]
    NoEndpoint,
    /// The request failed on one endpoint (the last tried, when all failed).
    #[error("{endpoint}: {path}: {message}")]
    Failed {
        /// Redacted endpoint name.
        endpoint: String,
        /// Request path (no host, no key).
        path: String,
        /// What went wrong.
        message: String,
    },
    /// The answer exceeded the size limit.
    #[error("{endpoint}: {path}: answer larger than {limit} bytes, refused")]
    TooLarge {
        /// Redacted endpoint name.
        endpoint: String,
        /// Request path.
        path: String,
        /// Limit in bytes.
        limit: usize,
    },
    /// The answer did not decode or was about something else than asked.
    #[error("{endpoint}: {path}: {source}")]
    Decode {
        /// Redacted endpoint name.
        endpoint: String,
        /// Request path.
        path: String,
        /// The decoder's complaint.
        #[source]
        source: BeaconError,
    },
    /// Every endpoint answered 404 for a resource valwatch needs (for example an endpoint the
    /// node does not implement, or a state it no longer keeps).
    #[error(
        "{path}: not found on any beacon endpoint (node lacks this endpoint or no longer keeps the data)"
    )]
    NotFound {
        /// Request path.
        path: String,
    },
}

/// A Beacon API client over one or more endpoints.
#[derive(Debug)]
pub struct BeaconClient {
    endpoints: Vec<Endpoint>,
    http: reqwest::Client,
    max_answer_bytes: usize,
    preferred: AtomicUsize,
}

enum Answer {
    Body(Vec<u8>),
    NotFound,
}

impl BeaconClient {
    /// A client over `endpoints` (tried in order, failing over), with a per-request timeout.
    pub fn new(
        endpoints: Vec<Endpoint>,
        timeout: Duration,
        max_answer_bytes: usize,
    ) -> Result<Self, ClientError> {
        if endpoints.is_empty() {
            return Err(ClientError::NoEndpoint);
        }
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .build()
            .map_err(|e| ClientError::Failed {
                endpoint: "-".into(),
                path: "-".into(),
                message: format!("HTTP client: {}", e.without_url()),
            })?;
        Ok(BeaconClient {
            endpoints,
            http,
            max_answer_bytes,
            preferred: AtomicUsize::new(0),
        })
    }

    /// The configured endpoints.
    pub fn endpoints(&self) -> &[Endpoint] {
        &self.endpoints
    }

    async fn fetch_once(
        &self,
        endpoint: &Endpoint,
        path: &str,
        body: Option<&serde_json::Value>,
    ) -> Result<Answer, ClientError> {
        let failed = |message: String| ClientError::Failed {
            endpoint: endpoint.name().to_string(),
            path: path.to_string(),
            message,
        };
        let url = endpoint.join(path);
        let request = match body {
            Some(body) => self.http.post(url).json(body),
            None => self.http.get(url),
        };
        let mut response = request
            .header("accept", "application/json")
            .send()
            .await
            .map_err(|e| failed(valwatch_core::error_chain(&e.without_url())))?;
        let status = response.status();
        if status == reqwest::StatusCode::NOT_FOUND {
            return Ok(Answer::NotFound);
        }
        if response
            .content_length()
            .is_some_and(|n| n > self.max_answer_bytes as u64)
        {
            return Err(ClientError::TooLarge {
                endpoint: endpoint.name().to_string(),
                path: path.to_string(),
                limit: self.max_answer_bytes,
            });
        }
        let mut bytes = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| failed(valwatch_core::error_chain(&e.without_url())))?
        {
            if bytes.len() + chunk.len() > self.max_answer_bytes {
                return Err(ClientError::TooLarge {
                    endpoint: endpoint.name().to_string(),
                    path: path.to_string(),
                    limit: self.max_answer_bytes,
                });
            }
            bytes.extend_from_slice(&chunk);
        }
        if !status.is_success() {
            let snippet: String =
                String::from_utf8_lossy(&bytes[..bytes.len().min(200)]).into_owned();
            return Err(failed(format!("HTTP {status}: {snippet}")));
        }
        Ok(Answer::Body(bytes))
    }

    /// Sends the request to the endpoints in turn (starting with the last one that answered)
    /// until one gives an answer `decode` accepts. `Ok(None)` = every endpoint answered 404.
    async fn request<T>(
        &self,
        path: &str,
        body: Option<&serde_json::Value>,
        decode: impl Fn(&[u8]) -> Result<T, BeaconError>,
    ) -> Result<Option<T>, ClientError> {
        let count = self.endpoints.len();
        let first = self.preferred.load(Ordering::Relaxed) % count;
        let mut last_error = None;
        let mut not_found = 0;
        for step in 0..count {
            let i = (first + step) % count;
            let endpoint = &self.endpoints[i];
            match self.fetch_once(endpoint, path, body).await {
                Ok(Answer::Body(bytes)) => match decode(&bytes) {
                    Ok(value) => {
                        self.preferred.store(i, Ordering::Relaxed);
                        return Ok(Some(value));
                    }
                    Err(source) => {
                        tracing::warn!(endpoint = %endpoint, path, error = %source, "unusable beacon answer, trying the next endpoint");
                        last_error = Some(ClientError::Decode {
                            endpoint: endpoint.name().to_string(),
                            path: path.to_string(),
                            source,
                        });
                    }
                },
                Ok(Answer::NotFound) => not_found += 1,
                Err(error) => {
                    tracing::warn!(endpoint = %endpoint, path, %error, "beacon request failed, trying the next endpoint");
                    last_error = Some(error);
                }
            }
        }
        match last_error {
            Some(error) if not_found == 0 => Err(error),
            // Some endpoints said 404 and the others failed: the 404 is the answer we have.
            _ => Ok(None),
        }
    }

    async fn required<T>(
        &self,
        path: &str,
        decode: impl Fn(&[u8]) -> Result<T, BeaconError>,
    ) -> Result<T, ClientError> {
        self.request(path, None, decode)
            .await?
            .ok_or_else(|| ClientError::NotFound {
                path: path.to_string(),
            })
    }

    /// `GET path` with failover, decoded by `decode`; `Ok(None)` when every endpoint answered
    /// 404. For requests this client has no method for (node-specific fallbacks).
    pub async fn get_with<T>(
        &self,
        path: &str,
        decode: impl Fn(&[u8]) -> Result<T, BeaconError>,
    ) -> Result<Option<T>, ClientError> {
        self.request(path, None, decode).await
    }

    /// `GET /eth/v1/config/spec`.
    pub async fn spec(&self) -> Result<ChainSpec, ClientError> {
        self.required("/eth/v1/config/spec", ChainSpec::decode)
            .await
    }

    /// `GET /eth/v1/beacon/genesis`.
    pub async fn genesis(&self) -> Result<Genesis, ClientError> {
        self.required("/eth/v1/beacon/genesis", decode_genesis)
            .await
    }

    /// `GET /eth/v1/node/syncing` of the endpoint that answers.
    pub async fn syncing(&self) -> Result<Syncing, ClientError> {
        self.required("/eth/v1/node/syncing", decode_syncing).await
    }

    /// `GET /eth/v1/beacon/states/{state}/finality_checkpoints`.
    pub async fn finality(&self, state: &str) -> Result<FinalityCheckpoints, ClientError> {
        self.required(
            &format!("/eth/v1/beacon/states/{state}/finality_checkpoints"),
            decode_finality,
        )
        .await
    }

    /// `GET /eth/v1/beacon/headers/{slot}`; `None` for an empty slot.
    pub async fn header(&self, slot: u64) -> Result<Option<Header>, ClientError> {
        self.request(&format!("/eth/v1/beacon/headers/{slot}"), None, |b| {
            decode_header(b, Some(slot))
        })
        .await
    }

    /// `GET /eth/v1/beacon/headers/head`.
    pub async fn head_header(&self) -> Result<Header, ClientError> {
        self.required("/eth/v1/beacon/headers/head", |b| decode_header(b, None))
            .await
    }

    /// `GET /eth/v2/beacon/blocks/{slot}`; `None` for an empty slot.
    pub async fn block(&self, slot: u64) -> Result<Option<Block>, ClientError> {
        self.request(&format!("/eth/v2/beacon/blocks/{slot}"), None, |b| {
            decode_block(b, Some(slot))
        })
        .await
    }

    /// Committees of `epoch`, read from the state at the epoch's first slot.
    pub async fn committees(
        &self,
        epoch: u64,
        slots_per_epoch: u64,
    ) -> Result<EpochCommittees, ClientError> {
        let state = epoch * slots_per_epoch;
        self.required(
            &format!("/eth/v1/beacon/states/{state}/committees?epoch={epoch}"),
            |b| decode_committees(b, epoch, slots_per_epoch),
        )
        .await
    }

    /// Sync committee of `epoch` (members in committee order).
    pub async fn sync_committee(
        &self,
        epoch: u64,
        slots_per_epoch: u64,
    ) -> Result<Vec<u64>, ClientError> {
        let state = epoch * slots_per_epoch;
        self.required(
            &format!("/eth/v1/beacon/states/{state}/sync_committees?epoch={epoch}"),
            decode_sync_committee,
        )
        .await
    }

    /// Proposer duties of `epoch`.
    pub async fn proposer_duties(
        &self,
        epoch: u64,
        slots_per_epoch: u64,
    ) -> Result<Vec<ProposerDuty>, ClientError> {
        self.required(&format!("/eth/v1/validator/duties/proposer/{epoch}"), |b| {
            decode_proposer_duties(b, epoch, slots_per_epoch)
        })
        .await
    }

    /// Validators by pubkey or index at `state`, in batches of [`VALIDATOR_BATCH`]: POST with
    /// an `ids` body first; nodes without the POST form get GET with repeated `id=` parameters
    /// (accepted by every client, unlike comma lists). Unknown ids are simply absent.
    pub async fn validators(
        &self,
        state: &str,
        ids: &[String],
    ) -> Result<Vec<ValidatorEntry>, ClientError> {
        let path = format!("/eth/v1/beacon/states/{state}/validators");
        let mut out = Vec::with_capacity(ids.len());
        for batch in ids.chunks(VALIDATOR_BATCH) {
            let body = serde_json::json!({ "ids": batch });
            let posted = self.request(&path, Some(&body), decode_validators).await;
            let entries = match posted {
                Ok(Some(entries)) => entries,
                Ok(None) | Err(_) => {
                    let query: Vec<String> = batch.iter().map(|id| format!("id={id}")).collect();
                    self.required(&format!("{path}?{}", query.join("&")), decode_validators)
                        .await?
                }
            };
            out.extend(entries);
        }
        Ok(out)
    }

    /// Everything needed to analyse `epoch`: its committees, proposer duties and sync
    /// committee, the canonical blocks from the last slot of `epoch - 1` to the last slot of
    /// `epoch + 1` (empty slots left out), and the roots of the epoch's blocks from headers.
    pub async fn fetch_epoch(
        &self,
        spec: &ChainSpec,
        epoch: u64,
    ) -> Result<EpochData, ClientError> {
        let spe = spec.slots_per_epoch;
        let start = epoch * spe;
        let first = start.saturating_sub(1);
        let end = start + 2 * spe;
        let committees = self.committees(epoch, spe).await?;
        let proposer_duties = self.proposer_duties(epoch, spe).await?;
        let sync_committee = if spec.fork_at(epoch) >= Fork::Altair {
            self.sync_committee(epoch, spe).await?
        } else {
            Vec::new()
        };
        let blocks = try_join_all((first..end).map(|slot| self.block(slot))).await?;
        let headers = try_join_all((first..start + spe).map(|slot| self.header(slot))).await?;
        Ok(EpochData {
            epoch,
            committees,
            blocks: blocks.into_iter().flatten().collect(),
            known_roots: headers
                .into_iter()
                .flatten()
                .map(|h| (h.slot, h.root))
                .collect(),
            proposer_duties,
            sync_committee,
        })
    }
}
