//! Property tests (fuzzing on stable) of the hand-written HTTP/1.1 connection loop, driven
//! through `senate_http::h1::serve_connection` — the code production runs — over an in-memory
//! duplex pipe with an echo router.
//!
//! - `arbitrary_bytes_get_well_formed_answers`: any bytes, drawn from raw octets and an HTTP
//!   dictionary.
//! - `structured_requests_are_framed_as_sent`: pipelines of valid requests (random methods,
//!   targets, fields, every `Content-Length` and chunked spelling the server accepts, chunk
//!   extensions, trailers, bare-LF heads, `Expect: 100-continue`, HTTP/1.0 keep-alive),
//!   possibly ending in a smuggling attempt followed by a smuggled request, or truncated.
//!   The answers must match a model exactly: every request echoed with its exact body, the
//!   attempt refused with its status, nothing after it.
//! - `mutated_requests_get_well_formed_answers`: such pipelines with random byte flips,
//!   inserts (of bytes and HTTP tokens), deletions, duplications and truncation.
//!
//! Every input must: finish (a watchdog aborts a case that runs for a minute), allocate no
//! more than a constant plus a multiple of the bytes exchanged (never the length a header
//! declares), and get a sequence of well-formed responses — echoes, or one refusal with
//! 400/413/431/501 that closes the connection — identical whether the server reads the input
//! at once or a few bytes at a time.
//!
//! `PROPTEST_CASES` sets the number of cases of each property (default 256); the long run is
//! `PROPTEST_CASES=10000000 cargo test --release -p senate-http --test fuzz_h1`.

mod support;

use proptest::prelude::*;
use proptest::test_runner::Config;
use senate_fuzzing::{allocations, reset_allocations, Tracking};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use support::{check_output, echo_router, exchange, summary};

#[global_allocator]
static ALLOCATOR: Tracking = Tracking;

/// The cases of each property: `PROPTEST_CASES`, or 256.
fn config() -> Config {
    Config {
        failure_persistence: None,
        ..Config::default()
    }
}

/// What one run of the server on one input gave.
struct Run {
    output: Vec<u8>,
    largest: usize,
    peak: usize,
}

thread_local! {
    static RUNTIME: tokio::runtime::Runtime = support::runtime();
    static ROUTER: axum::Router = echo_router();
    static WATCHDOG: Watchdog = Watchdog::start();
}

/// Serves `input` through a pipe of `pipe` bytes, under the watchdog and the allocation
/// tracker.
fn run(input: &[u8], pipe: usize) -> Run {
    WATCHDOG.with(|watchdog| watchdog.arm(input));
    let router = ROUTER.with(Clone::clone);
    reset_allocations();
    let output = RUNTIME.with(|rt| rt.block_on(exchange(&router, input, pipe)));
    let (largest, peak) = allocations();
    WATCHDOG.with(Watchdog::disarm);
    Run {
        output,
        largest,
        peak,
    }
}

/// The memory one exchange may use: a fixed allowance (the header map, read buffers, the
/// runtime's task) plus a multiple of the bytes that actually crossed the pipe.
fn memory_bound(input: &[u8], output: &[u8]) -> usize {
    256 * 1024 + 8 * (input.len() + output.len())
}

/// Checks everything that holds for any input; returns the final replies.
fn check_any(input: &[u8], small_pipe: usize) -> Result<Vec<support::Reply>, TestCaseError> {
    let whole = run(input, 1 << 20);
    let replies = check_output(&whole.output).map_err(|error| {
        TestCaseError::fail(format!(
            "{error}\ninput {:?}",
            String::from_utf8_lossy(input)
        ))
    })?;
    let bound = memory_bound(input, &whole.output);
    prop_assert!(
        whole.largest <= bound && whole.peak <= bound,
        "allocated {} bytes at once, {} at peak, for {} bytes in: {:?}",
        whole.largest,
        whole.peak,
        input.len(),
        String::from_utf8_lossy(input)
    );
    // A few bytes per read, scaled so a long input takes at most a few hundred reads.
    let small_pipe = small_pipe * (1 + input.len() / 256);
    let split = run(input, small_pipe);
    let split_replies = check_output(&split.output).map_err(TestCaseError::fail)?;
    prop_assert_eq!(
        &replies,
        &split_replies,
        "answers differ when read {} bytes at a time: {:?}",
        small_pipe,
        String::from_utf8_lossy(input)
    );
    let bound = memory_bound(input, &split.output);
    prop_assert!(
        split.largest <= bound && split.peak <= bound,
        "allocated {} bytes at once, {} at peak, for {} bytes in, {} per read: {:?}",
        split.largest,
        split.peak,
        input.len(),
        small_pipe,
        String::from_utf8_lossy(input)
    );
    Ok(replies)
}

// ---------------------------------------------------------------------------------------
// Arbitrary bytes.

