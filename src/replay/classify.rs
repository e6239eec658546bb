//! Why a connection or an exchange failed, from the error chains of hyper, hyper-util's
//! connector, rustls and the OS: refused, DNS, the TLS certificate (untrusted, wrong name,
//! expired) or protocol, timeouts, resets, a response cut short.

use std::error::Error;

use crate::stats::ErrorClass;

/// Every error in `e`'s chain, `e` first. An `io::Error` wrapping another error is looked
/// into: its `source()` skips the wrapped error itself (hyper-rustls wraps tokio-rustls's
/// `io::Error`, which wraps the `rustls::Error`, in one more `io::Error`).
fn chain<'a>(e: &'a (dyn Error + 'static)) -> impl Iterator<Item = &'a (dyn Error + 'static)> {
    std::iter::successors(Some(e), |&e: &&'a (dyn Error + 'static)| {
        match e.downcast_ref::<std::io::Error>().and_then(|io| io.get_ref()) {
            Some(inner) => Some(inner as &(dyn Error + 'static)),
            None => e.source(),
        }
    })
}

/// The chain as one line, each cause once (`dns error: failed to lookup address …`).
pub fn message(e: &(dyn Error + 'static)) -> String {
    let mut out: Vec<String> = Vec::new();
    for c in chain(e) {
        let s = c.to_string();
        // Wrappers often repeat their cause's text; keep only what adds something.
        if !out.last().is_some_and(|prev| prev.contains(&s)) {
            out.push(s);
        }
    }
    out.join(": ")
}

/// The class of a TLS error.
fn tls(e: &rustls::Error) -> ErrorClass {
    use rustls::CertificateError as C;
    match e {
        rustls::Error::InvalidCertificate(c) => match c {
            C::UnknownIssuer | C::BadSignature | C::InvalidPurpose | C::ApplicationVerificationFailure => {
                ErrorClass::TlsUntrusted
            }
            C::NotValidForName | C::NotValidForNameContext { .. } => ErrorClass::TlsName,
            C::Expired | C::ExpiredContext { .. } | C::NotValidYet | C::NotValidYetContext { .. } => {
                ErrorClass::TlsExpired
            }
            _ => ErrorClass::TlsUntrusted,
        },
        _ => ErrorClass::TlsProtocol,
    }
}

/// The class of an OS-level I/O error kind, if it says something specific.
fn io(e: &std::io::Error) -> Option<ErrorClass> {
    use std::io::ErrorKind as K;
    Some(match e.kind() {
        K::ConnectionRefused => ErrorClass::Refused,
        K::ConnectionReset | K::ConnectionAborted | K::BrokenPipe => ErrorClass::Reset,
        K::TimedOut => ErrorClass::ConnectTimeout,
        K::UnexpectedEof => ErrorClass::Closed,
        _ => return None,
    })
}

/// Classifies a failure to connect (TCP, DNS, TLS, the HTTP handshake).
pub fn connect(e: &(dyn Error + 'static)) -> ErrorClass {
    for c in chain(e) {
        if let Some(t) = c.downcast_ref::<rustls::Error>() {
            return tls(t);
        }
        if let Some(k) = c.downcast_ref::<std::io::Error>().and_then(io) {
            return if k == ErrorClass::Closed { ErrorClass::Connect } else { k };
        }
        // hyper-util's connector says "dns error" around the resolver's own message.
        if c.to_string().starts_with("dns error") {
            return ErrorClass::Dns;
        }
    }
    ErrorClass::Connect
}

/// Classifies a failed exchange on an open connection.
pub fn exchange(e: &hyper::Error) -> ErrorClass {
    if e.is_timeout() {
        return ErrorClass::Timeout;
    }
    for c in chain(e) {
        if let Some(k) = c.downcast_ref::<std::io::Error>().and_then(io) {
            return if k == ErrorClass::ConnectTimeout { ErrorClass::Timeout } else { k };
        }
    }
    if e.is_incomplete_message() || e.is_canceled() || e.is_closed() {
        return ErrorClass::Closed;
    }
    ErrorClass::Io
}

/// Classifies an I/O error of an exchange on an open HTTP/1.1 connection: a malformed
/// response is a bad response.
pub fn io_exchange(e: &std::io::Error) -> ErrorClass {
    // tokio-rustls reports a TLS failure mid-exchange (an alert, a record that does not
    // decrypt) as InvalidData around the rustls error: that is TLS, not the server's answer.
    if e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()).is_some() {
        return ErrorClass::TlsProtocol;
    }
    match io(e) {
        Some(ErrorClass::ConnectTimeout) => ErrorClass::Timeout,
        Some(k) => k,
        None if e.kind() == std::io::ErrorKind::InvalidData => ErrorClass::BadResponse,
        None => ErrorClass::Io,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn os_and_tls_errors_get_their_class() {
        let refused = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        assert_eq!(connect(&refused), ErrorClass::Refused);
        let reset = std::io::Error::from(std::io::ErrorKind::ConnectionReset);
        assert_eq!(connect(&reset), ErrorClass::Reset);
        let untrusted = rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer);
        assert_eq!(connect(&std::io::Error::new(std::io::ErrorKind::InvalidData, untrusted)), ErrorClass::TlsUntrusted);
        let expired = rustls::Error::InvalidCertificate(rustls::CertificateError::Expired);
        assert_eq!(connect(&expired), ErrorClass::TlsExpired);
        let name = rustls::Error::InvalidCertificate(rustls::CertificateError::NotValidForName);
        assert_eq!(connect(&name), ErrorClass::TlsName);
        assert_eq!(connect(&rustls::Error::HandshakeNotComplete), ErrorClass::TlsProtocol);
        let dns = std::io::Error::other("dns error: failed to lookup address information");
        assert_eq!(connect(&dns), ErrorClass::Dns);
    }

    #[test]
    fn exchange_errors_of_tls_and_of_a_malformed_answer_differ() {
        let alert = std::io::Error::new(std::io::ErrorKind::InvalidData, rustls::Error::DecryptError);
        assert_eq!(io_exchange(&alert), ErrorClass::TlsProtocol);
        let bad = std::io::Error::new(std::io::ErrorKind::InvalidData, "malformed response: bad chunk size");
        assert_eq!(io_exchange(&bad), ErrorClass::BadResponse);
        assert_eq!(io_exchange(&std::io::Error::from(std::io::ErrorKind::ConnectionReset)), ErrorClass::Reset);
        assert_eq!(io_exchange(&std::io::Error::from(std::io::ErrorKind::UnexpectedEof)), ErrorClass::Closed);
    }

    #[test]
    fn messages_name_each_cause_once() {
        #[derive(Debug)]
        struct Outer(std::io::Error);
        impl std::fmt::Display for Outer {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, "client error (Connect)")
            }
        }
        impl Error for Outer {
            fn source(&self) -> Option<&(dyn Error + 'static)> {
                Some(&self.0)
            }
        }
        let e = Outer(std::io::Error::from(std::io::ErrorKind::ConnectionRefused));
        assert_eq!(message(&e), "client error (Connect): connection refused");
    }
}
