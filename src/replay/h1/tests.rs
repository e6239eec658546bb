use super::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};

fn headers() -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert("content-type", "application/x-protobuf".parse().unwrap());
    h.insert("content-length", "999".parse().unwrap());
    h.insert("x-api-key", "k".parse().unwrap());
    h
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
}

fn body(n: usize) -> Body {
    Body::from_pieces(vec![Bytes::from(vec![b'a'; n / 2]), Bytes::from(vec![b'b'; n - n / 2])])
}

/// Reads one request of a `len`-byte body from `s` and returns its bytes.
async fn read_request(s: &mut DuplexStream, head: &Head, len: usize) -> Vec<u8> {
    let mut got = vec![0; head.with_length(len).len() + len];
    s.read_exact(&mut got).await.unwrap();
    got
}

#[test]
fn the_head_is_built_once_and_the_user_s_framing_headers_are_left_out() {
    let h = Head::new("/v1/traces?x=1", "example.com:4318", &headers());
    assert_eq!(
        String::from_utf8(h.with_length(12).to_vec()).unwrap(),
        "POST /v1/traces?x=1 HTTP/1.1\r\nhost: example.com:4318\r\ncontent-type: application/x-protobuf\r\n\
         x-api-key: k\r\ncontent-length: 12\r\n\r\n"
    );
    let mut own = HeaderMap::new();
    own.insert(HOST, "other".parse().unwrap());
    assert_eq!(
        Head::new("/", "a:1", &own).with_length(0),
        &b"POST / HTTP/1.1\r\nhost: other\r\ncontent-length: 0\r\n\r\n"[..]
    );
    assert!(Head::new("/", "a:1", &own).with_length(1234567890).ends_with(b"content-length: 1234567890\r\n\r\n"));
}

