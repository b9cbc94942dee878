//! Endpoints as the operator configured them, shown without their secrets, and retry backoff.
//!
//! Node URLs often carry credentials: basic auth (`https://user:pass@host`), an API key in the
//! path (`/v2/<key>`) or in the query (`?apikey=`). Logs and metric labels only ever see
//! [`Endpoint::name`]: the configured name, or `scheme://host:port` of the URL.

use std::time::Duration;

use url::Url;

/// A node endpoint: the full URL for requests, and a name safe to show.
#[derive(Clone, PartialEq, Eq)]
pub struct Endpoint {
    url: Url,
    name: String,
}

impl std::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Endpoint({})", self.name)
    }
}

impl std::fmt::Display for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.name)
    }
}

/// Why an endpoint URL was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum EndpointError {
    /// Not a URL.
    #[error("not a valid URL: {0}")]
    Invalid(String),
    /// Not http, https, ws or wss.
    #[error("unsupported scheme `{0}` (use http or https)")]
    Scheme(String),
}

impl Endpoint {
    /// Parses `url`; `name` overrides the shown name.
    pub fn parse(url: &str, name: Option<&str>) -> Result<Self, EndpointError> {
        // The parse error never echoes the input, which may hold a secret.
        let url = Url::parse(url.trim()).map_err(|e| EndpointError::Invalid(e.to_string()))?;
        if !matches!(url.scheme(), "http" | "https" | "ws" | "wss") {
            return Err(EndpointError::Scheme(url.scheme().to_string()));
        }
        if url.host_str().is_none() {
            return Err(EndpointError::Invalid("no host".into()));
        }
        let name = match name {
            Some(name) => name.to_string(),
            None => redacted(&url),
        };
        Ok(Endpoint { url, name })
    }

    /// The full URL, secrets included: for requests only.
    pub fn url(&self) -> &Url {
        &self.url
    }

    /// A name without secrets, for logs and labels.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// `path` joined to the endpoint URL (keeping the endpoint's own path prefix and query).
    pub fn join(&self, path: &str) -> Url {
        let mut url = self.url.clone();
        let base = url.path().trim_end_matches('/').to_string();
        let (path, query) = path.split_once('?').unwrap_or((path, ""));
        url.set_path(&format!("{base}/{}", path.trim_start_matches('/')));
        if !query.is_empty() {
            let merged = match self.url.query() {
                Some(own) if !own.is_empty() => format!("{own}&{query}"),
                _ => query.to_string(),
            };
            url.set_query(Some(&merged));
        }
        url
    }
}

/// `scheme://host[:port]`, plus `/…` when the URL has a path that may hold a key.
fn redacted(url: &Url) -> String {
    let mut shown = format!("{}://{}", url.scheme(), url.host_str().unwrap_or("?"));
    if let Some(port) = url.port() {
        shown.push_str(&format!(":{port}"));
    }
    if url.path() != "/" && !url.path().is_empty() {
        shown.push_str("/…");
    }
    shown
}

/// Exponential backoff between retries, capped, reset after a success.
#[derive(Debug, Clone)]
pub struct Backoff {
    initial: Duration,
    max: Duration,
    next: Duration,
}

impl Backoff {
    /// Starts at `initial`, doubles each failure, never beyond `max`.
    pub fn new(initial: Duration, max: Duration) -> Self {
        Backoff {
            initial,
            max,
            next: initial,
        }
    }

    /// The delay before the next retry; doubles the following one.
    pub fn next_delay(&mut self) -> Duration {
        let delay = self.next;
        self.next = (self.next * 2).min(self.max);
        delay
    }

    /// Back to the initial delay after a success.
    pub fn reset(&mut self) {
        self.next = self.initial;
    }
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff::new(Duration::from_secs(1), Duration::from_secs(60))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_never_reach_the_name() {
        for (url, shown) in [
            (
                "https://user:secret@node.example:8443/",
                "https://node.example:8443",
            ),
            ("https://eth.example/v2/SECRETKEY", "https://eth.example/…"),
            (
                "http://127.0.0.1:5052?apikey=SECRET",
                "http://127.0.0.1:5052",
            ),
        ] {
            let endpoint = Endpoint::parse(url, None).expect("valid");
            assert_eq!(endpoint.name(), shown);
            assert!(!format!("{endpoint} {endpoint:?}").contains("SECRET"));
            assert!(!format!("{endpoint:?}").contains("secret"));
        }
        assert_eq!(
            Endpoint::parse("http://a:1", Some("mine"))
                .expect("valid")
                .name(),
            "mine"
        );
    }

    #[test]
    fn bad_urls_are_refused_without_echoing_them() {
        let err = Endpoint::parse("ftp://x:SECRET@h", None).unwrap_err();
        assert_eq!(err, EndpointError::Scheme("ftp".into()));
        let err = Endpoint::parse("not a url SECRET", None).unwrap_err();
        assert!(!err.to_string().contains("SECRET"));
    }

    #[test]
    fn join_keeps_prefix_and_query() {
        let endpoint = Endpoint::parse("https://h/v2/key?token=t", None).expect("valid");
        assert_eq!(
            endpoint.join("/eth/v1/node/syncing?x=1").as_str(),
            "https://h/v2/key/eth/v1/node/syncing?token=t&x=1"
        );
        let plain = Endpoint::parse("http://127.0.0.1:26657", None).expect("valid");
        assert_eq!(
            plain.join("status").as_str(),
            "http://127.0.0.1:26657/status"
        );
    }

    #[test]
    fn backoff_doubles_up_to_the_cap_and_resets() {
        let mut backoff = Backoff::new(Duration::from_secs(1), Duration::from_secs(5));
        let delays: Vec<u64> = (0..5).map(|_| backoff.next_delay().as_secs()).collect();
        assert_eq!(delays, [1, 2, 4, 5, 5]);
        backoff.reset();
        assert_eq!(backoff.next_delay().as_secs(), 1);
    }
}
