//! Encodes an HTTP/1.1 response head: the status line, the handler's headers, and the framing,
//! `Connection` and `Date` headers this server is responsible for.

use http::header::{CONNECTION, CONTENT_LENGTH, DATE, TRANSFER_ENCODING};
use http::{HeaderMap, StatusCode};
use std::cell::RefCell;
use std::io::Write;
use std::time::{SystemTime, UNIX_EPOCH};

/// How the response body is delimited on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// The response carries no body (HEAD, 1xx, 204, 304); the handler's headers stand as they are.
    Bodyless,
    /// `Content-Length` of this many bytes.
    Length(u64),
    /// `Transfer-Encoding: chunked`.
    Chunked,
}

/// What the `Connection` header says, if this server adds one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Persistence {
    /// HTTP/1.1 keep-alive: no header needed.
    Implicit,
    /// An HTTP/1.0 client asked for keep-alive: `Connection: keep-alive`.
    KeepAlive,
    /// The connection closes after this response: `Connection: close`.
    Close,
}

/// Whether a response with this status to a request of this method has no body.
pub fn is_bodyless(status: StatusCode, is_head: bool) -> bool {
    is_head
        || status.is_informational()
        || status == StatusCode::NO_CONTENT
        || status == StatusCode::NOT_MODIFIED
}

/// Whether the handler asked for the connection to close.
pub fn asks_to_close(headers: &HeaderMap) -> bool {
    headers.get_all(CONNECTION).iter().any(|value| {
        value
            .as_bytes()
            .split(|&b| b == b',')
            .any(|item| item.trim_ascii().eq_ignore_ascii_case(b"close"))
    })
}

