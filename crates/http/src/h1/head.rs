//! Parses an HTTP/1.x request head (request line and headers) off the front of the connection's
//! buffer, and reads from it how the body is framed and whether the connection stays open.

use bytes::{Bytes, BytesMut};
use http::header::{CONNECTION, CONTENT_LENGTH, EXPECT, TRANSFER_ENCODING};
use http::{HeaderMap, HeaderName, HeaderValue, Method, Uri, Version};

/// The most headers one request may carry (as hyper allows).
pub const MAX_HEADERS: usize = 100;

/// Why a request head was refused.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum HeadError {
    /// The request line or a header is malformed, or the body framing is contradictory.
    #[error("malformed request head")]
    Malformed,
    /// The request has more headers than [`MAX_HEADERS`].
    #[error("too many request headers")]
    TooManyHeaders,
    /// The body is chunked over another transfer coding, which this server does not decode.
    #[error("unsupported transfer coding")]
    UnsupportedCoding,
}

/// How the request body is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyFraming {
    /// No body.
    Empty,
    /// Exactly this many bytes follow the head.
    Length(u64),
    /// `Transfer-Encoding: chunked`.
    Chunked,
}

/// A parsed request head.
#[derive(Debug)]
pub struct RequestHead {
    pub method: Method,
    pub uri: Uri,
    pub version: Version,
    pub headers: HeaderMap,
    pub framing: BodyFraming,
}

impl RequestHead {
    /// Whether the client wants the connection kept open after this exchange.
    pub fn wants_keep_alive(&self) -> bool {
        if has_token(&self.headers, "close") {
            false
        } else {
            self.version == Version::HTTP_11 || has_token(&self.headers, "keep-alive")
        }
    }

    /// Whether the client waits for `100 Continue` before sending its body.
    pub fn expects_continue(&self) -> bool {
        self.version == Version::HTTP_11
            && self.framing != BodyFraming::Empty
            && self
                .headers
                .get(EXPECT)
                .is_some_and(|value| value.as_bytes().eq_ignore_ascii_case(b"100-continue"))
    }
}

/// Where, within the head's bytes, one header's name and value lie.
#[derive(Clone, Copy, Default)]
struct HeaderSpan {
    name: (usize, usize),
    value: (usize, usize),
}

/// The request line and header positions found by `httparse`.
struct Spans {
    len: usize,
    method: Method,
    path: (usize, usize),
    version: Version,
    header_count: usize,
    headers: [HeaderSpan; MAX_HEADERS],
}

/// Parses a complete head at the front of `buf` and splits it off; `None` while it is incomplete.
pub fn parse_head(buf: &mut BytesMut) -> Result<Option<RequestHead>, HeadError> {
    let Some(spans) = locate(buf)? else {
        return Ok(None);
    };
    let head = buf.split_to(spans.len).freeze();
    let uri = Uri::from_maybe_shared(slice(&head, spans.path)).map_err(|_| HeadError::Malformed)?;
    let mut headers = HeaderMap::with_capacity(spans.header_count);
    for span in &spans.headers[..spans.header_count] {
        let name = HeaderName::from_bytes(&head[span.name.0..span.name.0 + span.name.1])
            .map_err(|_| HeadError::Malformed)?;
        let value = HeaderValue::from_maybe_shared(slice(&head, span.value))
            .map_err(|_| HeadError::Malformed)?;
        headers.append(name, value);
    }
    let framing = body_framing(spans.version, &headers)?;
    Ok(Some(RequestHead {
        method: spans.method,
        uri,
        version: spans.version,
        headers,
        framing,
    }))
}

/// Runs `httparse` over `buf`, recording positions (not borrows) so the head can be split off.
fn locate(buf: &[u8]) -> Result<Option<Spans>, HeadError> {
    let mut slots = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut request = httparse::Request::new(&mut slots);
    let len = match request.parse(buf) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(httparse::Error::TooManyHeaders) => return Err(HeadError::TooManyHeaders),
        Err(_) => return Err(HeadError::Malformed),
    };
    let base = buf.as_ptr() as usize;
    let span = |part: &[u8]| (part.as_ptr() as usize - base, part.len());
    let method = request.method.ok_or(HeadError::Malformed)?;
    let method = Method::from_bytes(method.as_bytes()).map_err(|_| HeadError::Malformed)?;
    let path = span(request.path.ok_or(HeadError::Malformed)?.as_bytes());
    let version = match request.version {
        Some(0) => Version::HTTP_10,
        Some(1) => Version::HTTP_11,
        _ => return Err(HeadError::Malformed),
    };
    let mut headers = [HeaderSpan::default(); MAX_HEADERS];
    for (slot, header) in headers.iter_mut().zip(request.headers.iter()) {
        *slot = HeaderSpan {
            name: span(header.name.as_bytes()),
            value: span(header.value),
        };
    }
    Ok(Some(Spans {
        len,
        method,
        path,
        version,
        header_count: request.headers.len(),
        headers,
    }))
}