/// Pieces HTTP requests are made of, so random sequences reach past the request line.
const DICTIONARY: &[&[u8]] = &[
    b"GET ",
    b"PUT ",
    b"POST ",
    b"HEAD ",
    b"/ ",
    b"/a?b=c ",
    b"HTTP/1.1",
    b"HTTP/1.0",
    b"\r\n",
    b"\n",
    b"\r",
    b"\r\n\r\n",
    b": ",
    b":",
    b" ",
    b"\t",
    b",",
    b";",
    b"=",
    b"\"",
    b"\\",
    b"\0",
    b"\x7f",
    b"\xff",
    b"Host: x\r\n",
    b"Content-Length: ",
    b"Transfer-Encoding: ",
    b"Connection: close\r\n",
    b"Connection: keep-alive\r\n",
    b"Expect: 100-continue\r\n",
    b"chunked",
    b"gzip, chunked",
    b"0",
    b"5",
    b"ffffffffffffffff",
    b"16777217",
    b"16777216",
    b"999999",
    b"fffff",
    b"0\r\n\r\n",
    b"5\r\nhello\r\n",
    b";ext=\"v\"",
    b"X-Trailer: t\r\n",
];

fn arbitrary_input() -> impl Strategy<Value = Vec<u8>> {
    let piece = prop_oneof![
        3 => prop::collection::vec(any::<u8>(), 1..8),
        4 => prop::sample::select(DICTIONARY).prop_map(<[u8]>::to_vec),
    ];
    prop::collection::vec(piece, 0..48).prop_map(|pieces| pieces.concat())
}

// ---------------------------------------------------------------------------------------
// Structured requests and their model.

/// How a request's body is framed.
#[derive(Debug, Clone)]
enum Framing {
    None,
    /// `Content-Length` spelled in one of the accepted ways.
    Length {
        body: Vec<u8>,
        style: u8,
    },
    /// Chunked: each chunk's data, size spelling and extension; the trailer fields; the
    /// spelling of `Transfer-Encoding`.
    Chunked {
        chunks: Vec<(Vec<u8>, u8, Option<String>)>,
        last_extension: Option<String>,
        trailers: Vec<(String, String)>,
        coding: String,
    },
}

/// One valid request.
#[derive(Debug, Clone)]
struct Spec {
    method: String,
    target: String,
    http10: bool,
    fields: Vec<(String, Vec<u8>)>,
    framing: Framing,
    expect_continue: bool,
    bare_lf: bool,
    close: bool,
}

impl Spec {
    fn body(&self) -> Vec<u8> {
        match &self.framing {
            Framing::None => Vec::new(),
            Framing::Length { body, .. } => body.clone(),
            Framing::Chunked { chunks, .. } => chunks.iter().flat_map(|c| c.0.clone()).collect(),
        }
    }

    /// The bytes of this request.
    fn encode(&self, out: &mut Vec<u8>) {
        let eol: &[u8] = if self.bare_lf { b"\n" } else { b"\r\n" };
        let version = if self.http10 { "HTTP/1.0" } else { "HTTP/1.1" };
        out.extend_from_slice(format!("{} {} {version}", self.method, self.target).as_bytes());
        out.extend_from_slice(eol);
        let mut field = |name: &str, value: &[u8]| {
            out.extend_from_slice(name.as_bytes());
            out.push(b':');
            out.extend_from_slice(value);
            out.extend_from_slice(eol);
        };
        for (name, value) in &self.fields {
            field(name, value);
        }
        if self.close {
            field("Connection", b" close");
        } else if self.http10 {
            field("connection", b" Keep-Alive");
        }
        if self.expect_continue {
            field("Expect", b" 100-continue");
        }
        match &self.framing {
            Framing::None => {}
            Framing::Length { body, style } => {
                let n = body.len();
                match style % 6 {
                    0 => field("Content-Length", format!(" {n}").as_bytes()),
                    1 => field("content-length", format!("{n}").as_bytes()),
                    2 => field("CONTENT-LENGTH", format!(" \t{n} \t").as_bytes()),
                    3 => field("Content-Length", format!(" 000{n}").as_bytes()),
                    4 => field("Content-Length", format!(" {n}, {n},{n}").as_bytes()),
                    _ => {
                        field("Content-Length", format!(" {n}").as_bytes());
                        field("Content-Length", format!(" {n}").as_bytes());
                    }
                }
            }
            Framing::Chunked { coding, .. } => field("Transfer-Encoding", coding.as_bytes()),
        }
        out.extend_from_slice(eol);
        match &self.framing {
            Framing::None => {}
            Framing::Length { body, .. } => out.extend_from_slice(body),
            Framing::Chunked {
                chunks,
                last_extension,
                trailers,
                ..
            } => {
                for (data, style, extension) in chunks {
                    let size = match style % 4 {
                        0 => format!("{:x}", data.len()),
                        1 => format!("{:X}", data.len()),
                        2 => format!("00{:x}", data.len()),
                        _ => format!("{:x} \t", data.len()),
                    };
                    out.extend_from_slice(size.as_bytes());
                    if let Some(extension) = extension {
                        out.extend_from_slice(extension.as_bytes());
                    }
                    out.extend_from_slice(b"\r\n");
                    out.extend_from_slice(data);
                    out.extend_from_slice(b"\r\n");
                }
                out.push(b'0');
                if let Some(extension) = last_extension {
                    out.extend_from_slice(extension.as_bytes());
                }
                out.extend_from_slice(b"\r\n");
                for (name, value) in trailers {
                    out.extend_from_slice(format!("{name}:{value}\r\n").as_bytes());
                }
                out.extend_from_slice(b"\r\n");
            }
        }
    }
}

