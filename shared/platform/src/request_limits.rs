//! Requests refused before any route reads them get the JSON error body every other refusal
//! carries: a URI longer than [`MAX_URI_BYTES`] (414 `uri_too_long`, from [`limit_uri`]), and
//! the request heads hyper refuses itself, which it answers with an empty body that a client
//! cannot tell from a proxy's: a URI over its own 64 KiB bound (414), a head over its read
//! buffer (431 `headers_too_large`) or one that is not HTTP (400 `malformed_request`).
//! [`JsonRefusals`] wraps each connection and gives those answers the JSON body.

use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use axum::extract::Request;
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::json;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::http::ApiError;

/// The longest path and query a request may have: an admin URL with every filter at its
/// longest fits four times over, and common servers and proxies stop at this size too.
pub const MAX_URI_BYTES: usize = 8 * 1024;

const URI_TOO_LONG: &str = "the request's URI is longer than 8192 bytes";

/// Middleware: refuses a URI over [`MAX_URI_BYTES`] before routing.
pub async fn limit_uri(request: Request, next: Next) -> Response {
    let length = request
        .uri()
        .path_and_query()
        .map_or(0, |target| target.as_str().len());
    if length > MAX_URI_BYTES {
        return ApiError::new(StatusCode::URI_TOO_LONG, "uri_too_long", URI_TOO_LONG)
            .into_response();
    }
    next.run(request).await
}

/// The answers hyper writes by itself for a head it cannot read, each with an empty body, and
/// the error code and message they get instead.
const AUTOMATIC: [(&str, &str, &str); 3] = [
    (
        "HTTP/1.1 400 Bad Request",
        "malformed_request",
        "the request's head is not well-formed HTTP",
    ),
    ("HTTP/1.1 414 URI Too Long", "uri_too_long", URI_TOO_LONG),
    (
        "HTTP/1.1 431 Request Header Fields Too Large",
        "headers_too_large",
        "the request's head is larger than this service reads",
    ),
];

/// The JSON answer replacing `written`, if `written` is one of hyper's automatic answers: one of
/// those status lines, `connection: close`, `content-length: 0` and nothing after the head.
/// Every answer of the routes carries a JSON body, so an empty one with these statuses can only
/// be hyper's.
fn rewrite(written: &[u8]) -> Option<Vec<u8>> {
    let head = std::str::from_utf8(written)
        .ok()?
        .strip_suffix("\r\n\r\n")?;
    let mut lines = head.split("\r\n");
    let status_line = lines.next()?;
    let (_, code, message) = AUTOMATIC.iter().find(|(line, ..)| *line == status_line)?;
    let headers: Vec<&str> = lines.collect();
    let has = |wanted: &str| headers.iter().any(|h| h.eq_ignore_ascii_case(wanted));
    if !has("content-length: 0") || !has("connection: close") {
        return None;
    }
    let body = json!({ "error": code, "message": message }).to_string();
    let mut answer = String::from(status_line);
    for header in headers {
        answer.push_str("\r\n");
        if header.eq_ignore_ascii_case("content-length: 0") {
            answer.push_str("content-type: application/json\r\n");
            answer.push_str(&format!("content-length: {}", body.len()));
        } else {
            answer.push_str(header);
        }
    }
    answer.push_str("\r\n\r\n");
    answer.push_str(&body);
    Some(answer.into_bytes())
}

/// A connection whose automatic refusals from hyper get the JSON body (see [`rewrite`]).
/// It declines vectored writes, so hyper hands it each answer's head in one buffer.
pub struct JsonRefusals<S> {
    inner: S,
    /// A rewritten answer still to be written, and how much of it was.
    pending: Vec<u8>,
    written: usize,
}

impl<S> JsonRefusals<S> {
    pub fn new(inner: S) -> Self {
        Self {
            inner,
            pending: Vec::new(),
            written: 0,
        }
    }
}