/// The part of `head` at `(offset, len)`, sharing its memory.
fn slice(head: &Bytes, (offset, len): (usize, usize)) -> Bytes {
    head.slice(offset..offset + len)
}

/// Reads the body framing from `Transfer-Encoding` and `Content-Length` (RFC 9112 §6), strictly,
/// so that no intermediary can frame the request differently: see [`transfer_coding`] and
/// [`content_length`].
fn body_framing(version: Version, headers: &HeaderMap) -> Result<BodyFraming, HeadError> {
    if headers.contains_key(TRANSFER_ENCODING) {
        // Both present is a smuggling attempt or a broken client (§6.1: a server MAY reject
        // it, and must close after it anyway); HTTP/1.0 has no transfer codings, so its
        // framing is faulty (§6.1).
        if headers.contains_key(CONTENT_LENGTH) || version == Version::HTTP_10 {
            return Err(HeadError::Malformed);
        }
        return transfer_coding(headers);
    }
    content_length(headers)
}

/// The framing `Transfer-Encoding` gives, its field lines read as one list (empty elements
/// ignored, codings compared case-insensitively): exactly `chunked` is chunked; chunked not
/// last, or more than once, is malformed (§6.3); other codings under chunked are not
/// implemented (§6.1).
fn transfer_coding(headers: &HeaderMap) -> Result<BodyFraming, HeadError> {
    let codings = headers
        .get_all(TRANSFER_ENCODING)
        .iter()
        .flat_map(|value| value.as_bytes().split(|&b| b == b','))
        .map(<[u8]>::trim_ascii)
        .filter(|coding| !coding.is_empty());
    let (mut chunked, mut others, mut last_is_chunked) = (0, 0, false);
    for coding in codings {
        last_is_chunked = coding.eq_ignore_ascii_case(b"chunked");
        if last_is_chunked {
            chunked += 1;
        } else {
            others += 1;
        }
    }
    match (last_is_chunked, chunked, others) {
        (true, 1, 0) => Ok(BodyFraming::Chunked),
        (true, 1, _) => Err(HeadError::UnsupportedCoding),
        _ => Err(HeadError::Malformed),
    }
}

/// The framing `Content-Length` gives: decimal digits, and repeats (in a list or in several
/// field lines) only of the same value (RFC 9110 §8.6).
fn content_length(headers: &HeaderMap) -> Result<BodyFraming, HeadError> {
    let mut length = None;
    for value in headers.get_all(CONTENT_LENGTH) {
        for item in value.as_bytes().split(|&b| b == b',') {
            let parsed = parse_length(item.trim_ascii()).ok_or(HeadError::Malformed)?;
            if length.is_some_and(|seen| seen != parsed) {
                return Err(HeadError::Malformed);
            }
            length = Some(parsed);
        }
    }
    Ok(match length {
        None | Some(0) => BodyFraming::Empty,
        Some(len) => BodyFraming::Length(len),
    })
}

/// A Content-Length value: decimal digits only.
fn parse_length(digits: &[u8]) -> Option<u64> {
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(digits).ok()?.parse().ok()
}

