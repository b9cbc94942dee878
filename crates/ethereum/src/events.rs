//! The Beacon API event stream (`/eth/v1/events`, server-sent events) as a wake-up trigger.
//!
//! Events carry no data the watcher uses: a `head`, `block`, `chain_reorg` or
//! `finalized_checkpoint` event only wakes the watcher, which then reads everything over the
//! ordinary HTTP requests, as it does on every poll. The stream is an accelerator: while it is
//! down (node without the endpoint, disconnect, timeout) polling goes on unchanged, the task
//! reconnects with backoff, `valwatch_ethereum_event_stream_up` is 0 and every failure counts in
//! `valwatch_watcher_errors_total{kind="events"}`.
//!
//! - [`SseParser`]: a pure, bounded parser from byte chunks to [`SseEvent`]s.
//! - [`EventStream`]: the task that keeps one stream open to the first answering endpoint.
//!
//! Topics are asked for with a repeated `topics=` parameter: Lodestar 1.x does not answer (no
//! headers at all) for the comma form or for topics it does not know, so connecting has its own
//! first-byte timeout.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::Notify;
use tracing::{info, warn};
use valwatch_core::{Backoff, CancellationToken, ChainHealth, Endpoint};

/// The request path: the topics the watcher reacts to, each as its own `topics=` parameter.
pub const EVENTS_PATH: &str =
    "/eth/v1/events?topics=head&topics=chain_reorg&topics=finalized_checkpoint";

/// Event names that wake the watcher (`block` too, should a node send it).
pub const WAKING_EVENTS: &[&str] = &["head", "block", "chain_reorg", "finalized_checkpoint"];

/// Largest event accepted (its lines, without line ends). Beacon events are well under 1 KiB.
pub const DEFAULT_MAX_EVENT_BYTES: usize = 64 * 1024;

/// The same stream failure is logged again at most this often.
const LOG_REPEAT: Duration = Duration::from_secs(600);

/// One dispatched server-sent event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SseEvent {
    /// The `event:` field; `message` when the event had none.
    pub event: String,
    /// The `data:` lines joined with `\n`.
    pub data: String,
}

/// Why the stream could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SseError {
    /// One event (or one line) grew beyond the limit: refused instead of buffered.
    #[error("event larger than {limit} bytes, refused")]
    TooLarge {
        /// Limit in bytes.
        limit: usize,
    },
}

/// Incremental parser of a `text/event-stream` body: feed it chunks as they arrive; events
/// split across chunks (even inside a CRLF) come out once complete. Memory is bounded by the
/// limit given to [`SseParser::new`].
#[derive(Debug)]
pub struct SseParser {
    limit: usize,
    line: Vec<u8>,
    event: String,
    data: String,
    has_data: bool,
    /// The previous chunk ended in `\r`: a leading `\n` belongs to that line end.
    skip_lf: bool,
}

impl SseParser {
    /// A parser refusing events larger than `limit` bytes.
    pub fn new(limit: usize) -> Self {
        SseParser {
            limit,
            line: Vec::new(),
            event: String::new(),
            data: String::new(),
            has_data: false,
            skip_lf: false,
        }
    }

    /// Parses `chunk`, returning the events it completed. After an error the parser is reset
    /// (the caller is expected to drop the connection).
    pub fn push(&mut self, chunk: &[u8]) -> Result<Vec<SseEvent>, SseError> {
        let mut events = Vec::new();
        for &byte in chunk {
            if std::mem::take(&mut self.skip_lf) && byte == b'\n' {
                continue;
            }
            match byte {
                b'\n' | b'\r' => {
                    self.skip_lf = byte == b'\r';
                    let line = std::mem::take(&mut self.line);
                    if let Some(event) = self.line_done(&line) {
                        events.push(event);
                    }
                }
                _ => {
                    if self.line.len() + self.event.len() + self.data.len() >= self.limit {
                        *self = SseParser::new(self.limit);
                        return Err(SseError::TooLarge { limit: self.limit });
                    }
                    self.line.push(byte);
                }
            }
        }
        Ok(events)
    }

    fn line_done(&mut self, line: &[u8]) -> Option<SseEvent> {
        if line.is_empty() {
            let event = std::mem::take(&mut self.event);
            let data = std::mem::take(&mut self.data);
            if !std::mem::take(&mut self.has_data) {
                return None;
            }
            let event = if event.is_empty() {
                "message".to_string()
            } else {
                event
            };
            return Some(SseEvent { event, data });
        }
        if line[0] == b':' {
            return None; // comment or keep-alive
        }
        let line = String::from_utf8_lossy(line);
        let (field, value) = match line.split_once(':') {
            Some((field, value)) => (field, value.strip_prefix(' ').unwrap_or(value)),
            None => (line.as_ref(), ""),
        };
        match field {
            "event" => self.event = value.to_string(),
            "data" => {
                if self.has_data {
                    self.data.push('\n');
                }
                self.data.push_str(value);
                self.has_data = true;
            }
            _ => {} // id, retry and unknown fields
        }
        None
    }
}

