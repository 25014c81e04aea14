//! Request-smuggling conformance of the hand-written HTTP/1.1 loop (RFC 9112), over the real
//! connection loop with an echo router. Each case gives the bytes a client sends and the
//! responses it must get: echoes of the requests the server framed, in order, and at most one
//! refusal, after which the connection is closed and nothing else is answered — so a request
//! smuggled behind an ambiguous one is never served.
//!
//! Every case is also run with the input delivered one byte per read, and must get the same
//! answer: framing never depends on how TCP splits the stream.
//!
//! The choices made where RFC 9112 leaves room:
//! - `Content-Length` and `Transfer-Encoding` together: 400, then close (§6.1 allows rejecting).
//! - `Content-Length` must be decimal digits (OWS around the value is trimmed); a list or
//!   repeat of one identical value is that value (RFC 9110 §8.6); differing values, signs,
//!   inner whitespace or anything else: 400. Over the 16 MiB body limit: 413.
//! - `Transfer-Encoding` (all its field lines, as one list; empty list elements ignored): exactly
//!   `chunked` (any case) frames the body; a final coding other than chunked: 400 (§6.3);
//!   chunked more than once: 400; other codings before chunked: 501, the only coding
//!   understood being chunked (§6.1). In an HTTP/1.0 request: 400 (§6.1).
//! - obs-fold (a field line starting with whitespace): 400 (§5.2).
//! - Whitespace between a field name and the colon: 400 (§5.1).
//! - Line ends in the request line and header section: CRLF or a bare LF (§2.2 allows a
//!   recipient to take LF alone); a bare CR anywhere: 400.
//! - Line ends in a chunked body (chunk-size lines, after chunk data, trailer fields): CRLF
//!   only; a bare LF or CR there is 400 — §2.2's allowance covers the start line and fields
//!   only, and lenient chunk parsing is a known smuggling vector.
//! - Chunk sizes: one or more hex digits, at most 2^64-1; chunk extensions as in §7.1.1
//!   (token names, token or quoted-string values, BWS around `;` and `=`); otherwise 400.
//!   A chunk that would take the body past 16 MiB: 413 before its data is read.
//! - Request line: exactly one SP between method, target and version (§3); otherwise 400.

mod support;

use support::{echo_router, exchange, finals, parse_replies, runtime, summary};