/// Whether any `Connection` header lists `token`.
fn has_token(headers: &HeaderMap, token: &str) -> bool {
    headers.get_all(CONNECTION).iter().any(|value| {
        value
            .as_bytes()
            .split(|&b| b == b',')
            .any(|item| item.trim_ascii().eq_ignore_ascii_case(token.as_bytes()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Option<RequestHead>, HeadError> {
        parse_head(&mut BytesMut::from(text))
    }

    fn complete(text: &str) -> RequestHead {
        parse(text).unwrap().unwrap()
    }

    #[test]
    fn parses_a_get_keeping_the_raw_path_and_query() {
        let head = complete("GET /v1/kv/a%2Fb%20c?index=5&wait=5m HTTP/1.1\r\nHost: x\r\nX-Two: 1\r\nX-Two: 2\r\n\r\n");
        assert_eq!(head.method, Method::GET);
        assert_eq!(head.uri.path(), "/v1/kv/a%2Fb%20c");
        assert_eq!(head.uri.query(), Some("index=5&wait=5m"));
        assert_eq!(head.version, Version::HTTP_11);
        assert_eq!(head.headers["host"], "x");
        assert_eq!(head.headers.get_all("x-two").iter().count(), 2);
        assert_eq!(head.framing, BodyFraming::Empty);
        assert!(head.wants_keep_alive());
    }

    #[test]
    fn an_incomplete_head_waits_for_more() {
        for cut in [
            "",
            "GET",
            "GET / HTTP/1.1\r\n",
            "GET / HTTP/1.1\r\nHost: x\r\n",
        ] {
            assert!(parse(cut).unwrap().is_none(), "{cut:?}");
        }
    }

    #[test]
    fn splits_off_only_the_head_leaving_pipelined_bytes() {
        let mut buf = BytesMut::from("GET /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\n\r\n");
        assert_eq!(parse_head(&mut buf).unwrap().unwrap().uri, "/a");
        assert_eq!(parse_head(&mut buf).unwrap().unwrap().uri, "/b");
        assert!(buf.is_empty());
    }

    #[test]
    fn reads_body_framing() {
        let length = complete("PUT /k HTTP/1.1\r\nContent-Length: 12\r\n\r\n");
        assert_eq!(length.framing, BodyFraming::Length(12));
        let zero = complete("PUT /k HTTP/1.1\r\nContent-Length: 0\r\n\r\n");
        assert_eq!(zero.framing, BodyFraming::Empty);
        let chunked = complete("PUT /k HTTP/1.1\r\nTransfer-Encoding: Chunked\r\n\r\n");
        assert_eq!(chunked.framing, BodyFraming::Chunked);
        let listed = complete("PUT /k HTTP/1.1\r\nTransfer-Encoding: , chunked,\r\n\r\n");
        assert_eq!(listed.framing, BodyFraming::Chunked);
        let repeated = complete("PUT /k HTTP/1.1\r\nContent-Length: 3, 3\r\n\r\n");
        assert_eq!(repeated.framing, BodyFraming::Length(3));
    }

    #[test]
    fn refuses_contradictory_or_bad_framing() {
        for text in [
            "PUT /k HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
            "PUT /k HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n",
            "PUT /k HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n",
            "PUT /k HTTP/1.1\r\nContent-Length: -1\r\n\r\n",
            "PUT /k HTTP/1.1\r\nContent-Length: +1\r\n\r\n",
            "PUT /k HTTP/1.1\r\nContent-Length: 99999999999999999999999\r\n\r\n",
            "PUT /k HTTP/1.1\r\nTransfer-Encoding: chunked, chunked\r\n\r\n",
            "PUT /k HTTP/1.1\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
            "PUT /k HTTP/1.1\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
            "PUT /k HTTP/1.1\r\nTransfer-Encoding: ,\r\n\r\n",
            "PUT /k HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n",
        ] {
            assert_eq!(parse(text).unwrap_err(), HeadError::Malformed, "{text:?}");
        }
        for text in [
            "PUT /k HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
            "PUT /k HTTP/1.1\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n",
        ] {
            assert_eq!(
                parse(text).unwrap_err(),
                HeadError::UnsupportedCoding,
                "{text:?}"
            );
        }
    }

    #[test]
    fn refuses_malformed_heads() {
        for text in [
            "GET / HTTP/1.1\r\nBad Header: x\r\n\r\n",
            "GET / HTTP/2.0\r\n\r\n",
            "GET /\x01 HTTP/1.1\r\n\r\n",
            "G(T / HTTP/1.1\r\n\r\n",
            "GET / HTTP/1.1\r\nHost: a\x00b\r\n\r\n",
        ] {
            assert_eq!(parse(text).unwrap_err(), HeadError::Malformed, "{text:?}");
        }
    }

    #[test]
    fn refuses_too_many_headers() {
        let mut text = String::from("GET / HTTP/1.1\r\n");
        for i in 0..=MAX_HEADERS {
            text.push_str(&format!("X-{i}: v\r\n"));
        }
        text.push_str("\r\n");
        assert_eq!(parse(&text).unwrap_err(), HeadError::TooManyHeaders);
    }

    #[test]
    fn keep_alive_follows_version_and_connection_header() {
        assert!(!complete("GET / HTTP/1.1\r\nConnection: Close\r\n\r\n").wants_keep_alive());
        assert!(!complete("GET / HTTP/1.0\r\n\r\n").wants_keep_alive());
        assert!(complete("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n").wants_keep_alive());
        assert!(!complete("GET / HTTP/1.1\r\nConnection: te, close\r\n\r\n").wants_keep_alive());
    }

    #[test]
    fn expect_continue_needs_http11_and_a_body() {
        let text = "PUT /k HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n";
        assert!(complete(text).expects_continue());
        assert!(!complete("PUT /k HTTP/1.1\r\nExpect: 100-continue\r\n\r\n").expects_continue());
        let old = "PUT /k HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n";
        assert!(!complete(old).expects_continue());
    }

    #[test]
    fn skips_empty_lines_before_the_request_line() {
        assert_eq!(complete("\r\nGET /x HTTP/1.1\r\n\r\n").uri, "/x");
    }
}