/// Why one connection attempt or stream ended.
#[derive(Debug)]
enum StreamEnd {
    /// Every endpoint answered 404: the nodes lack the endpoint.
    NotFound,
    /// Connecting failed everywhere, or the open stream broke.
    Failed(String),
}

impl std::fmt::Display for StreamEnd {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StreamEnd::NotFound => f.write_str(
                "/eth/v1/events: not found on any beacon endpoint (the node lacks the event stream)",
            ),
            StreamEnd::Failed(message) => f.write_str(message),
        }
    }
}

/// Keeps one event stream open and turns its events into wake-ups.
#[derive(Debug)]
pub struct EventStream {
    chain: String,
    endpoints: Vec<Endpoint>,
    http: reqwest::Client,
    first_byte: Duration,
    idle: Duration,
    max_event_bytes: usize,
}

impl EventStream {
    /// A stream over `endpoints` (tried in order): `first_byte` bounds connecting until the
    /// response headers arrived, `idle` the silence on an open stream before reconnecting.
    pub fn new(
        chain: &str,
        endpoints: Vec<Endpoint>,
        first_byte: Duration,
        idle: Duration,
    ) -> Result<Self, String> {
        let http = reqwest::Client::builder()
            .connect_timeout(first_byte)
            .build()
            .map_err(|e| format!("HTTP client: {}", e.without_url()))?;
        Ok(EventStream {
            chain: chain.to_string(),
            endpoints,
            http,
            first_byte,
            idle,
            max_event_bytes: DEFAULT_MAX_EVENT_BYTES,
        })
    }

    /// Runs until `cancel` fires: connects, notifies `wake` on every waking event, reconnects
    /// with backoff (1 s doubling to 60 s) after any failure.
    pub async fn run(self, wake: Arc<Notify>, health: ChainHealth, cancel: CancellationToken) {
        let up = health
            .metrics()
            .gauge(
                "ethereum_event_stream_up",
                "1 while the beacon event stream (/eth/v1/events) is open, else 0 (polling only).",
                &[],
            )
            .ok();
        let set_up = |value: bool| {
            if let Some(gauge) = &up {
                gauge.set(if value { 1.0 } else { 0.0 });
            }
        };
        set_up(false);
        let mut backoff = Backoff::new(Duration::from_secs(1), Duration::from_secs(60));
        let mut last_log: Option<(String, Instant)> = None;
        loop {
            let ended = tokio::select! {
                _ = cancel.cancelled() => return,
                ended = self.connect_and_read(&wake, &set_up, &mut backoff, &mut last_log) => ended,
            };
            set_up(false);
            health.error("events");
            let message = ended.to_string();
            let now = Instant::now();
            let repeat = matches!(&last_log, Some((last, at)) if *last == message && now.duration_since(*at) < LOG_REPEAT);
            let delay = backoff.next_delay();
            if !repeat {
                warn!(chain = %self.chain, error = %message, "beacon event stream unavailable; polling continues, reconnecting in {delay:?} (this message is not repeated for 10 minutes)");
                last_log = Some((message, now));
            }
            tokio::select! {
                _ = cancel.cancelled() => return,
                _ = tokio::time::sleep(delay) => {}
            }
        }
    }

    async fn connect_and_read(
        &self,
        wake: &Notify,
        set_up: &impl Fn(bool),
        backoff: &mut Backoff,
        last_log: &mut Option<(String, Instant)>,
    ) -> StreamEnd {
        let (endpoint, mut response) = match self.connect().await {
            Ok(connected) => connected,
            Err(end) => return end,
        };
        set_up(true);
        if last_log.take().is_some() {
            info!(chain = %self.chain, %endpoint, "beacon event stream open again");
        } else {
            info!(chain = %self.chain, %endpoint, "beacon event stream open; head events trigger polls");
        }
        let mut parser = SseParser::new(self.max_event_bytes);
        loop {
            let chunk = match tokio::time::timeout(self.idle, response.chunk()).await {
                Err(_) => {
                    return StreamEnd::Failed(format!("{endpoint}: no event for {:?}", self.idle));
                }
                Ok(Err(e)) => {
                    return StreamEnd::Failed(format!(
                        "{endpoint}: {}",
                        valwatch_core::error_chain(&e.without_url())
                    ));
                }
                Ok(Ok(None)) => {
                    return StreamEnd::Failed(format!("{endpoint}: the node closed the stream"));
                }
                Ok(Ok(Some(chunk))) => chunk,
            };
            match parser.push(&chunk) {
                Ok(events) => {
                    if events
                        .iter()
                        .any(|e| WAKING_EVENTS.contains(&e.event.as_str()))
                    {
                        backoff.reset();
                        wake.notify_one();
                    }
                }
                Err(e) => return StreamEnd::Failed(format!("{endpoint}: {e}")),
            }
        }
    }