/// What the server must answer a request with.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Want {
    /// 200 with this `x-echo` summary and (unless HEAD) this body.
    Echo(String, Vec<u8>),
    Refused(u16),
}

fn token(max: usize) -> impl Strategy<Value = String> {
    proptest::string::string_regex(&format!("[!#$%&'*+.^_`|~0-9A-Za-z-]{{1,{max}}}"))
        .expect("regex")
}

/// A field name that does not change framing or persistence.
fn field_name() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("Host".to_string()),
        Just("User-Agent".to_string()),
        Just("X-Consul-Token".to_string()),
        Just("Accept-Encoding".to_string()),
        token(16),
    ]
    .prop_filter("framing fields are chosen separately", |name| {
        let lower = name.to_ascii_lowercase();
        ![
            "content-length",
            "transfer-encoding",
            "connection",
            "expect",
        ]
        .contains(&lower.as_str())
    })
}

const OWS: &[&[u8]] = &[b"", b" ", b"\t", b"  "];

/// A field value: OWS, then visible ASCII, obs-text, inner spaces and tabs.
fn field_value() -> impl Strategy<Value = Vec<u8>> {
    let octet = prop_oneof![
        8 => 0x21u8..=0x7e,
        1 => 0x80u8..=0xff,
        1 => Just(b' '),
        1 => Just(b'\t'),
    ];
    (
        prop::sample::select(OWS),
        prop::collection::vec(octet, 0..24),
    )
        .prop_map(|(ows, value)| [ows, &value[..]].concat())
}

/// A chunk extension as RFC 9112 §7.1.1 has it, with BWS.
fn chunk_extension() -> impl Strategy<Value = String> {
    let bws = prop::sample::select(&["", " ", "\t", " \t"][..]);
    let quoted = proptest::string::string_regex(r#"([ !#-\[\]-~]|\\[ -~]){0,10}"#)
        .expect("regex")
        .prop_map(|text| format!("\"{text}\""));
    let value = prop_oneof![token(8), quoted];
    let one = (
        bws.clone(),
        bws.clone(),
        token(8),
        prop::option::of((bws.clone(), bws, value)),
    )
        .prop_map(|(before, after, name, value)| match value {
            Some((b1, b2, value)) => format!("{before};{after}{name}{b1}={b2}{value}"),
            None => format!("{before};{after}{name}"),
        });
    prop::collection::vec(one, 1..3).prop_map(|exts| exts.concat())
}

/// A `Transfer-Encoding` value meaning exactly chunked.
fn chunked_coding() -> impl Strategy<Value = String> {
    (
        prop::sample::select(&["chunked", "Chunked", "CHUNKED", "cHUnKeD"][..]),
        prop::sample::select(&[" ", "", "\t", " , ", " ,"][..]),
        prop::sample::select(&["", " ", ",", " , "][..]),
    )
        .prop_map(|(word, before, after)| format!("{before}{word}{after}"))
}

fn body(max: usize) -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(any::<u8>(), 0..max)
}

fn framing(http10: bool) -> impl Strategy<Value = Framing> {
    let length = prop_oneof![4 => body(48), 1 => body(6000)]
        .prop_flat_map(|body| (Just(body), any::<u8>()))
        .prop_map(|(body, style)| Framing::Length { body, style });
    let chunk = (
        prop_oneof![4 => body(24), 1 => body(5000)]
            .prop_filter("not the last chunk", |d| !d.is_empty()),
        any::<u8>(),
        prop::option::weighted(0.3, chunk_extension()),
    );
    let trailer = (
        token(12),
        proptest::string::string_regex("[ -~]{0,16}").expect("regex"),
    );
    let chunked = (
        prop::collection::vec(chunk, 0..5),
        prop::option::weighted(0.2, chunk_extension()),
        prop::collection::vec(trailer, 0..3),
        chunked_coding(),
    )
        .prop_map(
            |(chunks, last_extension, trailers, coding)| Framing::Chunked {
                chunks,
                last_extension,
                trailers,
                coding,
            },
        );
    if http10 {
        prop_oneof![Just(Framing::None), length].boxed()
    } else {
        prop_oneof![1 => Just(Framing::None), 2 => length, 2 => chunked].boxed()
    }
}

