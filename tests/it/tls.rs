//! TLS: replay verifies certificates by default; `--insecure` skips verification and warns.

use std::net::SocketAddr;
use std::sync::Arc;

use http_body_util::Full;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use crate::replay::{corpus, replay};

/// An HTTPS endpoint answering 200 to everything, with the self-signed fixture certificate.
fn https_server() -> SocketAddr {
    https_server_with(None)
}

/// The same endpoint; with `slow`, each TLS handshake starts that late and no request is ever
/// answered.
fn https_server_with(slow: Option<std::time::Duration>) -> SocketAddr {
    let cert = CertificateDer::from_pem_file("fixtures/tls/cert.pem").unwrap();
    let key = PrivateKeyDer::from_pem_file("fixtures/tls/key.pem").unwrap();
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert], key)
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let std_listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    std_listener.set_nonblocking(true).unwrap();
    let addr = std_listener.local_addr().unwrap();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(std_listener).unwrap();
            loop {
                let (tcp, _) = listener.accept().await.unwrap();
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    if let Some(d) = slow {
                        tokio::time::sleep(d).await;
                    }
                    // A client that refuses the certificate ends the handshake: not an error here.
                    let Ok(tls) = acceptor.accept(tcp).await else { return };
                    if slow.is_some() {
                        // Hold the connection, never answer.
                        let mut tls = tls;
                        let mut buf = [0u8; 4096];
                        while tokio::io::AsyncReadExt::read(&mut tls, &mut buf).await.is_ok_and(|n| n > 0) {}
                        return;
                    }
                    let svc = service_fn(|_req| async {
                        Ok::<_, std::convert::Infallible>(hyper::Response::new(Full::new(bytes::Bytes::new())))
                    });
                    let _ = http1::Builder::new().serve_connection(TokioIo::new(tls), svc).await;
                });
            }
        });
    });
    addr
}

#[test]
fn certificates_are_verified_unless_insecure() {
    let dir = tempfile::tempdir().unwrap();
    let c = corpus(dir.path(), "6", &["--mix", "simple=1"]);
    let addr = https_server();
    let url = format!("https://localhost:{}/v1/traces", addr.port());

    let (o, r) = replay(dir.path(), &c, &url, &["--rate", "100", "--timeout", "2s", "-q"], &[]);
    assert_eq!(o.status.code(), Some(1), "no request succeeded: {}", crate::util::stderr(&o));
    assert_eq!(r["requests"]["ok"], 0, "a self-signed certificate is refused");
    let err = crate::util::stderr(&o);
    assert!(err.contains("TLS certificate not trusted"), "the hint names the certificate class: {err}");
    assert_eq!(r["errors"]["connection"], r["requests"]["scheduled"]);

    let (o, r) = replay(dir.path(), &c, &url, &["--rate", "100", "--insecure", "-q"], &[]);
    assert!(o.status.success(), "{}", crate::util::stderr(&o));
    assert_eq!(r["requests"]["ok"], r["requests"]["scheduled"], "--insecure accepts it");
    assert!(r["requests"]["ok"].as_u64().unwrap() > 0);
    let err = crate::util::stderr(&o);
    assert!(err.contains("warning: --insecure: TLS certificates are not verified"), "{err}");
}

#[test]
fn timeout_covers_connecting_and_the_exchange_together() {
    let dir = tempfile::tempdir().unwrap();
    let c = corpus(dir.path(), "1", &["--mix", "simple=1"]);
    // The TLS handshake takes 700 ms, then nothing answers: with --timeout 1s the attempt
    // ends 1 s after it began (it used to wait a whole --timeout more after connecting).
    let addr = https_server_with(Some(std::time::Duration::from_millis(700)));
    let url = format!("https://localhost:{}/v1/traces", addr.port());
    let args = ["--rate", "10", "--timeout", "1s", "--insecure", "--min-success", "0", "-q"];
    let (o, r) = replay(dir.path(), &c, &url, &args, &[]);
    assert!(o.status.success(), "{}", crate::util::stderr(&o));
    assert_eq!(r["errors"]["timeout"], 1, "{}", r["errors"]);
    let took = r["latency_us"]["uncorrected"]["max"].as_u64().unwrap();
    assert!((950_000..1_400_000).contains(&took), "the attempt took {took} µs: one --timeout, connecting included");
}
