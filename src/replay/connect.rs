//! Connections: the target, TLS, the connector, and the connection types a worker holds.
//!
//! An HTTP/1.1 connection carries one request at a time; its socket is read by the worker that
//! owns it — during an exchange and while the worker waits for work, so a connection the server
//! closes while idle is seen closed at once and never costs the next request a timeout. An HTTP/2 connection (h2, h2c, gRPC) multiplexes; its I/O runs in a task of
//! its own and `SendRequest::is_closed` reports its end.

use std::sync::Arc;
use std::time::Duration;

use hyper::Uri;
use hyper::client::conn::http2;
use hyper::header::HeaderMap;
use hyper_util::rt::TokioExecutor;
use tower_service::Service;

use super::classify;
use crate::stats::ErrorClass;

/// The OTLP transport.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// OTLP/HTTP with protobuf bodies (`http/protobuf`, the default).
    HttpProtobuf,
    /// OTLP/HTTP with OTLP/JSON bodies (`http/json`).
    HttpJson,
    /// OTLP/gRPC, unary `TraceService/Export` (`grpc`).
    Grpc,
}

impl Protocol {
    /// The name `--protocol` and `OTEL_EXPORTER_OTLP_PROTOCOL` use.
    pub fn name(self) -> &'static str {
        match self {
            Protocol::HttpProtobuf => "http/protobuf",
            Protocol::HttpJson => "http/json",
            Protocol::Grpc => "grpc",
        }
    }

    /// Parses a name (as the OTel SDKs spell them).
    pub fn parse(s: &str) -> Option<Protocol> {
        match s.trim().to_ascii_lowercase().as_str() {
            "http/protobuf" | "http" | "protobuf" => Some(Protocol::HttpProtobuf),
            "http/json" | "json" => Some(Protocol::HttpJson),
            "grpc" => Some(Protocol::Grpc),
            _ => None,
        }
    }

    /// Every protocol (shell completions, messages).
    pub const NAMES: [&'static str; 3] = ["http/protobuf", "http/json", "grpc"];
}

/// Where and how to send.
#[derive(Debug, Clone)]
pub struct Target {
    /// The endpoint.
    pub uri: Uri,
    /// The transport.
    pub protocol: Protocol,
    /// Headers (HTTP) or metadata (gRPC) sent with every request: auth, user agent, custom;
    /// for HTTP also content type and encoding.
    pub headers: HeaderMap,
    /// Use HTTP/2 (h2 over TLS by ALPN, h2c with prior knowledge over plain TCP). Always with gRPC.
    pub http2: bool,
    /// Skip certificate verification.
    pub insecure: bool,
    /// Deadline of one exchange (sending and the answer); connecting (TCP, TLS) has a deadline
    /// of the same length of its own.
    pub timeout: Duration,
    /// Retries per request.
    pub retries: u32,
    /// Body compression (HTTP: prepared ahead, sent with `Content-Encoding`; gRPC: tonic
    /// compresses each message, `grpc-encoding`).
    pub compression: super::prepare::Compression,
    /// Connections.
    pub connections: usize,
}

/// The body type of HTTP requests.
pub type ReqBody = http_body_util::Full<super::body::Body>;

/// A connection a worker holds.
pub enum Conn {
    /// HTTP/1.1 (hand-written, [`super::h1`]): read and written by the worker itself — no
    /// wake-ups between tasks or threads per request.
    H1(super::h1::Conn),
    /// HTTP/2 (h2, h2c): multiplexed; its I/O runs in a task of its own.
    H2(http2::SendRequest<ReqBody>),
    /// gRPC: an HTTP/2 connection tonic's client sends on.
    Grpc(GrpcChannel),
}

/// An HTTP/2 connection as the tower service tonic's client sends gRPC requests through (our
/// connector and TLS, not tonic's transport).
#[derive(Clone)]
pub struct GrpcChannel(pub http2::SendRequest<tonic::body::Body>);

impl tower_service::Service<hyper::Request<tonic::body::Body>> for GrpcChannel {
    type Response = hyper::Response<hyper::body::Incoming>;
    type Error = hyper::Error;
    type Future = std::pin::Pin<Box<dyn std::future::Future<Output = hyper::Result<Self::Response>> + Send>>;

    fn poll_ready(&mut self, cx: &mut std::task::Context<'_>) -> std::task::Poll<hyper::Result<()>> {
        self.0.poll_ready(cx)
    }

    fn call(&mut self, req: hyper::Request<tonic::body::Body>) -> Self::Future {
        Box::pin(self.0.send_request(req))
    }
}