fn spec() -> impl Strategy<Value = Spec> {
    let method = prop_oneof![
        prop::sample::select(&["GET", "PUT", "POST", "DELETE", "HEAD", "OPTIONS", "PATCH"][..])
            .prop_map(str::to_string),
        token(10),
    ];
    let target = proptest::string::string_regex("/[A-Za-z0-9._~/-]{0,20}(\\?[a-z0-9=&%]{0,12})?")
        .expect("regex");
    (
        method,
        target,
        prop::bool::weighted(0.1),
        prop::collection::vec((field_name(), field_value()), 0..5),
        prop::bool::weighted(0.15),
        prop::bool::weighted(0.15),
        prop::bool::weighted(0.05),
    )
        .prop_flat_map(
            |(method, target, http10, fields, expect_continue, bare_lf, close)| {
                framing(http10).prop_map(move |framing| Spec {
                    method: method.clone(),
                    target: target.clone(),
                    http10,
                    fields: fields.clone(),
                    framing,
                    expect_continue,
                    bare_lf,
                    close,
                })
            },
        )
}

/// A request the server must refuse with the given status. Each is followed by a request
/// that must not be answered.
const ATTEMPTS: &[(&str, u16)] = &[
    (
        "POST /x HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        400,
    ),
    (
        "POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n",
        400,
    ),
    (
        "PUT /x HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
        400,
    ),
    ("PUT /x HTTP/1.1\r\nContent-Length: 5, 6\r\n\r\nhello!", 400),
    ("PUT /x HTTP/1.1\r\nContent-Length: +5\r\n\r\nhello", 400),
    ("PUT /x HTTP/1.1\r\nContent-Length: 5 5\r\n\r\nhello", 400),
    ("PUT /x HTTP/1.1\r\nContent-Length: 0x5\r\n\r\nhello", 400),
    ("PUT /x HTTP/1.1\r\nContent-Length: 16777217\r\n\r\n", 413),
    ("POST /x HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n", 400),
    (
        "POST /x HTTP/1.1\r\nTransfer-Encoding: chunked, gzip\r\n\r\n0\r\n\r\n",
        400,
    ),
    (
        "POST /x HTTP/1.1\r\nTransfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n",
        400,
    ),
    (
        "POST /x HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n",
        501,
    ),
    (
        "POST /x HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        400,
    ),
    ("GET /x HTTP/1.1\r\nX: a\r\n b\r\n\r\n", 400),
    (
        "POST /x HTTP/1.1\r\nTransfer-Encoding:\r\n chunked\r\n\r\n0\r\n\r\n",
        400,
    ),
    ("GET /x HTTP/1.1\r\nHost : x\r\n\r\n", 400),
    ("GET /x HTTP/1.1\rHost: x\r\n\r\n", 400),
    ("GET /x HTTP/1.1\r\nX: a\rb\r\n\r\n", 400),
    ("GET  /x HTTP/1.1\r\n\r\n", 400),
    ("GET /x HTTP/1.1 \r\n\r\n", 400),
    (
        "POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n\r\n\r\n",
        400,
    ),
    (
        "POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5;a\nb\r\nhello\r\n0\r\n\r\n",
        400,
    ),
    (
        "POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\nhello\r\n0\r\n\r\n",
        400,
    ),
    (
        "POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\n0\r\n\r\n",
        400,
    ),
    (
        "POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\n",
        400,
    ),
    (
        "POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhelloXX\r\n0\r\n\r\n",
        400,
    ),
    (
        "POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n10000000000000000\r\n",
        400,
    ),
    (
        "POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffff\r\n",
        413,
    ),
    (
        "POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5;=\r\nhello\r\n0\r\n\r\n",
        400,
    ),
    (
        "POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX y\r\n\r\n",
        400,
    ),
    ("GET /x HTTP/1.1\r\nX\0: y\r\n\r\n", 400),
];

/// A pipeline, how it ends (nothing, a smuggling attempt, or a cut at a fraction of its
/// length), and the pipe size of the split run.
#[derive(Debug, Clone)]
struct Pipeline {
    specs: Vec<Spec>,
    ending: Ending,
    small_pipe: usize,
}

#[derive(Debug, Clone)]
enum Ending {
    Whole,
    Attempt(usize),
    Cut(Pick),
}

fn pipeline() -> impl Strategy<Value = Pipeline> {
    let ending = prop_oneof![
        2 => Just(Ending::Whole),
        2 => (0..ATTEMPTS.len()).prop_map(Ending::Attempt),
        1 => pick().prop_map(Ending::Cut),
    ];
    (prop::collection::vec(spec(), 1..5), ending, 1usize..=7).prop_map(
        |(specs, ending, small_pipe)| Pipeline {
            specs,
            ending,
            small_pipe,
        },
    )
}

const SMUGGLED: &[u8] = b"GET /smuggled HTTP/1.1\r\n\r\n";

