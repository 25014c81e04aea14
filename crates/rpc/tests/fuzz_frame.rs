//! Property tests (fuzzing on stable) of the server RPC frame decoder, `FrameReader`: arbitrary
//! byte streams, and valid frame sequences with mutated lengths, versions, types and bytes,
//! truncated, delivered in random segment sizes.
//!
//! For every input the reader must: yield exactly the frames, and end with exactly the typed
//! error (`TooLarge`, `Version`, `Malformed`) or clean end, that a straightforward model of the
//! wire format gives — however the stream is split into reads; never panic; and allocate no
//! more than a constant plus a multiple of the bytes received (never the length a prefix
//! declares).
//!
//! `PROPTEST_CASES` sets the proptest cases (default 256). `fuzz_loop` runs `FUZZ_ITERATIONS`
//! inputs (default 1000) from a fast hand-written generator, on every core; the long run is
//! `FUZZ_ITERATIONS=10000000 cargo test --release -p senate-rpc --test fuzz_frame fuzz_loop`.

use bytes::Bytes;
use proptest::prelude::*;
use proptest::test_runner::Config;
use senate_fuzzing::{allocations, fuzz_loop as run_fuzz_loop, reset_allocations, Tracking};
use senate_rpc::frame::{encode, Frame, FrameError, FrameReader, FrameType, HEADER_LEN};
use senate_rpc::PROTOCOL_VERSION;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, ReadBuf};

#[global_allocator]
static ALLOCATOR: Tracking = Tracking;

fn config() -> Config {
    Config {
        failure_persistence: None,
        ..Config::default()
    }
}

/// How a stream of frames ended.
#[derive(Debug, Clone, PartialEq, Eq)]
enum End {
    Clean,
    TooLarge,
    Version(u8),
    Malformed,
}

/// The frames and the end the wire format says `bytes` holds, for a reader with `max`.
fn model(bytes: &[u8], max: usize) -> (Vec<Frame>, End) {
    let mut frames = Vec::new();
    let mut rest = bytes;
    loop {
        if rest.is_empty() {
            return (frames, End::Clean);
        }
        if rest.len() < 4 {
            return (frames, End::Malformed);
        }
        let len = u32::from_be_bytes(rest[..4].try_into().expect("4 bytes")) as usize;
        if len > max {
            return (frames, End::TooLarge);
        }
        if len == 0 {
            return (frames, End::Malformed);
        }
        let Some(&version) = rest.get(4) else {
            return (frames, End::Malformed);
        };
        if version != PROTOCOL_VERSION {
            return (frames, End::Version(version));
        }
        if len < HEADER_LEN || rest.len() < 4 + len {
            return (frames, End::Malformed);
        }
        let body = &rest[4..4 + len];
        let frame_type = match body[1] {
            0 => FrameType::Request,
            1 => FrameType::ResponseOk,
            2 => FrameType::ResponseError,
            3 => FrameType::Goodbye,
            _ => return (frames, End::Malformed),
        };
        frames.push(Frame {
            frame_type,
            stream: u64::from_be_bytes(body[2..10].try_into().expect("8 bytes")),
            kind: body[10],
            payload: Bytes::copy_from_slice(&body[HEADER_LEN..]),
        });
        rest = &rest[4 + len..];
    }
}

/// Hands out `data` in segments whose sizes cycle through `segments`, as a socket would.
struct Segmented<'a> {
    data: &'a [u8],
    segments: &'a [usize],
    next: usize,
}

impl AsyncRead for Segmented<'_> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let segment = self.segments[self.next % self.segments.len()].max(1);
        self.next += 1;
        let n = segment.min(buf.remaining()).min(self.data.len());
        buf.put_slice(&self.data[..n]);
        self.data = &self.data[n..];
        Poll::Ready(Ok(()))
    }
}

/// Decodes `bytes` with a real `FrameReader`, read in `segments`.
fn decode(bytes: &[u8], max: usize, segments: &[usize]) -> (Vec<Frame>, End) {
    let source = Segmented {
        data: bytes,
        segments,
        next: 0,
    };
    let mut reader = FrameReader::new(source, max);
    let mut frames = Vec::new();
    futures::executor::block_on(async {
        loop {
            match reader.next().await {
                Ok(Some(frame)) => frames.push(frame),
                Ok(None) => return (frames, End::Clean),
                Err(FrameError::TooLarge { size, max: limit }) => {
                    assert!(size > limit && limit == max, "{size} > {limit}");
                    return (frames, End::TooLarge);
                }
                Err(FrameError::Version { theirs }) => return (frames, End::Version(theirs)),
                Err(FrameError::Malformed(_)) => return (frames, End::Malformed),
                Err(FrameError::Io(error)) => panic!("the source never fails: {error}"),
            }
        }
    })
}

