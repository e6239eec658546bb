//! HTTP GETs under a deadline, so a wrong port fails in seconds with an error naming the cause
//! instead of hanging: `analyze --metrics http://…` (one GET of a Collector's metrics page) and
//! `verify`'s read-back from platforms (many GETs over one [`Client`]).
//!
//! These are a handful of requests, not a load: a current-thread tokio runtime lives in the
//! [`Client`]. https works too (webpki roots), for hosted platforms and Collectors behind TLS.

use std::time::Duration;

use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client as Client_;
use hyper_util::rt::TokioExecutor;

/// Largest metrics page read (fetched or from a file); a Collector's is a few hundred KB.
pub const MAX_BODY: usize = 64 << 20;

/// Why a fetch failed. The caller names the URL.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// The text is not an http(s) URL (the caller names it, redacted).
    #[error("not an http(s) URL with a host")]
    BadUrl,
    /// Nothing answered (refused, DNS, TLS).
    #[error("cannot connect")]
    Connect(#[source] hyper_util::client::legacy::Error),
    /// No complete answer within the deadline.
    #[error("no answer within {}", humantime::format_duration(*.0))]
    Timeout(Duration),
    /// The server answered with a non-2xx status.
    #[error("answered HTTP {0}")]
    Status(hyper::StatusCode),
    /// The body broke off or was too large.
    #[error("reading the body: {0}")]
    Body(String),
    /// The TLS client could not be configured.
    #[error("setting up TLS")]
    Tls(#[source] rustls::Error),
    /// The runtime could not start.
    #[error("starting the HTTP client")]
    Runtime(#[source] std::io::Error),
}

/// GETs `url` and returns the body as text (lossy UTF-8).
pub fn get_text(url: &str, timeout: Duration) -> Result<String, FetchError> {
    let (status, body) = Client::new()?.get(url, &[("accept", "text/plain")], timeout)?;
    if !status.is_success() {
        return Err(FetchError::Status(status));
    }
    Ok(String::from_utf8_lossy(&body).into_owned())
}

type Https = hyper_rustls::HttpsConnector<hyper_util::client::legacy::connect::HttpConnector>;

/// A client for a series of GETs (connections are kept alive between them).
pub struct Client {
    rt: tokio::runtime::Runtime,
    client: Client_<Https, Full<Bytes>>,
}

impl Client {
    /// A client with its own runtime.
    pub fn new() -> Result<Client, FetchError> {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(FetchError::Runtime)?;
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_provider_and_webpki_roots(rustls::crypto::ring::default_provider())
            .map_err(FetchError::Tls)?
            .https_or_http()
            .enable_http1()
            .build();
        let client = rt.block_on(async { Client_::builder(TokioExecutor::new()).build(https) });
        Ok(Client { rt, client })
    }

    /// GETs `url` with `headers` (never printed); any status is returned with the body.
    pub fn get(
        &self,
        url: &str,
        headers: &[(&str, &str)],
        timeout: Duration,
    ) -> Result<(hyper::StatusCode, Bytes), FetchError> {
        self.request(hyper::Method::GET, url, headers, None, timeout)
    }

    /// POSTs `json` to `url`; any status is returned with the body.
    pub fn post_json(
        &self,
        url: &str,
        headers: &[(&str, &str)],
        json: &serde_json::Value,
        timeout: Duration,
    ) -> Result<(hyper::StatusCode, Bytes), FetchError> {
        let body = Bytes::from(json.to_string());
        let mut h = headers.to_vec();
        h.push(("content-type", "application/json"));
        self.request(hyper::Method::POST, url, &h, Some(body), timeout)
    }

    fn request(
        &self,
        method: hyper::Method,
        url: &str,
        headers: &[(&str, &str)],
        body: Option<Bytes>,
        timeout: Duration,
    ) -> Result<(hyper::StatusCode, Bytes), FetchError> {
        let uri: hyper::Uri = url.parse().map_err(|_| FetchError::BadUrl)?;
        if !matches!(uri.scheme_str(), Some("http" | "https")) || uri.host().is_none() {
            return Err(FetchError::BadUrl);
        }
        let mut req = hyper::Request::builder()
            .method(method)
            .uri(uri)
            .header(hyper::header::USER_AGENT, concat!("traceblast/", env!("CARGO_PKG_VERSION")));
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let req = req.body(Full::new(body.unwrap_or_default())).map_err(|_| FetchError::BadUrl)?;
        self.rt.block_on(async {
            let exchange = async {
                let resp = self.client.request(req).await.map_err(FetchError::Connect)?;
                let status = resp.status();
                let body = Limited::new(resp.into_body(), MAX_BODY)
                    .collect()
                    .await
                    .map_err(|e| FetchError::Body(e.to_string()))?;
                Ok((status, body.to_bytes()))
            };
            tokio::time::timeout(timeout, exchange).await.unwrap_or(Err(FetchError::Timeout(timeout)))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_urls_fail_before_connecting() {
        for bad in ["ftp://x/metrics", "http://", "not a url"] {
            assert!(matches!(get_text(bad, Duration::from_secs(1)), Err(FetchError::BadUrl)), "{bad}");
        }
    }

    #[test]
    fn closed_port_is_a_connect_error() {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let err = get_text(&format!("http://127.0.0.1:{port}/metrics"), Duration::from_secs(10)).unwrap_err();
        assert!(matches!(err, FetchError::Connect(_)), "{err:?}");
    }

    #[test]
    fn silent_server_hits_the_deadline() {
        // The kernel completes the handshake from the backlog; nobody ever answers.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/metrics", listener.local_addr().unwrap());
        let err = get_text(&url, Duration::from_millis(100)).unwrap_err();
        assert!(matches!(err, FetchError::Timeout(_)), "{err:?}");
        assert_eq!(err.to_string(), "no answer within 100ms");
    }
}