impl Conn {
    /// Whether a request can still be sent on it.
    pub fn is_usable(&self) -> bool {
        match self {
            Conn::H1(c) => c.is_usable(),
            Conn::H2(s) => !s.is_closed(),
            Conn::Grpc(s) => !s.0.is_closed(),
        }
    }

    /// Resolves when an idle connection ends (the server closed it, or it broke): HTTP/1.1's
    /// socket is read here while the worker waits; an HTTP/2 connection is watched by its
    /// task, so this is pending.
    pub async fn closed(&mut self) {
        match self {
            Conn::H1(c) => c.closed().await,
            _ => std::future::pending().await,
        }
    }
}

/// A failure without an HTTP status: its class and message.
pub type Failure = (ErrorClass, String);

type Https = hyper_rustls::HttpsConnector<hyper_util::client::legacy::connect::HttpConnector>;

/// Opens connections to the target.
#[derive(Clone)]
pub struct Connector {
    https: Https,
    target: Arc<Target>,
}

/// Accepts any certificate (`--insecure`).
#[derive(Debug)]
struct NoVerify(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for NoVerify {
    fn verify_server_cert(
        &self,
        _: &rustls::pki_types::CertificateDer<'_>,
        _: &[rustls::pki_types::CertificateDer<'_>],
        _: &rustls::pki_types::ServerName<'_>,
        _: &[u8],
        _: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        m: &[u8],
        c: &rustls::pki_types::CertificateDer<'_>,
        d: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(m, c, d, &self.0.signature_verification_algorithms)
    }
    fn verify_tls13_signature(
        &self,
        m: &[u8],
        c: &rustls::pki_types::CertificateDer<'_>,
        d: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(m, c, d, &self.0.signature_verification_algorithms)
    }
    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

impl Connector {
    /// A connector for `target`: TLS with the webpki roots (or none checked with
    /// `--insecure`), ALPN h2 when HTTP/2 or gRPC, TCP_NODELAY, `--timeout` to connect.
    pub fn new(target: Arc<Target>) -> Connector {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .expect("ring supports TLS 1.2/1.3");
        let tls = if target.insecure {
            builder.dangerous().with_custom_certificate_verifier(Arc::new(NoVerify(provider))).with_no_client_auth()
        } else {
            let roots = rustls::RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() };
            builder.with_root_certificates(roots).with_no_client_auth()
        };
        let mut http = hyper_util::client::legacy::connect::HttpConnector::new();
        http.set_nodelay(true);
        http.enforce_http(false);
        http.set_connect_timeout(Some(target.timeout));
        let b = hyper_rustls::HttpsConnectorBuilder::new().with_tls_config(tls).https_or_http();
        let https = if target.http2 || target.protocol == Protocol::Grpc {
            b.enable_http2().wrap_connector(http)
        } else {
            b.enable_http1().wrap_connector(http)
        };
        Connector { https, target }
    }

    /// Opens a connection — TCP, TLS, the HTTP handshake — by `deadline` (the attempt's:
    /// `--timeout` covers connecting and the exchange together).
    pub async fn connect(&self, deadline: tokio::time::Instant) -> Result<Conn, Failure> {
        let t = &self.target;
        let timed_out = || (ErrorClass::ConnectTimeout, format!("no connection within {:?}", t.timeout));
        tokio::time::timeout_at(deadline, self.open()).await.map_err(|_| timed_out())?
    }

    async fn open(&self) -> Result<Conn, Failure> {
        let t = &self.target;
        let mut https = self.https.clone();
        let io = https
            .call(t.uri.clone())
            .await
            .map_err(|e| (classify::connect(e.as_ref()), classify::message(e.as_ref())))?;
        let failed = |e: hyper::Error| (classify::connect(&e), classify::message(&e));
        let conn = match (t.protocol, t.http2) {
            (Protocol::Grpc, _) => {
                let (send, conn) = http2::handshake(TokioExecutor::new(), io).await.map_err(failed)?;
                tokio::spawn(conn);
                Conn::Grpc(GrpcChannel(send))
            }
            (_, true) => {
                let (send, conn) = http2::handshake(TokioExecutor::new(), io).await.map_err(failed)?;
                tokio::spawn(conn);
                Conn::H2(send)
            }
            (_, false) => Conn::H1(super::h1::Conn::new(Box::new(hyper_util::rt::TokioIo::new(io)))),
        };
        log::debug!("connection opened to {}", t.uri.authority().map_or("?", |a| a.host()));
        Ok(conn)
    }
}