/// Checks one input against the model, the allocation bound included.
fn check(bytes: &[u8], max: usize, segments: &[usize]) -> Result<(), String> {
    reset_allocations();
    let got = decode(bytes, max, segments);
    let (largest, peak) = allocations();
    let want = model(bytes, max);
    if got != want {
        return Err(format!(
            "decoded {:?}\nmodel   {:?}\n(max {max}, segments {segments:?}, {} bytes)",
            summary(&got),
            summary(&want),
            bytes.len()
        ));
    }
    // The reader's first buffer, and then at most a few times the bytes received (the frames
    // it returned included).
    let bound = 512 * 1024 + 8 * bytes.len();
    if largest > bound || peak > bound {
        return Err(format!(
            "allocated {largest} bytes at once, {peak} at peak, for {} bytes (max {max}, segments {segments:?})",
            bytes.len()
        ));
    }
    Ok(())
}

fn summary((frames, end): &(Vec<Frame>, End)) -> String {
    let frames: Vec<String> = frames
        .iter()
        .map(|f| {
            format!(
                "{:?}/{}/{}/{}B",
                f.frame_type,
                f.stream,
                f.kind,
                f.payload.len()
            )
        })
        .collect();
    format!("{frames:?} then {end:?}")
}

// ---------------------------------------------------------------------------------------
// Inputs.

/// Frame limits worth testing: tiny, around the copy/split threshold, the default.
const LIMITS: &[usize] = &[
    HEADER_LEN,
    HEADER_LEN + 5,
    1024,
    64 * 1024 + HEADER_LEN,
    1 << 20,
    senate_rpc::DEFAULT_MAX_FRAME,
];

/// One edit to an encoded stream.
#[derive(Debug, Clone)]
enum Mutation {
    /// Sets the length prefix of the frame starting at this offset (if one does).
    Length(usize, u32),
    Flip(usize, u8),
    Set(usize, u8),
    Insert(usize, Vec<u8>),
    Delete(usize, usize),
    Truncate(usize),
}

impl Mutation {
    fn apply(&self, bytes: &mut Vec<u8>, starts: &[usize]) {
        let len = bytes.len();
        let at = |i: usize, n: usize| i % n.max(1);
        match self {
            Mutation::Length(i, value) if !starts.is_empty() => {
                let start = starts[at(*i, starts.len())];
                if start + 4 <= len {
                    bytes[start..start + 4].copy_from_slice(&value.to_be_bytes());
                }
            }
            Mutation::Flip(i, bit) if len > 0 => bytes[at(*i, len)] ^= 1 << (bit % 8),
            Mutation::Set(i, b) if len > 0 => bytes[at(*i, len)] = *b,
            Mutation::Insert(i, new) => {
                let i = at(*i, len + 1);
                bytes.splice(i..i, new.iter().copied());
            }
            Mutation::Delete(i, n) if len > 0 => {
                let i = at(*i, len);
                bytes.drain(i..(i + n).min(len));
            }
            Mutation::Truncate(i) => bytes.truncate(at(*i, len + 1)),
            _ => {}
        }
    }
}

/// Length prefixes worth declaring, relative to a frame's real length and the limit.
fn interesting_length(real: u32, max: usize, choice: u8) -> u32 {
    let max = u32::try_from(max).unwrap_or(u32::MAX);
    match choice % 12 {
        0 => 0,
        1 => 1,
        2 => HEADER_LEN as u32 - 1,
        3 => HEADER_LEN as u32,
        4 => real.saturating_sub(1),
        5 => real.saturating_add(1),
        6 => max,
        7 => max.saturating_add(1),
        8 => u32::MAX,
        9 => 0x8000_0000,
        10 => max.saturating_sub(1),
        _ => real.saturating_mul(2),
    }
}

/// Encodes frames; returns the bytes and where each frame starts.
fn encode_all(frames: &[Frame]) -> (Vec<u8>, Vec<usize>) {
    let mut buf = bytes::BytesMut::new();
    let mut starts = Vec::new();
    for frame in frames {
        starts.push(buf.len());
        encode(&mut buf, frame).expect("encodes");
    }
    (buf.to_vec(), starts)
}

fn frame() -> impl Strategy<Value = Frame> {
    let payload = prop_oneof![
        6 => prop::collection::vec(any::<u8>(), 0..64),
        1 => (0usize..3).prop_map(|k| vec![7u8; [64 * 1024, 64 * 1024 + 1, 200_000][k]]),
    ];
    (0u8..4, any::<u64>(), any::<u8>(), payload).prop_map(|(t, stream, kind, payload)| Frame {
        frame_type: [
            FrameType::Request,
            FrameType::ResponseOk,
            FrameType::ResponseError,
            FrameType::Goodbye,
        ][t as usize],
        stream,
        kind,
        payload: Bytes::from(payload),
    })
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        3 => (any::<usize>(), any::<u8>(), any::<u8>()).prop_map(|(i, c, _)| Mutation::Length(i, u32::from(c))),
        2 => (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Mutation::Flip(i, b)),
        2 => (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Mutation::Set(i, b)),
        1 => (any::<usize>(), prop::collection::vec(any::<u8>(), 1..8)).prop_map(|(i, v)| Mutation::Insert(i, v)),
        1 => (any::<usize>(), 1usize..16).prop_map(|(i, n)| Mutation::Delete(i, n)),
        1 => any::<usize>().prop_map(Mutation::Truncate),
    ]
}