impl<S: AsyncWrite + Unpin> JsonRefusals<S> {
    /// Writes what is left of a rewritten answer.
    fn drain(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while self.written < self.pending.len() {
            let n =
                ready!(Pin::new(&mut self.inner).poll_write(cx, &self.pending[self.written..]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.written += n;
        }
        self.pending.clear();
        self.written = 0;
        Poll::Ready(Ok(()))
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for JsonRefusals<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for JsonRefusals<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        ready!(self.drain(cx))?;
        if let Some(answer) = rewrite(buf) {
            self.pending = answer;
            // The caller's bytes are taken; the flush that follows writes what is left.
            if let Poll::Ready(Err(error)) = self.drain(cx) {
                return Poll::Ready(Err(error));
            }
            return Poll::Ready(Ok(buf.len()));
        }
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.drain(cx))?;
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.drain(cx))?;
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn is_write_vectored(&self) -> bool {
        false
    }
}

/// A listener whose connections are [`JsonRefusals`]: e.g.
/// `JsonRefusalListener(http::no_delay(listener))`.
pub struct JsonRefusalListener<L>(pub L);

impl<L> axum::serve::Listener for JsonRefusalListener<L>
where
    L: axum::serve::Listener,
{
    type Io = JsonRefusals<L::Io>;
    type Addr = L::Addr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        let (io, address) = self.0.accept().await;
        (JsonRefusals::new(io), address)
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        self.0.local_addr()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A socket taking at most `chunk` bytes a write.
    struct Slow {
        chunk: usize,
        out: Vec<u8>,
    }

    impl AsyncWrite for Slow {
        fn poll_write(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
            buf: &[u8],
        ) -> Poll<io::Result<usize>> {
            let n = buf.len().min(self.chunk);
            self.out.extend_from_slice(&buf[..n]);
            Poll::Ready(Ok(n))
        }

        fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }

        fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }
    }

    /// Writes `writes` as hyper would (each until taken), flushes, returns what reached the
    /// socket.
    fn through(chunk: usize, writes: &[&[u8]]) -> String {
        let mut io = JsonRefusals::new(Slow {
            chunk,
            out: Vec::new(),
        });
        let waker = std::task::Waker::noop();
        let mut cx = Context::from_waker(waker);
        for write in writes {
            let mut rest = *write;
            while !rest.is_empty() {
                match Pin::new(&mut io).poll_write(&mut cx, rest) {
                    Poll::Ready(Ok(n)) => rest = &rest[n..],
                    other => panic!("{other:?}"),
                }
            }
        }
        assert!(Pin::new(&mut io).poll_flush(&mut cx).is_ready());
        String::from_utf8(io.inner.out).expect("utf-8")
    }

    const DATE: &str = "date: Mon, 07 Dec 2026 13:55:36 GMT";

    #[test]
    fn hyper_s_empty_refusals_get_the_json_body() {
        for (status_line, code, _) in AUTOMATIC {
            let automatic = format!(
                "{status_line}\r\nconnection: close\r\ncontent-length: 0\r\n{DATE}\r\n\r\n"
            );
            for chunk in [1, 7, 4096] {
                let sent = through(chunk, &[automatic.as_bytes()]);
                let (head, body) = sent.split_once("\r\n\r\n").expect("a head");
                assert!(head.starts_with(status_line), "{head}");
                assert!(head.contains("content-type: application/json"), "{head}");
                assert!(
                    head.contains(&format!("content-length: {}", body.len())),
                    "{head}"
                );
                assert!(head.contains(DATE) && head.contains("connection: close"));
                let body: serde_json::Value = serde_json::from_str(body).expect("json");
                assert_eq!(body["error"], code);
            }
        }
    }

    #[test]
    fn every_other_answer_passes_unchanged() {
        let answers = [
            // A route's own refusal: it has a body.
            format!("HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\ncontent-length: 2\r\nconnection: close\r\n{DATE}\r\n\r\n{{}}"),
            // Kept alive: not a parse error's answer.
            format!("HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n{DATE}\r\n\r\n"),
            format!("HTTP/1.1 204 No Content\r\nconnection: close\r\n{DATE}\r\n\r\n"),
            format!("HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n{DATE}\r\n\r\n"),
        ];
        for answer in answers {
            assert_eq!(through(4096, &[answer.as_bytes()]), answer);
            assert_eq!(through(5, &[answer.as_bytes()]), answer);
        }
        // hyper hands over each head whole; one handed over in pieces is left as it is.
        let automatic = format!(
            "HTTP/1.1 414 URI Too Long\r\nconnection: close\r\ncontent-length: 0\r\n{DATE}\r\n\r\n"
        );
        let (first, second) = automatic.as_bytes().split_at(20);
        assert_eq!(through(4096, &[first, second]), automatic);
    }
}