impl Pipeline {
    /// The bytes, and the answers the model expects.
    fn encode(&self) -> (Vec<u8>, Vec<Want>) {
        let mut bytes = Vec::new();
        let mut ends = Vec::new();
        for spec in &self.specs {
            spec.encode(&mut bytes);
            ends.push(bytes.len());
        }
        let cut = match &self.ending {
            Ending::Whole => bytes.len(),
            Ending::Attempt(_) => bytes.len(),
            Ending::Cut(at) => at.index(bytes.len() + 1),
        };
        bytes.truncate(cut);
        let mut want = Vec::new();
        let mut open = true;
        for (spec, end) in self.specs.iter().zip(ends) {
            if !open || end > cut {
                open = false;
                break;
            }
            let body = spec.body();
            want.push(Want::Echo(summary(&spec.method, &spec.target, &body), body));
            open = !spec.close;
        }
        if let Ending::Attempt(i) = self.ending {
            let (attempt, status) = ATTEMPTS[i];
            bytes.extend_from_slice(attempt.as_bytes());
            bytes.extend_from_slice(SMUGGLED);
            if open {
                want.push(Want::Refused(status));
            }
        }
        (bytes, want)
    }
}

fn model_check(
    replies: &[support::Reply],
    want: &[Want],
    input: &[u8],
) -> Result<(), TestCaseError> {
    let got: Vec<Want> = replies
        .iter()
        .map(|reply| match reply.echo() {
            Some(echo) => {
                let body = if echo.starts_with("HEAD ") {
                    Vec::new()
                } else {
                    reply.body.clone()
                };
                Want::Echo(echo.to_string(), body)
            }
            None => Want::Refused(reply.status),
        })
        .collect();
    let want: Vec<Want> = want
        .iter()
        .map(|w| match w {
            Want::Echo(echo, _) if echo.starts_with("HEAD ") => {
                Want::Echo(echo.clone(), Vec::new())
            }
            other => other.clone(),
        })
        .collect();
    prop_assert_eq!(got, want, "input {:?}", String::from_utf8_lossy(input));
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Mutations.

/// A position among however many there turn out to be.
#[derive(Debug, Clone, Copy)]
struct Pick(usize);

impl Pick {
    fn index(self, len: usize) -> usize {
        self.0 % len.max(1)
    }
}

fn pick() -> impl Strategy<Value = Pick> {
    any::<usize>().prop_map(Pick)
}

/// Bytes a mutation may set.
const SET_BYTES: &[u8] = b"\r\n\0 \t:;,=\"\\0fF-+\x7f\x80\xff";

/// One edit to an input.
#[derive(Debug, Clone)]
enum Mutation {
    Flip(Pick, u8),
    Set(Pick, u8),
    Insert(Pick, Vec<u8>),
    Delete(Pick, usize),
    Duplicate(Pick, usize),
    Truncate(Pick),
    /// Replaces one run of (hex) digits — a length, a chunk size — with another number.
    Number(Pick, &'static str),
}

/// Numbers worth declaring: edges of the body limit and of u64, in decimal and hex.
const NUMBERS: &[&str] = &[
    "0",
    "1",
    "00",
    "4096",
    "65536",
    "999999",
    "16777215",
    "16777216",
    "16777217",
    "ffffff",
    "1000000",
    "ffffffffffffffff",
    "18446744073709551615",
    "18446744073709551616",
    "10000000000000000",
];

fn mutation() -> impl Strategy<Value = Mutation> {
    let interesting = prop_oneof![
        any::<u8>().prop_map(|b| vec![b]),
        prop::sample::select(DICTIONARY).prop_map(<[u8]>::to_vec),
    ];
    prop_oneof![
        2 => (pick(), 0u8..8).prop_map(|(at, bit)| Mutation::Flip(at, bit)),
        2 => (pick(), prop::sample::select(SET_BYTES))
            .prop_map(|(at, b)| Mutation::Set(at, b)),
        3 => (pick(), interesting).prop_map(|(at, bytes)| Mutation::Insert(at, bytes)),
        2 => (pick(), 1usize..16).prop_map(|(at, n)| Mutation::Delete(at, n)),
        1 => (pick(), 1usize..32).prop_map(|(at, n)| Mutation::Duplicate(at, n)),
        1 => pick().prop_map(Mutation::Truncate),
        3 => (pick(), prop::sample::select(NUMBERS)).prop_map(|(at, n)| Mutation::Number(at, n)),
    ]
}

impl Mutation {
    fn apply(&self, bytes: &mut Vec<u8>) {
        let len = bytes.len();
        match self {
            Mutation::Flip(at, bit) if len > 0 => bytes[at.index(len)] ^= 1 << bit,
            Mutation::Set(at, b) if len > 0 => bytes[at.index(len)] = *b,
            Mutation::Insert(at, new) => {
                let at = at.index(len + 1);
                bytes.splice(at..at, new.iter().copied());
            }
            Mutation::Delete(at, n) if len > 0 => {
                let at = at.index(len);
                bytes.drain(at..(at + n).min(len));
            }
            Mutation::Duplicate(at, n) if len > 0 => {
                let at = at.index(len);
                let piece = bytes[at..(at + n).min(len)].to_vec();
                bytes.splice(at..at, piece);
            }
            Mutation::Truncate(at) => bytes.truncate(at.index(len + 1)),
            Mutation::Number(at, number) => {
                let mut runs = Vec::new();
                let mut i = 0;
                while i < len {
                    if bytes[i].is_ascii_hexdigit() {
                        let start = i;
                        while i < len && bytes[i].is_ascii_hexdigit() {
                            i += 1;
                        }
                        runs.push(start..i);
                    }
                    i += 1;
                }
                if !runs.is_empty() {
                    let run = runs.swap_remove(at.index(runs.len()));
                    bytes.splice(run, number.bytes());
                }
            }
            _ => {}
        }
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn arbitrary_bytes_get_well_formed_answers(input in arbitrary_input(), small_pipe in 1usize..=7) {
        check_any(&input, small_pipe)?;
    }

    #[test]
    fn structured_requests_are_framed_as_sent(pipeline in pipeline()) {
        let (input, want) = pipeline.encode();
        let replies = check_any(&input, pipeline.small_pipe)?;
        model_check(&replies, &want, &input)?;
    }

    #[test]
    fn mutated_requests_get_well_formed_answers(
        pipeline in pipeline(),
        mutations in prop::collection::vec(mutation(), 1..6),
    ) {
        let (mut input, _) = pipeline.encode();
        for mutation in &mutations {
            mutation.apply(&mut input);
        }
        check_any(&input, pipeline.small_pipe)?;
    }
}

/// Deterministic checks of the bounds the properties rely on: a declared length is not
/// allocated before its bytes arrive, and a head trickling in costs linear time.
#[test]
fn declared_lengths_are_not_allocated_up_front() {
    for input in [
        &b"PUT /a HTTP/1.1\r\nContent-Length: 16777216\r\n\r\nabc"[..],
        b"PUT /a HTTP/1.1\r\nContent-Length: 16777215\r\n\r\nabcdefghijklmnopqrstuvwxyz0123456789",
        b"PUT /a HTTP/1.1\r\nContent-Length: 16000000\r\nExpect: 100-continue\r\n\r\n",
        b"POST /a HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nfffff0\r\nabc",
    ] {
        // Whole, and trickling in (where growing by capacity rather than by bytes held
        // doubled the buffer on every read).
        for pipe in [1 << 20, 5] {
            let run = run(input, pipe);
            assert!(run.output.is_empty() || check_output(&run.output).is_ok());
            assert!(
                run.largest <= 64 * 1024 && run.peak <= memory_bound(input, &run.output),
                "{} bytes at once for {:?}",
                run.largest,
                String::from_utf8_lossy(input)
            );
        }
    }
    let mut trickle = b"PUT /a HTTP/1.1\r\nContent-Length: 16777215\r\n\r\n".to_vec();
    trickle.resize(trickle.len() + 3000, b'x');
    let run = run(&trickle, 5);
    assert!(run.largest <= 64 * 1024, "{} bytes at once", run.largest);
}

// ---------------------------------------------------------------------------------------
// The long run: the same inputs from a fast hand-written generator (proptest's strategies
// cost ~0.5 ms a case, the server ~30 µs), for millions of cases.

/// Runs `FUZZ_ITERATIONS` inputs (default 2000) on every core: a tenth arbitrary bytes, a
/// third structured pipelines checked against the model, the rest mutated pipelines; every
/// fourth is also served a few bytes per read and compared. `FUZZ_SEED` repeats a run.
#[test]
fn fuzz_loop() {
    let report = senate_fuzzing::fuzz_loop(2000, |seed, share| {
        loop_thread(seed, share);
        share
    });
    eprintln!("{report}");
}

fn loop_thread(seed: u64, iterations: u64) {
    use rand::{Rng, SeedableRng};
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    for iteration in 0..iterations {
        let kind = rng.gen_range(0..10);
        let pipeline = gen_pipeline(&mut rng);
        let (mut input, want) = pipeline.encode();
        if kind == 0 {
            input = gen_arbitrary(&mut rng);
        } else if kind >= 4 {
            for _ in 0..rng.gen_range(1..6) {
                gen_mutation(&mut rng).apply(&mut input);
            }
        }
        let split = iteration % 4 == 0;
        let result =
            check_loop_case(&input, split.then_some(pipeline.small_pipe)).and_then(|replies| {
                match kind {
                    1..=3 => model_check(&replies, &want, &input),
                    _ => Ok(()),
                }
            });
        if let Err(error) = result {
            panic!(
                "seed {seed}, iteration {iteration}: {error}\ninput {:?}",
                String::from_utf8_lossy(&input)
            );
        }
    }
}

/// [`check_any`], with the split run only when asked for.
fn check_loop_case(
    input: &[u8],
    small_pipe: Option<usize>,
) -> Result<Vec<support::Reply>, TestCaseError> {
    match small_pipe {
        Some(pipe) => check_any(input, pipe),
        None => {
            let whole = run(input, 1 << 20);
            let replies = check_output(&whole.output).map_err(TestCaseError::fail)?;
            let bound = memory_bound(input, &whole.output);
            prop_assert!(
                whole.largest <= bound && whole.peak <= bound,
                "allocated {} bytes at once, {} at peak",
                whole.largest,
                whole.peak
            );
            Ok(replies)
        }
    }
}

type Rng = rand::rngs::StdRng;

fn choose<T: Copy>(rng: &mut Rng, items: &[T]) -> T {
    use rand::Rng as _;
    items[rng.gen_range(0..items.len())]
}

fn gen_bytes(rng: &mut Rng, max: usize, mut octet: impl FnMut(&mut Rng) -> u8) -> Vec<u8> {
    use rand::Rng as _;
    let len = rng.gen_range(0..max);
    (0..len).map(|_| octet(rng)).collect()
}

const TCHARS: &[u8] =
    b"!#$%&'*+.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz-";

fn gen_token(rng: &mut Rng, max: usize) -> String {
    use rand::Rng as _;
    let len = rng.gen_range(1..=max);
    (0..len).map(|_| char::from(choose(rng, TCHARS))).collect()
}

fn gen_arbitrary(rng: &mut Rng) -> Vec<u8> {
    use rand::Rng as _;
    let mut input = Vec::new();
    for _ in 0..rng.gen_range(0..48) {
        if rng.gen_bool(3.0 / 7.0) {
            input.extend(gen_bytes(rng, 8, |rng| rng.gen()));
        } else {
            input.extend_from_slice(choose(rng, DICTIONARY));
        }
    }
    input
}

fn gen_body(rng: &mut Rng, small: usize, large: usize) -> Vec<u8> {
    use rand::Rng as _;
    let max = if rng.gen_bool(0.2) { large } else { small };
    gen_bytes(rng, max, |rng| rng.gen())
}

fn gen_extension(rng: &mut Rng) -> String {
    use rand::Rng as _;
    const BWS: &[&str] = &["", " ", "\t", " \t"];
    const QUOTED: &[u8] = b" !#$%&'()*+,-./09:;<=>?@AZ[]^_`az{|}~\t";
    let mut out = String::new();
    for _ in 0..rng.gen_range(1..3) {
        out.push_str(choose(rng, BWS));
        out.push(';');
        out.push_str(choose(rng, BWS));
        out.push_str(&gen_token(rng, 8));
        if rng.gen_bool(0.5) {
            out.push_str(choose(rng, BWS));
            out.push('=');
            out.push_str(choose(rng, BWS));
            if rng.gen_bool(0.5) {
                out.push_str(&gen_token(rng, 8));
            } else {
                out.push('"');
                for _ in 0..rng.gen_range(0..10) {
                    if rng.gen_bool(0.2) {
                        out.push('\\');
                        out.push(char::from(rng.gen_range(0x20u8..0x7f)));
                    } else {
                        out.push(char::from(choose(rng, QUOTED)));
                    }
                }
                out.push('"');
            }
        }
    }
    out
}

fn gen_spec(rng: &mut Rng) -> Spec {
    use rand::Rng as _;
    const METHODS: &[&str] = &["GET", "PUT", "POST", "DELETE", "HEAD", "OPTIONS", "PATCH"];
    const NAMES: &[&str] = &["Host", "User-Agent", "X-Consul-Token", "Accept-Encoding"];
    const PATH: &[u8] = b"ABCXYZabcxyz0189._~/-";
    const QUERY: &[u8] = b"abz019=&%";
    let method = if rng.gen_bool(0.8) {
        choose(rng, METHODS).to_string()
    } else {
        gen_token(rng, 10)
    };
    let mut target = String::from("/");
    for _ in 0..rng.gen_range(0..=20) {
        target.push(char::from(choose(rng, PATH)));
    }
    if rng.gen_bool(0.5) {
        target.push('?');
        for _ in 0..rng.gen_range(0..=12) {
            target.push(char::from(choose(rng, QUERY)));
        }
    }
    let http10 = rng.gen_bool(0.1);
    let mut fields = Vec::new();
    for _ in 0..rng.gen_range(0..5) {
        let name = if rng.gen_bool(0.8) {
            choose(rng, NAMES).to_string()
        } else {
            gen_token(rng, 16)
        };
        let lower = name.to_ascii_lowercase();
        if [
            "content-length",
            "transfer-encoding",
            "connection",
            "expect",
        ]
        .contains(&lower.as_str())
        {
            continue;
        }
        let mut value = choose(rng, OWS).to_vec();
        value.extend(gen_bytes(rng, 24, |rng| match rng.gen_range(0..11) {
            0 => rng.gen_range(0x80..=0xff),
            1 => b' ',
            2 => b'\t',
            _ => rng.gen_range(0x21..=0x7e),
        }));
        fields.push((name, value));
    }
    let framing = match rng.gen_range(0..if http10 { 2 } else { 5 }) {
        0 => Framing::None,
        1 | 2 => Framing::Length {
            body: gen_body(rng, 48, 6000),
            style: rng.gen(),
        },
        _ => {
            let chunks = (0..rng.gen_range(0..5))
                .map(|_| {
                    let mut data = gen_body(rng, 24, 5000);
                    if data.is_empty() {
                        data.push(rng.gen());
                    }
                    let extension = rng.gen_bool(0.3).then(|| gen_extension(rng));
                    (data, rng.gen(), extension)
                })
                .collect();
            let trailers = (0..rng.gen_range(0..3))
                .map(|_| {
                    let value = gen_bytes(rng, 16, |rng| rng.gen_range(0x20..=0x7e));
                    (gen_token(rng, 12), String::from_utf8(value).expect("ASCII"))
                })
                .collect();
            let coding = format!(
                "{}{}{}",
                choose(rng, &[" ", "", "\t", " , ", " ,"]),
                choose(rng, &["chunked", "Chunked", "CHUNKED", "cHUnKeD"]),
                choose(rng, &["", " ", ",", " , "]),
            );
            Framing::Chunked {
                chunks,
                last_extension: rng.gen_bool(0.2).then(|| gen_extension(rng)),
                trailers,
                coding,
            }
        }
    };
    Spec {
        method,
        target,
        http10,
        fields,
        framing,
        expect_continue: rng.gen_bool(0.15),
        bare_lf: rng.gen_bool(0.15),
        close: rng.gen_bool(0.05),
    }
}

fn gen_pipeline(rng: &mut Rng) -> Pipeline {
    use rand::Rng as _;
    let specs = (0..rng.gen_range(1..5)).map(|_| gen_spec(rng)).collect();
    let ending = match rng.gen_range(0..5) {
        0 | 1 => Ending::Whole,
        2 | 3 => Ending::Attempt(rng.gen_range(0..ATTEMPTS.len())),
        _ => Ending::Cut(Pick(rng.gen())),
    };
    Pipeline {
        specs,
        ending,
        small_pipe: rng.gen_range(1..=7),
    }
}

fn gen_mutation(rng: &mut Rng) -> Mutation {
    use rand::Rng as _;
    let at = Pick(rng.gen());
    match rng.gen_range(0..14) {
        0 | 1 => Mutation::Flip(at, rng.gen_range(0..8)),
        2 | 3 => Mutation::Set(at, choose(rng, SET_BYTES)),
        4..=6 => Mutation::Insert(
            at,
            if rng.gen_bool(0.5) {
                vec![rng.gen()]
            } else {
                choose(rng, DICTIONARY).to_vec()
            },
        ),
        7 | 8 => Mutation::Delete(at, rng.gen_range(1..16)),
        9 => Mutation::Duplicate(at, rng.gen_range(1..32)),
        10 => Mutation::Truncate(at),
        _ => Mutation::Number(at, choose(rng, NUMBERS)),
    }
}

// ---------------------------------------------------------------------------------------
// The watchdog.

/// Aborts the process, printing the input, if one case runs for a minute: a hang is a bug.
struct Watchdog {
    /// When the running case started (`None` between cases), and its input.
    slot: Arc<Mutex<(Option<Instant>, Vec<u8>)>>,
}

impl Watchdog {
    const LIMIT: Duration = Duration::from_secs(60);

    fn start() -> Watchdog {
        let slot = Arc::new(Mutex::new((None::<Instant>, Vec::new())));
        let watched = Arc::downgrade(&slot);
        std::thread::spawn(move || {
            while let Some(slot) = watched.upgrade() {
                let guard = slot.lock().unwrap_or_else(|e| e.into_inner());
                if guard.0.is_some_and(|since| since.elapsed() > Self::LIMIT) {
                    eprintln!(
                        "a case ran for over {:?}; input {:?}",
                        Self::LIMIT,
                        String::from_utf8_lossy(&guard.1)
                    );
                    std::process::abort();
                }
                drop(guard);
                drop(slot);
                std::thread::sleep(Duration::from_millis(500));
            }
        });
        Watchdog { slot }
    }

    fn arm(&self, input: &[u8]) {
        let mut slot = self.slot.lock().unwrap_or_else(|e| e.into_inner());
        slot.0 = Some(Instant::now());
        slot.1.clear();
        slot.1.extend_from_slice(input);
    }

    fn disarm(&self) {
        self.slot.lock().unwrap_or_else(|e| e.into_inner()).0 = None;
    }
}