#[test]
fn requests_go_out_byte_for_byte_and_answers_of_every_framing_are_read() {
    rt().block_on(async {
        let (client, mut server) = tokio::io::duplex(1 << 20);
        let head = Head::new("/v1/traces", "h:1", &headers());
        let mut c = Conn::new(Box::new(client));
        let answers: [(&[u8], u16, &[u8]); 5] = [
            (b"HTTP/1.1 200 OK\r\nContent-Type: application/x-protobuf\r\nContent-Length: 3\r\n\r\nabc", 200, b"abc"),
            (
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r\n1;x=y\r\nc\r\n0\r\nT: v\r\n\r\n",
                200,
                b"abc",
            ),
            (b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n", 204, b""),
            (b"HTTP/1.1 429 Too Many\r\nRetry-After: 7\r\ncontent-length: 0\r\n\r\n", 429, b""),
            (b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n", 200, b""),
        ];
        for (i, (answer, status, want)) in answers.into_iter().enumerate() {
            let b = body(1000 + i);
            let server_side = async {
                let got = read_request(&mut server, &head, b.len()).await;
                server.write_all(answer).await.unwrap();
                got
            };
            let (r, got) = tokio::join!(c.exchange(&head, &b, 1024), server_side);
            let expect = head.with_length(b.len());
            let mut expect = expect.to_vec();
            expect.extend_from_slice(&b.to_vec());
            assert_eq!(got, expect, "answer {i}: the request's bytes");
            let r = r.unwrap();
            assert_eq!(r.status, status, "answer {i}");
            assert!(matches!(&r.body, ReadBody::Whole(x) if &x[..] == want), "answer {i}: {:?}", r.body);
            assert!(c.is_usable(), "answer {i}: kept alive");
            if status == 429 {
                assert_eq!(r.retry_after.as_deref(), Some("7"));
            }
        }
    });
}

/// One exchange against a server that reads the request, answers `answer`, then closes
/// (when `close`).
fn one(answer: &'static [u8], close: bool, max: usize) -> (Result<Response, Failed>, bool) {
    rt().block_on(async {
        let (client, mut server) = tokio::io::duplex(1 << 20);
        let head = Head::new("/", "h:1", &HeaderMap::new());
        let mut c = Conn::new(Box::new(client));
        let b = body(10);
        let server_side = async move {
            read_request(&mut server, &head.clone(), 10).await;
            server.write_all(answer).await.unwrap();
            if close {
                drop(server);
            } else {
                std::mem::forget(server);
            }
        };
        let head = Head::new("/", "h:1", &HeaderMap::new());
        let (r, ()) = tokio::join!(c.exchange(&head, &b, max), server_side);
        (r, c.is_usable())
    })
}

#[test]
fn closing_framings_and_limits_decide_whether_the_connection_is_kept() {
    let (r, usable) = one(b"HTTP/1.1 200 OK\r\nConnection: close\r\ncontent-length: 1\r\n\r\nx", true, 64);
    assert!(matches!(r.unwrap().body, ReadBody::Whole(_)) && !usable, "Connection: close");
    let (r, usable) = one(b"HTTP/1.0 200 OK\r\n\r\nuntil the end", true, 64);
    assert!(matches!(r.unwrap().body, ReadBody::Whole(b) if &b[..] == b"until the end") && !usable, "HTTP/1.0");
    let (r, usable) = one(b"HTTP/1.1 429 Slow\r\nconnection: x\r\n\r\n12345", true, 4);
    assert!(
        matches!(r.unwrap().body, ReadBody::TooLarge) && !usable,
        "read to the close: what came with the head counts"
    );
    let (r, usable) = one(b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n", false, 64);
    assert!(matches!(r.unwrap().body, ReadBody::TooLarge) && !usable, "over the limit: not read");
    let (r, usable) = one(b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nabc", true, 64);
    assert!(matches!(r.unwrap().body, ReadBody::Cut(m) if m.contains("after 3 of 10")) && !usable, "cut short");
    let (r, usable) = one(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n", true, 64);
    assert!(matches!(r.unwrap().body, ReadBody::Malformed(m) if m.contains("chunk size")) && !usable, "bad chunk");
    let (r, _) = one(b"SMTP ready\r\n\r\n", true, 64);
    assert!(matches!(r, Err(Failed::Io(e)) if e.kind() == io::ErrorKind::InvalidData), "not HTTP");
    let (r, _) = one(b"HTTP/1.1 200 OK\r\ncontent-length: 1\r\ncontent-length: 2\r\n\r\nx", true, 64);
    assert!(matches!(r, Err(Failed::Io(e)) if e.to_string().contains("two values")), "two lengths");
    let (r, _) = one(b"", true, 64);
    assert!(matches!(r, Err(Failed::Io(e)) if e.kind() == io::ErrorKind::UnexpectedEof), "closed unanswered");
}

#[test]
fn an_early_answer_is_read_while_the_body_is_still_going_out() {
    rt().block_on(async {
        // A 4 KiB pipe and a 1 MiB body: the server answers after reading only the head.
        let (client, mut server) = tokio::io::duplex(4096);
        let head = Head::new("/", "h:1", &HeaderMap::new());
        let mut c = Conn::new(Box::new(client));
        let b = body(1 << 20);
        let server_side = async move {
            let mut first = [0u8; 64];
            server.read_exact(&mut first).await.unwrap();
            server
                .write_all(b"HTTP/1.1 413 Too Large\r\ncontent-length: 4\r\nconnection: close\r\n\r\nbig!")
                .await
                .unwrap();
            server
        };
        let (r, _server) = tokio::join!(c.exchange(&head, &b, 64), server_side);
        let r = r.unwrap();
        assert_eq!(r.status, 413);
        assert!(matches!(r.body, ReadBody::Whole(b) if &b[..] == b"big!"));
        assert!(!c.is_usable(), "the body was not all sent");
    });
}

/// A connection that has carried one request (answered 200, kept alive), with the server's end
/// of it and the head used.
async fn kept_alive() -> (Conn, DuplexStream, Head) {
    let (client, mut server) = tokio::io::duplex(1 << 16);
    let head = Head::new("/", "h:1", &HeaderMap::new());
    let mut c = Conn::new(Box::new(client));
    let b = body(10);
    let answer = async {
        read_request(&mut server, &head, 10).await;
        server.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n").await.unwrap();
    };
    let (r, ()) = tokio::join!(c.exchange(&head, &b, 64), answer);
    assert_eq!(r.unwrap().status, 200);
    assert!(c.is_usable());
    (c, server, head)
}

#[test]
fn a_kept_alive_connection_closed_or_talking_before_the_request_is_not_sent() {
    for unasked in [&b""[..], b"HTTP/1.1 408 Request Timeout\r\ncontent-length: 0\r\n\r\n"] {
        rt().block_on(async {
            let (mut c, mut server, head) = kept_alive().await;
            server.write_all(unasked).await.unwrap();
            drop(server);
            let r = c.exchange(&head, &body(10), 64).await;
            assert!(matches!(r, Err(Failed::NotSent)), "{unasked:?}: {r:?}");
            assert!(!c.is_usable());
        });
    }
}

#[test]
fn an_idle_connection_the_server_closes_is_seen_closed() {
    rt().block_on(async {
        let (client, server) = tokio::io::duplex(1024);
        let mut c = Conn::new(Box::new(client));
        drop(server);
        tokio::time::timeout(std::time::Duration::from_secs(5), c.closed()).await.expect("seen at once");
        assert!(!c.is_usable());
    });
}

#[test]
fn an_unasked_answer_on_a_kept_alive_connection_is_never_taken_for_the_next_one() {
    rt().block_on(async {
        let (mut c, mut server, head) = kept_alive().await;
        // The server says 408 and keeps the connection open: writing would succeed.
        server.write_all(b"HTTP/1.1 408 Request Timeout\r\ncontent-length: 0\r\n\r\n").await.unwrap();
        let r = c.exchange(&head, &body(10), 64).await;
        assert!(matches!(r, Err(Failed::NotSent)), "{r:?}");
        let mut nothing = [0u8; 1];
        let read = tokio::time::timeout(std::time::Duration::from_millis(50), server.read(&mut nothing)).await;
        assert!(read.is_err(), "no byte of the request went out");
    });
}

#[test]
fn a_fresh_connection_closed_unanswered_is_a_failure_not_a_resend() {
    let (r, usable) = one(b"", true, 64);
    assert!(matches!(r, Err(Failed::Io(e)) if e.kind() == io::ErrorKind::UnexpectedEof), "sent, then closed");
    assert!(!usable);
}

#[test]
fn switching_protocols_and_unknown_codings_are_never_kept() {
    let (r, usable) = one(b"HTTP/1.1 101 Switching Protocols\r\nupgrade: h2c\r\n\r\n", false, 64);
    assert_eq!(r.unwrap().status, 101);
    assert!(!usable, "a switched connection is not HTTP/1.1 any more");
    let (r, usable) =
        one(b"HTTP/1.1 200 OK\r\ntransfer-encoding: gzip\r\ncontent-length: 2\r\n\r\nread to the close", true, 64);
    assert!(matches!(r.unwrap().body, ReadBody::Whole(b) if &b[..] == b"read to the close") && !usable);
    let (r, _) = one(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nffffffffffffffff\r\n", true, 64);
    assert!(matches!(r.unwrap().body, ReadBody::TooLarge), "a 2^64 - 1 chunk is too large, not an overflow");
}

#[test]
fn a_head_trickled_a_byte_at_a_time_is_parsed_once_complete() {
    assert!(!may_end_head(b"HTTP/1.1 200 OK\r\nA: b\r\n", 0));
    assert!(may_end_head(b"HTTP/1.1 200 OK\r\n\r\n", 17), "an end split across reads is found");
    assert!(may_end_head(b"HTTP/1.0 200 OK\n\n", 0));
    assert!(!may_end_head(b"HTTP/1.1 200 OK\r\nA: b\r\n\r", 0), "a bare CR after a line end is not the end");
    assert!(may_end_head(b"HTTP/1.1 200 OK\r\nA: b\r\n\r\nbody", 0));
    assert!(!may_end_head(b"HTTP/1.1 200 OK\r\n\r\nA: b\r\n", 22), "only past `from` (less three bytes)");
    rt().block_on(async {
        let (client, mut server) = tokio::io::duplex(1 << 16);
        let head = Head::new("/", "h:1", &HeaderMap::new());
        let mut c = Conn::new(Box::new(client));
        let b = body(10);
        let trickle = async {
            read_request(&mut server, &head, 10).await;
            for byte in b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok" {
                server.write_all(&[*byte]).await.unwrap();
                tokio::task::yield_now().await;
            }
        };
        let (r, ()) = tokio::join!(c.exchange(&head, &b, 64), trickle);
        assert!(matches!(r.unwrap().body, ReadBody::Whole(b) if &b[..] == b"ok"));
        assert!(c.is_usable());
    });
}