    /// The first endpoint answering 200 within the first-byte timeout.
    async fn connect(&self) -> Result<(&Endpoint, reqwest::Response), StreamEnd> {
        let mut last = None;
        let mut not_found = 0;
        for endpoint in &self.endpoints {
            let request = self
                .http
                .get(endpoint.join(EVENTS_PATH))
                .header("accept", "text/event-stream")
                .send();
            match tokio::time::timeout(self.first_byte, request).await {
                Err(_) => {
                    last = Some(format!(
                        "{endpoint}: no answer within {:?}",
                        self.first_byte
                    ))
                }
                Ok(Err(e)) => {
                    last = Some(format!(
                        "{endpoint}: {}",
                        valwatch_core::error_chain(&e.without_url())
                    ))
                }
                Ok(Ok(response)) if response.status() == reqwest::StatusCode::NOT_FOUND => {
                    not_found += 1
                }
                Ok(Ok(response)) if !response.status().is_success() => {
                    last = Some(format!("{endpoint}: HTTP {}", response.status()))
                }
                Ok(Ok(response)) => return Ok((endpoint, response)),
            }
        }
        match last {
            Some(message) => Err(StreamEnd::Failed(message)),
            None if not_found > 0 => Err(StreamEnd::NotFound),
            None => Err(StreamEnd::Failed("no beacon endpoint".into())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(parser: &mut SseParser, chunks: &[&[u8]]) -> Vec<SseEvent> {
        chunks
            .iter()
            .flat_map(|c| parser.push(c).expect("parses"))
            .collect()
    }

    fn ev(event: &str, data: &str) -> SseEvent {
        SseEvent {
            event: event.into(),
            data: data.into(),
        }
    }

    #[test]
    fn events_and_data_lines() {
        let mut p = SseParser::new(1024);
        let got = all(
            &mut p,
            &[b"event: head\ndata: {\"slot\":\"1\"}\n\nevent:block\ndata:x\n\n"],
        );
        assert_eq!(got, vec![ev("head", "{\"slot\":\"1\"}"), ev("block", "x")]);
    }

    #[test]
    fn multi_line_data_and_default_event_name() {
        let mut p = SseParser::new(1024);
        let got = all(&mut p, &[b"data: a\ndata: b\ndata\n\n"]);
        assert_eq!(got, vec![ev("message", "a\nb\n")]);
    }

    #[test]
    fn comments_keepalives_and_other_fields_are_skipped() {
        let mut p = SseParser::new(1024);
        let got = all(
            &mut p,
            &[b": keepalive\n\n:\n\nid: 7\nretry: 100\n\nevent: head\n: in between\ndata: 1\n\n"],
        );
        assert_eq!(got, vec![ev("head", "1")]);
    }

    #[test]
    fn crlf_and_cr_line_ends_even_split_between_chunks() {
        let mut p = SseParser::new(1024);
        let got = all(
            &mut p,
            &[
                b"event: head\r\ndata: 1\r",
                b"\n\r",
                b"\nevent: x\rdata: 2\r\r",
            ],
        );
        assert_eq!(got, vec![ev("head", "1"), ev("x", "2")]);
    }

    #[test]
    fn an_event_split_across_many_chunks_comes_out_once_complete() {
        let text = b"event: chain_reorg\ndata: {\"depth\":\"2\"}\n\n";
        let mut p = SseParser::new(1024);
        let mut got = Vec::new();
        for byte in text.iter() {
            got.extend(p.push(std::slice::from_ref(byte)).expect("parses"));
        }
        assert_eq!(got, vec![ev("chain_reorg", "{\"depth\":\"2\"}")]);
        // The event name does not leak into the next event.
        assert_eq!(all(&mut p, &[b"data: z\n\n"]), vec![ev("message", "z")]);
    }

    #[test]
    fn an_event_without_data_is_not_dispatched() {
        let mut p = SseParser::new(1024);
        assert!(all(&mut p, &[b"event: head\n\n"]).is_empty());
        assert_eq!(all(&mut p, &[b"data: 1\n\n"]), vec![ev("message", "1")]);
    }

    #[test]
    fn an_oversized_event_is_an_error_not_unbounded_memory() {
        let mut p = SseParser::new(64);
        // Many short data lines: no single line is long, the event is.
        let mut refused = false;
        for _ in 0..100 {
            match p.push(b"data: 0123456789\n") {
                Ok(events) => assert!(events.is_empty()),
                Err(e) => {
                    assert_eq!(e, SseError::TooLarge { limit: 64 });
                    refused = true;
                    break;
                }
            }
        }
        assert!(refused);
        // One endless line without a line end.
        let mut p = SseParser::new(64);
        assert!(p.push(&[b'a'; 1000]).is_err());
        assert!(p.line.capacity() <= 1024);
        // The parser starts afresh after an error.
        assert_eq!(
            p.push(b"event: head\ndata: 1\n\n").expect("parses"),
            vec![ev("head", "1")]
        );
    }

    #[test]
    fn the_path_repeats_the_topics_parameter() {
        assert!(!EVENTS_PATH.contains(','));
        assert_eq!(EVENTS_PATH.matches("topics=").count(), 3);
    }
}