/// Writes the response head into `out`.
pub fn encode_head(
    out: &mut Vec<u8>,
    status: StatusCode,
    headers: &HeaderMap,
    framing: Framing,
    persistence: Persistence,
) {
    out.extend_from_slice(b"HTTP/1.1 ");
    out.extend_from_slice(status.as_str().as_bytes());
    out.push(b' ');
    out.extend_from_slice(status.canonical_reason().unwrap_or("Unknown").as_bytes());
    out.extend_from_slice(b"\r\n");
    let replaces_framing = framing != Framing::Bodyless;
    for (name, value) in headers {
        let ours = name == CONNECTION
            || (replaces_framing && (name == CONTENT_LENGTH || name == TRANSFER_ENCODING));
        if !ours {
            push_header(out, name.as_str().as_bytes(), value.as_bytes());
        }
    }
    match framing {
        Framing::Bodyless => {}
        Framing::Length(len) => {
            out.extend_from_slice(b"content-length: ");
            let _infallible = write!(out, "{len}");
            out.extend_from_slice(b"\r\n");
        }
        Framing::Chunked => out.extend_from_slice(b"transfer-encoding: chunked\r\n"),
    }
    let connection: &[u8] = match persistence {
        Persistence::Implicit => b"",
        Persistence::KeepAlive => b"connection: keep-alive\r\n",
        Persistence::Close => b"connection: close\r\n",
    };
    out.extend_from_slice(connection);
    if !headers.contains_key(DATE) {
        out.extend_from_slice(b"date: ");
        with_date(|date| out.extend_from_slice(date));
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
}

/// A response the connection loop sends itself when it refuses a request: no body, then close.
pub fn refusal(status: StatusCode) -> Vec<u8> {
    let mut out = Vec::with_capacity(128);
    let mut headers = HeaderMap::new();
    headers.insert(CONTENT_LENGTH, http::HeaderValue::from_static("0"));
    encode_head(
        &mut out,
        status,
        &headers,
        Framing::Bodyless,
        Persistence::Close,
    );
    out
}

fn push_header(out: &mut Vec<u8>, name: &[u8], value: &[u8]) {
    out.extend_from_slice(name);
    out.extend_from_slice(b": ");
    out.extend_from_slice(value);
    out.extend_from_slice(b"\r\n");
}

/// The length of an IMF-fixdate, e.g. `Sun, 06 Nov 1994 08:49:37 GMT`.
const DATE_LEN: usize = 29;

thread_local! {
    /// This thread's last formatted date and the second it is for.
    static CACHED_DATE: RefCell<(u64, [u8; DATE_LEN])> = const { RefCell::new((u64::MAX, [0; DATE_LEN])) };
}

/// Calls `use_date` with the current time as an HTTP date, formatting it at most once a second.
fn with_date(use_date: impl FnOnce(&[u8])) {
    let now = SystemTime::now();
    let second = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    CACHED_DATE.with(|cell| {
        let mut cached = cell.borrow_mut();
        if cached.0 != second {
            let text = httpdate::fmt_http_date(now);
            if text.len() == DATE_LEN {
                cached.1.copy_from_slice(text.as_bytes());
                cached.0 = second;
            }
        }
        use_date(&cached.1);
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn encode(
        status: StatusCode,
        headers: &HeaderMap,
        framing: Framing,
        persistence: Persistence,
    ) -> String {
        let mut out = Vec::new();
        encode_head(&mut out, status, headers, framing, persistence);
        String::from_utf8(out).unwrap()
    }

    fn without_date(text: &str) -> String {
        text.lines()
            .filter(|line| !line.starts_with("date: "))
            .map(|line| format!("{line}\r\n"))
            .collect()
    }

    #[test]
    fn encodes_status_headers_and_length() {
        let mut headers = HeaderMap::new();
        headers.insert("content-type", HeaderValue::from_static("application/json"));
        headers.insert("x-consul-index", HeaderValue::from_static("7"));
        headers.insert(CONTENT_LENGTH, HeaderValue::from_static("999"));
        let text = encode(
            StatusCode::OK,
            &headers,
            Framing::Length(5),
            Persistence::Implicit,
        );
        assert_eq!(
            without_date(&text),
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nx-consul-index: 7\r\ncontent-length: 5\r\n\r\n"
        );
        assert!(text.ends_with("\r\n\r\n"));
    }

    #[test]
    fn adds_a_well_formed_date() {
        let text = encode(
            StatusCode::OK,
            &HeaderMap::new(),
            Framing::Length(0),
            Persistence::Implicit,
        );
        let date = text
            .lines()
            .find_map(|line| line.strip_prefix("date: "))
            .unwrap();
        assert!(httpdate::parse_http_date(date).is_ok(), "{date}");
    }

    #[test]
    fn bodyless_responses_keep_the_handlers_length() {
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_LENGTH, HeaderValue::from_static("42"));
        let text = encode(
            StatusCode::OK,
            &headers,
            Framing::Bodyless,
            Persistence::Close,
        );
        assert_eq!(
            without_date(&text),
            "HTTP/1.1 200 OK\r\ncontent-length: 42\r\nconnection: close\r\n\r\n"
        );
    }

    #[test]
    fn chunked_and_keep_alive_framing() {
        let text = encode(
            StatusCode::NOT_FOUND,
            &HeaderMap::new(),
            Framing::Chunked,
            Persistence::KeepAlive,
        );
        assert_eq!(
            without_date(&text),
            "HTTP/1.1 404 Not Found\r\ntransfer-encoding: chunked\r\nconnection: keep-alive\r\n\r\n"
        );
    }

    #[test]
    fn bodyless_statuses() {
        assert!(is_bodyless(StatusCode::OK, true));
        assert!(is_bodyless(StatusCode::NO_CONTENT, false));
        assert!(is_bodyless(StatusCode::NOT_MODIFIED, false));
        assert!(is_bodyless(StatusCode::CONTINUE, false));
        assert!(!is_bodyless(StatusCode::OK, false));
    }

    #[test]
    fn notices_a_close_request_from_the_handler() {
        let mut headers = HeaderMap::new();
        headers.insert(CONNECTION, HeaderValue::from_static("Close"));
        assert!(asks_to_close(&headers));
        assert!(!asks_to_close(&HeaderMap::new()));
    }

    #[test]
    fn refusals_close_the_connection() {
        let text = String::from_utf8(refusal(StatusCode::BAD_REQUEST)).unwrap();
        assert_eq!(
            without_date(&text),
            "HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
        );
    }
}
