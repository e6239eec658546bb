//! HTTP/2 (h2c, prior knowledge) test servers built on hyper's server: the framing is hyper's,
//! the misbehaviour (when to send GOAWAY, when to drop the connection) is ours.

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::sync::Notify;

use super::{Running, spawn};

/// How a connection ends after it has answered its share of requests.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum End {
    /// Graceful: GOAWAY, in-flight streams finish, then the connection closes.
    GoAway,
    /// Abrupt: the TCP connection is dropped without GOAWAY (a dead connection).
    Drop,
}

/// Answers 200, `delay` after reading each request (a server's processing time, so that
/// several requests are in flight when a connection ends), to the first `per_conn` requests of
/// each connection, then ends it as `end`
/// says: GOAWAY once the last of them is being answered (it still completes), or a drop once
/// they are answered and one more request has arrived (that one, and any others past the share,
/// are counted in `requests` and never answered).
pub fn ending_after(per_conn: u64, end: End, delay: Duration) -> Running {
    spawn(move |stream, counts| async move {
        let arrived = Arc::new(AtomicU64::new(0));
        let answered = Arc::new(AtomicU64::new(0));
        let all_answered = Arc::new(Notify::new());
        let enough = Arc::new(Notify::new());
        let (a, d, all, e, c) =
            (arrived.clone(), answered.clone(), all_answered.clone(), enough.clone(), counts.clone());
        let svc = hyper::service::service_fn(move |req: Request<Incoming>| {
            let (a, d, all, e, c) = (a.clone(), d.clone(), all.clone(), e.clone(), c.clone());
            async move {
                c.requests.fetch_add(1, Ordering::SeqCst);
                let k = a.fetch_add(1, Ordering::SeqCst) + 1;
                if end == End::Drop && k > per_conn {
                    // Never answered: once the connection's share is answered, it is dropped
                    // under this request (and any others past the share).
                    let done = all.notified();
                    if d.load(Ordering::SeqCst) < per_conn {
                        done.await;
                    }
                    e.notify_one();
                    std::future::pending::<()>().await;
                }
                let _ = req.into_body().collect().await;
                tokio::time::sleep(delay).await;
                c.answer(200);
                if d.fetch_add(1, Ordering::SeqCst) + 1 == per_conn {
                    all.notify_waiters();
                }
                if end == End::GoAway && k == per_conn {
                    e.notify_one();
                }
                let resp = Response::builder()
                    .header("content-type", "application/x-protobuf")
                    .body(Full::new(Bytes::new()))
                    .expect("a valid response");
                Ok::<_, Infallible>(resp)
            }
        });
        let conn =
            hyper::server::conn::http2::Builder::new(TokioExecutor::new()).serve_connection(TokioIo::new(stream), svc);
        tokio::pin!(conn);
        tokio::select! {
            _ = conn.as_mut() => return,
            () = enough.notified() => {}
        }
        match end {
            End::GoAway => {
                conn.as_mut().graceful_shutdown();
                let _ = conn.await;
            }
            // Dropping the connection future closes the socket with no GOAWAY; streams still
            // open die with it (their requests were counted, their answers were not sent).
            End::Drop => {}
        }
    })
}