/// Replaces `Length` choices by concrete values for this input.
fn concretise(mutation: &Mutation, frames: &[Frame], max: usize) -> Mutation {
    match mutation {
        Mutation::Length(i, choice) if !frames.is_empty() => {
            let real = frames[i % frames.len()].body_len() as u32;
            Mutation::Length(*i, interesting_length(real, max, *choice as u8))
        }
        other => other.clone(),
    }
}

fn segments() -> impl Strategy<Value = Vec<usize>> {
    prop_oneof![
        Just(vec![1 << 20]),
        prop::collection::vec(1usize..16, 1..6),
        prop::collection::vec(1usize..100_000, 1..4),
    ]
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn arbitrary_streams_decode_as_the_model_says(
        bytes in prop::collection::vec(any::<u8>(), 0..256),
        max in prop::sample::select(LIMITS),
        segments in segments(),
    ) {
        check(&bytes, max, &segments).map_err(TestCaseError::fail)?;
    }

    #[test]
    fn mutated_frames_decode_as_the_model_says(
        frames in prop::collection::vec(frame(), 0..5),
        mutations in prop::collection::vec(mutation(), 0..4),
        max in prop::sample::select(LIMITS),
        segments in segments(),
    ) {
        let (mut bytes, starts) = encode_all(&frames);
        for mutation in &mutations {
            concretise(mutation, &frames, max).apply(&mut bytes, &starts);
        }
        check(&bytes, max, &segments).map_err(TestCaseError::fail)?;
    }
}

/// A huge declared length is not allocated, whether refused or within the limit and
/// trickling in a few bytes per read.
#[test]
fn declared_lengths_are_not_allocated_up_front() {
    let max = senate_rpc::DEFAULT_MAX_FRAME;
    let mut bytes = (max as u32).to_be_bytes().to_vec();
    bytes.extend_from_slice(&[PROTOCOL_VERSION, 0]);
    bytes.resize(3000, 0);
    for segments in [&[1 << 20][..], &[5], &[1, 2, 3]] {
        check(&bytes, max, segments).unwrap();
        reset_allocations();
        let _ = decode(&bytes, max, segments);
        let (largest, _) = allocations();
        assert!(
            largest <= 256 * 1024,
            "{largest} bytes at once, {segments:?}"
        );
    }
}

// ---------------------------------------------------------------------------------------
// The long run.

#[test]
fn fuzz_loop() {
    let report = run_fuzz_loop(1000, |seed, share| {
        loop_thread(seed, share);
        share
    });
    eprintln!("{report}");
}

fn loop_thread(seed: u64, iterations: u64) {
    use rand::{Rng, SeedableRng};
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    for iteration in 0..iterations {
        let max = LIMITS[rng.gen_range(0..LIMITS.len())];
        let segments: Vec<usize> = match rng.gen_range(0..3) {
            0 => vec![1 << 20],
            1 => (0..rng.gen_range(1..6))
                .map(|_| rng.gen_range(1..16))
                .collect(),
            _ => (0..rng.gen_range(1..4))
                .map(|_| rng.gen_range(1..100_000))
                .collect(),
        };
        let bytes = if rng.gen_bool(0.2) {
            (0..rng.gen_range(0..256)).map(|_| rng.gen()).collect()
        } else {
            let frames: Vec<Frame> = (0..rng.gen_range(0..5))
                .map(|_| {
                    let len = if rng.gen_bool(0.02) {
                        [64 * 1024, 64 * 1024 + 1, 200_000][rng.gen_range(0..3)]
                    } else {
                        rng.gen_range(0..64)
                    };
                    Frame {
                        frame_type: [
                            FrameType::Request,
                            FrameType::ResponseOk,
                            FrameType::ResponseError,
                            FrameType::Goodbye,
                        ][rng.gen_range(0..4)],
                        stream: rng.gen(),
                        kind: rng.gen(),
                        payload: Bytes::from((0..len).map(|_| rng.gen()).collect::<Vec<u8>>()),
                    }
                })
                .collect();
            let (mut bytes, starts) = encode_all(&frames);
            for _ in 0..rng.gen_range(0..4) {
                let mutation = match rng.gen_range(0..10) {
                    0..=2 => Mutation::Length(rng.gen(), rng.gen::<u8>().into()),
                    3 | 4 => Mutation::Flip(rng.gen(), rng.gen()),
                    5 | 6 => Mutation::Set(rng.gen(), rng.gen()),
                    7 => Mutation::Insert(
                        rng.gen(),
                        (0..rng.gen_range(1..8)).map(|_| rng.gen()).collect(),
                    ),
                    8 => Mutation::Delete(rng.gen(), rng.gen_range(1..16)),
                    _ => Mutation::Truncate(rng.gen()),
                };
                concretise(&mutation, &frames, max).apply(&mut bytes, &starts);
            }
            bytes
        };
        if let Err(error) = check(&bytes, max, &segments) {
            panic!("seed {seed}, iteration {iteration}: {error}\ninput {bytes:?}");
        }
    }
}

// ---------------------------------------------------------------------------------------
// The allocation tracker: per thread, the largest single allocation and the peak of live
// bytes since the last reset.