/// What one response must be.
#[derive(Debug, Clone, Copy)]
enum Want {
    /// The echo of a request the server framed as `method target` with `body`.
    Echo(&'static str, &'static str, &'static [u8]),
    /// A refusal with this status, closing the connection.
    Refused(u16),
}

use Want::{Echo, Refused};

/// Sends `input` (whole, and again one byte per read) and checks the responses.
fn expect(input: &[u8], want: &[Want]) {
    let router = echo_router();
    let rt = runtime();
    for pipe in [1 << 20, 1] {
        let output = rt.block_on(exchange(&router, input, pipe));
        let replies =
            finals(parse_replies(&output).unwrap_or_else(|error| {
                panic!("{error} for {:?}", String::from_utf8_lossy(input))
            }));
        let shown = || {
            format!(
                "input {:?} (pipe {pipe})\nwanted {want:?}\ngot {}",
                String::from_utf8_lossy(input),
                String::from_utf8_lossy(&output)
            )
        };
        assert_eq!(replies.len(), want.len(), "{}", shown());
        for (reply, want) in replies.iter().zip(want) {
            match *want {
                Echo(method, target, body) => {
                    assert_eq!(reply.status, 200, "{}", shown());
                    assert_eq!(
                        reply.echo(),
                        Some(summary(method, target, body).as_str()),
                        "{}",
                        shown()
                    );
                }
                Refused(status) => {
                    assert_eq!(reply.status, status, "{}", shown());
                    assert!(reply.echo().is_none(), "{}", shown());
                    assert!(reply.closes(), "a refusal closes: {}", shown());
                }
            }
        }
    }
}

/// A request that would be served if smuggled: it must never be answered.
const SMUGGLED: &str = "GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n";

fn with_smuggled(prefix: &str) -> Vec<u8> {
    format!("{prefix}{SMUGGLED}").into_bytes()
}

#[test]
fn content_length_and_transfer_encoding_together_are_refused() {
    for head in [
        "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
        "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n",
        "POST /a HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 0\r\n\r\n",
        "POST /a HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: gzip\r\n\r\n",
        "POST /a HTTP/1.1\r\ncontent-length: 5\r\ntransfer-encoding: CHUNKED\r\n\r\n",
    ] {
        expect(&with_smuggled(&format!("{head}0\r\n\r\n")), &[Refused(400)]);
    }
}

#[test]
fn identical_repeated_content_lengths_are_one_length() {
    for head in [
        "PUT /a HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n",
        "PUT /a HTTP/1.1\r\nContent-Length: 5, 5\r\n\r\n",
        "PUT /a HTTP/1.1\r\nContent-Length: 5,5\r\nContent-Length: 5\r\n\r\n",
    ] {
        expect(
            &with_smuggled(&format!("{head}hello")),
            &[Echo("PUT", "/a", b"hello"), Echo("GET", "/smuggled", b"")],
        );
    }
}

#[test]
fn conflicting_content_lengths_are_refused() {
    for head in [
        "PUT /a HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
        "PUT /a HTTP/1.1\r\nContent-Length: 6\r\nContent-Length: 5\r\n\r\n",
        "PUT /a HTTP/1.1\r\nContent-Length: 5, 6\r\n\r\n",
        "PUT /a HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 5, 0\r\n\r\n",
        "PUT /a HTTP/1.1\r\nContent-Length: 5,\r\n\r\n",
        "PUT /a HTTP/1.1\r\nContent-Length: ,5\r\n\r\n",
        "PUT /a HTTP/1.1\r\nContent-Length: 5\r\nContent-Length:\r\n\r\n",
    ] {
        expect(&with_smuggled(&format!("{head}hello")), &[Refused(400)]);
    }
}

#[test]
fn content_length_must_be_digits() {
    for value in [
        "+5",
        "-5",
        "5 5",
        "5\t5",
        "0x5",
        "5.0",
        "5a",
        "a5",
        "1e1",
        "",
        " ",
        "\"5\"",
        "5;",
        "18446744073709551616",
        "99999999999999999999999",
        "\u{663}",
    ] {
        let head = format!("PUT /a HTTP/1.1\r\nContent-Length: {value}\r\n\r\n");
        expect(&with_smuggled(&format!("{head}hello")), &[Refused(400)]);
    }
}

#[test]
fn whitespace_around_content_length_is_trimmed_and_leading_zeros_are_digits() {
    for value in [
        "5",
        " 5",
        "5 ",
        "  5\t",
        "\t5",
        "005",
        "0000000000000000000000005",
    ] {
        let head = format!("PUT /a HTTP/1.1\r\nContent-Length:{value}\r\n\r\n");
        expect(
            &with_smuggled(&format!("{head}hello")),
            &[Echo("PUT", "/a", b"hello"), Echo("GET", "/smuggled", b"")],
        );
    }
}

#[test]
fn a_declared_length_over_the_limit_is_refused_at_once() {
    for value in ["16777217", "18446744073709551615"] {
        let head = format!("PUT /a HTTP/1.1\r\nContent-Length: {value}\r\n\r\n");
        expect(&with_smuggled(&head), &[Refused(413)]);
    }
}

#[test]
fn a_final_coding_other_than_chunked_is_refused() {
    for value in [
        "gzip",
        "identity",
        "chunked, gzip",
        "chunked;q=1",
        "chunked ;",
        "xchunked",
        "chunkedx",
        "chunk",
        "\"chunked\"",
        "",
        ",",
        "chunked\u{a0}",
    ] {
        let head = format!("POST /a HTTP/1.1\r\nTransfer-Encoding: {value}\r\n\r\n");
        expect(&with_smuggled(&format!("{head}0\r\n\r\n")), &[Refused(400)]);
    }
    // Across field lines: the last coding of the last line is the final one.
    let split = "POST /a HTTP/1.1\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: gzip\r\n\r\n";
    expect(
        &with_smuggled(&format!("{split}0\r\n\r\n")),
        &[Refused(400)],
    );
}

#[test]
fn chunked_more_than_once_is_refused() {
    for te in [
        "Transfer-Encoding: chunked, chunked\r\n",
        "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n",
        "Transfer-Encoding: Chunked, gzip, chunked\r\n",
    ] {
        let head = format!("POST /a HTTP/1.1\r\n{te}\r\n");
        expect(&with_smuggled(&format!("{head}0\r\n\r\n")), &[Refused(400)]);
    }
}

#[test]
fn codings_before_chunked_are_not_implemented() {
    for te in [
        "Transfer-Encoding: gzip, chunked\r\n",
        "Transfer-Encoding: deflate,chunked\r\n",
        "Transfer-Encoding: identity, chunked\r\n",
        "Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n",
    ] {
        let head = format!("POST /a HTTP/1.1\r\n{te}\r\n");
        expect(&with_smuggled(&format!("{head}0\r\n\r\n")), &[Refused(501)]);
    }
}

#[test]
fn chunked_in_any_case_and_with_ows_frames_the_body() {
    for value in [
        "chunked",
        "Chunked",
        "CHUNKED",
        "cHuNkEd",
        " chunked",
        "chunked ",
        "\tchunked\t",
        "chunked,",
        ", chunked",
        " , chunked , ",
    ] {
        let head = format!("POST /a HTTP/1.1\r\nTransfer-Encoding:{value}\r\n\r\n");
        expect(
            &with_smuggled(&format!("{head}5\r\nhello\r\n0\r\n\r\n")),
            &[Echo("POST", "/a", b"hello"), Echo("GET", "/smuggled", b"")],
        );
    }
}

#[test]
fn transfer_encoding_in_http10_is_refused() {
    let head = "POST /a HTTP/1.0\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n";
    expect(
        &with_smuggled(&format!("{head}5\r\nhello\r\n0\r\n\r\n")),
        &[Refused(400)],
    );
}

#[test]
fn obs_fold_is_refused() {
    for head in [
        "GET /a HTTP/1.1\r\nX-A: one\r\n two\r\n\r\n",
        "GET /a HTTP/1.1\r\nX-A: one\r\n\ttwo\r\n\r\n",
        "POST /a HTTP/1.1\r\nTransfer-Encoding:\r\n chunked\r\n\r\n",
        "POST /a HTTP/1.1\r\nX-A: b\r\n Transfer-Encoding: chunked\r\n\r\n",
        "POST /a HTTP/1.1\r\nContent-Length: 5\r\n 0\r\n\r\n",
        "GET /a HTTP/1.1\r\n Host: x\r\n\r\n",
    ] {
        expect(&with_smuggled(head), &[Refused(400)]);
    }
}

#[test]
fn whitespace_before_the_colon_is_refused() {
    for head in [
        "GET /a HTTP/1.1\r\nHost : x\r\n\r\n",
        "GET /a HTTP/1.1\r\nHost\t: x\r\n\r\n",
        "POST /a HTTP/1.1\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\n",
        "PUT /a HTTP/1.1\r\nContent-Length : 5\r\n\r\nhello",
    ] {
        expect(&with_smuggled(head), &[Refused(400)]);
    }
}

#[test]
fn bad_field_names_and_values_are_refused() {
    for head in [
        "GET /a HTTP/1.1\r\nX A: b\r\n\r\n",
        "GET /a HTTP/1.1\r\n: b\r\n\r\n",
        "GET /a HTTP/1.1\r\nX\0: b\r\n\r\n",
        "GET /a HTTP/1.1\r\nX: a\0b\r\n\r\n",
        "GET /a HTTP/1.1\r\nX: a\x0bb\r\n\r\n",
        "GET /a HTTP/1.1\r\nX: a\x7fb\r\n\r\n",
        "GET /a HTTP/1.1\r\nNoColon\r\n\r\n",
        "GET /a HTTP/1.1\r\nX\u{e9}: b\r\n\r\n",
        "GET /a HTTP/1.1\r\nTransfer-Encoding\x0b: chunked\r\n\r\n",
    ] {
        expect(&with_smuggled(head), &[Refused(400)]);
    }
}

#[test]
fn bare_lf_ends_head_lines() {
    expect(
        b"GET /a HTTP/1.1\nHost: x\n\nPUT /b HTTP/1.1\r\nContent-Length: 2\n\r\nhi",
        &[Echo("GET", "/a", b""), Echo("PUT", "/b", b"hi")],
    );
    expect(
        b"POST /a HTTP/1.1\nTransfer-Encoding: chunked\n\n2\r\nhi\r\n0\r\n\r\n",
        &[Echo("POST", "/a", b"hi")],
    );
}

#[test]
fn bare_cr_in_the_head_is_refused() {
    for head in [
        "GET /a HTTP/1.1\rHost: x\r\n\r\n",
        "GET /a HTTP/1.1\r\nHost: x\rX: y\r\n\r\n",
        "GET /a HTTP/1.1\r\nX: a\rb\r\n\r\n",
        "GET /a HTTP/1.1\r\nHost: x\r\n\r\r\n",
        "GET /a HTTP/1.1\r\r\n\r\n",
        "GET /a\r HTTP/1.1\r\n\r\n",
    ] {
        expect(&with_smuggled(head), &[Refused(400)]);
    }
}

#[test]
fn the_request_line_takes_single_spaces_only() {
    for line in [
        "GET  /a HTTP/1.1",
        "GET /a  HTTP/1.1",
        "GET /a HTTP/1.1 ",
        " GET /a HTTP/1.1",
        "GET\t/a HTTP/1.1",
        "GET /a\tHTTP/1.1",
        "GET /a b HTTP/1.1",
        "GET /a",
        "GET /a HTTP/1.1 x",
        "GET /a http/1.1",
        "GET /a HTTP/1.1.1",
        "GET /a HTTP/2.0",
        "GET /a HTTP/11",
        "G\0T /a HTTP/1.1",
        "GET /\0 HTTP/1.1",
        "GET /\x7f HTTP/1.1",
    ] {
        expect(
            &with_smuggled(&format!("{line}\r\nHost: x\r\n\r\n")),
            &[Refused(400)],
        );
    }
    // Empty lines before a request line are skipped (RFC 9112 §2.2).
    expect(
        &with_smuggled("\r\n\r\nGET /a HTTP/1.1\r\n\r\n"),
        &[Echo("GET", "/a", b""), Echo("GET", "/smuggled", b"")],
    );
}

/// A chunked POST whose body is `chunks`, followed by the smuggled request.
fn chunked(chunks: &str) -> Vec<u8> {
    with_smuggled(&format!(
        "POST /a HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n{chunks}"
    ))
}

#[test]
fn chunk_sizes_need_hex_digits_and_nothing_else() {
    for chunks in [
        // No digits: an empty line is not a last chunk.
        "\r\n\r\n",
        "\r\nhello\r\n0\r\n\r\n",
        ";ext\r\nhello\r\n0\r\n\r\n",
        " \r\n\r\n",
        // Signs, prefixes, leading whitespace, non-hex.
        " 5\r\nhello\r\n0\r\n\r\n",
        "+5\r\nhello\r\n0\r\n\r\n",
        "-5\r\nhello\r\n0\r\n\r\n",
        "0x5\r\nhello\r\n0\r\n\r\n",
        "5g\r\nhello\r\n0\r\n\r\n",
        "5 5\r\nhello\r\n0\r\n\r\n",
        "\u{663}\r\n\r\n",
        // More than 64 bits.
        "10000000000000000\r\n",
        "fffffffffffffffffff\r\nhello\r\n0\r\n\r\n",
    ] {
        expect(&chunked(chunks), &[Refused(400)]);
    }
}

#[test]
fn chunk_lines_end_in_crlf_only() {
    for chunks in [
        "5\nhello\r\n0\r\n\r\n",
        "5\rhello\r\n0\r\n\r\n",
        "5\r\nhello\n0\r\n\r\n",
        "5\r\nhello\r0\r\n\r\n",
        "5\r\nhello\r\n0\n\r\n",
        "5\r\nhello\r\n0\r\n\n",
        "5\r\nhello\r\n0\r\nX: y\n\r\n",
        "5\r\nhello\r\n0\r\nX: y\r\n\n",
        "5\r\nhello\r\n0\r\nX: y\rZ: w\r\n\r\n",
        "5;a\nb\r\nhello\r\n0\r\n\r\n",
        "5;a=\"\n\"\r\nhello\r\n0\r\n\r\n",
        "5;a\rb\r\nhello\r\n0\r\n\r\n",
    ] {
        expect(&chunked(chunks), &[Refused(400)]);
    }
}

#[test]
fn chunk_data_must_match_its_size() {
    for chunks in [
        "5\r\nhelloX\r\n0\r\n\r\n",
        "5\r\nhell\r\n0\r\n\r\n",
        "3\r\nhello\r\n0\r\n\r\n",
        "5\r\nhello0\r\n\r\n",
    ] {
        expect(&chunked(chunks), &[Refused(400)]);
    }
}

#[test]
fn chunk_extensions_follow_the_grammar() {
    for chunks in [
        "5;\r\nhello\r\n0\r\n\r\n",
        "5;=b\r\nhello\r\n0\r\n\r\n",
        "5;a=\r\nhello\r\n0\r\n\r\n",
        "5;a=b c\r\nhello\r\n0\r\n\r\n",
        "5;a b\r\nhello\r\n0\r\n\r\n",
        "5;a=\"b\r\nhello\r\n0\r\n\r\n",
        "5;a=\"b\"c\r\nhello\r\n0\r\n\r\n",
        "5;a=b=c\r\nhello\r\n0\r\n\r\n",
        "5;a@=b\r\nhello\r\n0\r\n\r\n",
        "5;a\0\r\nhello\r\n0\r\n\r\n",
        "5;a=\"\0\"\r\nhello\r\n0\r\n\r\n",
        "5;a=\"\\\0\"\r\nhello\r\n0\r\n\r\n",
        "5 x\r\nhello\r\n0\r\n\r\n",
        "5 ; a = \"b\r\nhello\r\n0\r\n\r\n",
    ] {
        expect(&chunked(chunks), &[Refused(400)]);
    }
    for chunks in [
        "5;a\r\nhello\r\n0\r\n\r\n",
        "5;a=b\r\nhello\r\n0\r\n\r\n",
        "5;a=b;c=d;e\r\nhello\r\n0;last\r\n\r\n",
        "5 ; a = b \r\nhello\r\n0\r\n\r\n",
        "5\t;\ta\t=\t\"b c\\\"d;e\"\r\nhello\r\n0\r\n\r\n",
        "5;a=\"\"\r\nhello\r\n0\r\n\r\n",
        "5 \r\nhello\r\n0 \r\n\r\n",
        "0005\r\nhello\r\n000\r\n\r\n",
        "5\r\nhello\r\n0\r\nX-T: 1\r\nContent-Length: 99\r\nTransfer-Encoding: gzip\r\n\r\n",
        "2\r\nhe\r\n3\r\nllo\r\n0\r\n\r\n",
        "A\r\nhellohello\r\n0\r\n\r\n",
    ] {
        let body: &[u8] = if chunks.starts_with('A') {
            b"hellohello"
        } else {
            b"hello"
        };
        expect(
            &chunked(chunks),
            &[Echo("POST", "/a", body), Echo("GET", "/smuggled", b"")],
        );
    }
}

#[test]
fn trailer_fields_follow_the_grammar() {
    for trailers in [
        "X y\r\n\r\n",
        " X: y\r\n\r\n",
        "X : y\r\n\r\n",
        ": y\r\n\r\n",
        "X: y\r\n z\r\n\r\n",
        "X: \0\r\n\r\n",
        "X",
    ] {
        expect(&chunked(&format!("0\r\n{trailers}")), &[Refused(400)]);
    }
}

#[test]
fn a_chunk_over_the_body_limit_is_refused_at_once() {
    expect(&chunked("1000001\r\n"), &[Refused(413)]);
    expect(&chunked("ffffffffffffffff\r\n"), &[Refused(413)]);
    expect(&chunked("800000\r\n"), &[]);
}

#[test]
fn pipelined_requests_after_bodies_are_answered_in_order() {
    expect(
        b"PUT /one HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc\
          POST /two HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\ndef\r\n0\r\n\r\n\
          GET /three HTTP/1.1\r\n\r\n\
          DELETE /four HTTP/1.1\r\nContent-Length: 0\r\n\r\n\
          PUT /five HTTP/1.1\r\nContent-Length: 4\r\n\r\nGET ",
        &[
            Echo("PUT", "/one", b"abc"),
            Echo("POST", "/two", b"def"),
            Echo("GET", "/three", b""),
            Echo("DELETE", "/four", b""),
            Echo("PUT", "/five", b"GET "),
        ],
    );
    // A body that looks like a request is a body; bytes after a short length are a request.
    expect(
        &with_smuggled(&format!(
            "PUT /a HTTP/1.1\r\nContent-Length: {}\r\n\r\n",
            SMUGGLED.len()
        )),
        &[Echo("PUT", "/a", SMUGGLED.as_bytes())],
    );
    expect(
        b"PUT /a HTTP/1.1\r\nContent-Length: 1\r\n\r\nhello\r\n\r\n",
        &[Echo("PUT", "/a", b"h"), Refused(400)],
    );
}

#[test]
fn a_request_asking_to_close_ends_the_connection() {
    expect(
        &with_smuggled("PUT /a HTTP/1.1\r\nConnection: close\r\nContent-Length: 2\r\n\r\nhi"),
        &[Echo("PUT", "/a", b"hi")],
    );
    expect(
        &with_smuggled("GET /a HTTP/1.0\r\n\r\n"),
        &[Echo("GET", "/a", b"")],
    );
    expect(
        &with_smuggled("GET /a HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"),
        &[Echo("GET", "/a", b""), Echo("GET", "/smuggled", b"")],
    );
}

#[test]
fn go_style_chunked_uploads_and_100_continue_still_work() {
    // What Go's net/http sends for a body of unknown length, with Expect: 100-continue.
    expect(
        &with_smuggled(
            "PUT /v1/kv/a HTTP/1.1\r\nHost: 127.0.0.1:8500\r\nUser-Agent: Go-http-client/1.1\r\n\
             Transfer-Encoding: chunked\r\nExpect: 100-continue\r\nAccept-Encoding: gzip\r\n\r\n\
             b\r\nhello world\r\n0\r\n\r\n",
        ),
        &[
            Echo("PUT", "/v1/kv/a", b"hello world"),
            Echo("GET", "/smuggled", b""),
        ],
    );
    expect(
        &with_smuggled(
            "PUT /v1/kv/a HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\nhello",
        ),
        &[
            Echo("PUT", "/v1/kv/a", b"hello"),
            Echo("GET", "/smuggled", b""),
        ],
    );
}

#[test]
fn truncated_requests_get_no_answer() {
    for input in [
        "PUT /a HTTP/1.1\r\nContent-Length: 5\r\n\r\nhell",
        "POST /a HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n",
        "POST /a HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r",
        "POST /a HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r",
        "POST /a HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5;a=\"b",
        "GET /a HTTP/1.1\r\nHost: x\r\n",
        "GET /a HTTP/1.1\r\nHost: x\r\n\r",
    ] {
        expect(input.as_bytes(), &[]);
    }
}

#[test]
fn garbage_is_refused() {
    for input in [
        &b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"[..],
        b"\0\0\0\0",
        b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
        b"GET /a HTTP/1.1\r\n\xff\xfe\r\n\r\n",
    ] {
        expect(input, &[Refused(400)]);
    }
}

#[test]
fn too_many_header_fields_are_refused_with_431() {
    let mut head = String::from("GET /a HTTP/1.1\r\n");
    for i in 0..101 {
        head.push_str(&format!("X-{i}: v\r\n"));
    }
    head.push_str("\r\n");
    expect(&with_smuggled(&head), &[Refused(431)]);
    let long = format!("GET /a HTTP/1.1\r\nX: {}\r\n\r\n", "v".repeat(70 * 1024));
    expect(&with_smuggled(&long), &[Refused(431)]);
}
