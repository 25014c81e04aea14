//! Property tests (fuzzing on stable) of the gossip decoders, through
//! `senate_gossip::fuzzing::Node` — what a node runs on bytes from the network:
//!
//! - datagrams: the envelope (AES-GCM opening when encryption is on), then the coordinate-ping
//!   decoder or foca with this crate's codec and broadcast handlers (membership updates, leave
//!   intents, user events);
//! - TCP frames (join, keyring): length prefix, body, envelope, version byte, bincode.
//!
//! Inputs are arbitrary bytes and valid messages with bit flips, byte changes, insertions,
//! deletions, truncation, replaced length prefixes and version bytes, both in the clear and
//! (for an encrypted node) mutated before sealing, so they get past the authentication; and
//! messages sealed with another key. Every input must be decoded or refused with an error,
//! never panic, and allocate no more than a constant plus a multiple of its length (never a
//! length it declares).
//!
//! `PROPTEST_CASES` sets the proptest cases (default 256). `fuzz_loop` runs `FUZZ_ITERATIONS`
//! inputs (default 3000) from a fast hand-written generator, on every core; the long run is
//! `FUZZ_ITERATIONS=10000000 cargo test --release -p senate-gossip --test fuzz_codec fuzz_loop`.

use proptest::prelude::*;
use proptest::test_runner::Config;
use senate_fuzzing::{allocations, fuzz_loop as run_fuzz_loop, reset_allocations, Tracking};
use senate_gossip::fuzzing::Node;
use std::cell::RefCell;

#[global_allocator]
static ALLOCATOR: Tracking = Tracking;

/// A 256-bit key, and another.
const KEY: &str = "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=";
const OTHER_KEY: &str = "AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI=";

fn config() -> Config {
    Config {
        failure_persistence: None,
        ..Config::default()
    }
}

/// The nodes a thread feeds: in the clear, and encrypted. Rebuilt every so often, so foca's
/// member list and broadcast backlog stay small.
struct Nodes {
    plain: Node,
    sealed: Node,
    fed: usize,
}

impl Nodes {
    fn new() -> Nodes {
        Nodes {
            plain: Node::new(None),
            sealed: Node::new(Some(KEY)),
            fed: 0,
        }
    }

    fn node(&mut self, encrypted: bool) -> &mut Node {
        self.fed += 1;
        if self.fed > 500 {
            *self = Nodes::new();
            self.fed = 1;
        }
        if encrypted {
            &mut self.sealed
        } else {
            &mut self.plain
        }
    }
}

thread_local! {
    static NODES: RefCell<Nodes> = RefCell::new(Nodes::new());
    /// The valid messages: (plain datagrams, sealed datagrams, plain frames, sealed frames,
    /// plaintext of datagrams and frames for sealing after mutation).
    static SAMPLES: Samples = Samples::new();
}

struct Samples {
    datagrams: [Vec<Vec<u8>>; 2],
    frames: [Vec<Vec<u8>>; 2],
}

impl Samples {
    fn new() -> Samples {
        let plain = Node::new(None);
        let sealed = Node::new(Some(KEY));
        Samples {
            datagrams: [plain.datagrams(), sealed.datagrams()],
            frames: [plain.frames(), sealed.frames()],
        }
    }
}

/// What kind of bytes an input is.
#[derive(Debug, Clone, Copy)]
enum Target {
    Datagram,
    Frame,
}

/// Feeds `bytes` to the plain or encrypted node; checks no panic (by returning) and the
/// allocation bound. Returns whether it decoded.
fn feed(target: Target, encrypted: bool, bytes: &[u8]) -> Result<bool, String> {
    NODES.with(|nodes| {
        let mut nodes = nodes.borrow_mut();
        let node = nodes.node(encrypted);
        reset_allocations();
        let result = match target {
            Target::Datagram => node.datagram(bytes),
            Target::Frame => node.frame(bytes),
        };
        let (largest, peak) = allocations();
        // serde preallocates a sequence up to 1 MiB from a declared count; beyond that, the
        // decoders may only hold a few times what arrived.
        let bound = (1 << 20) + 64 * 1024 + 16 * bytes.len();
        if largest > bound || peak > 2 * bound {
            return Err(format!(
                "allocated {largest} bytes at once, {peak} at peak, for a {}-byte {target:?} ({})",
                bytes.len(),
                if encrypted { "encrypted" } else { "plain" }
            ));
        }
        Ok(result.is_ok())
    })
}

// ---------------------------------------------------------------------------------------
// Mutations.

#[derive(Debug, Clone)]
enum Mutation {
    Flip(usize, u8),
    Set(usize, u8),
    Insert(usize, Vec<u8>),
    Delete(usize, usize),
    Truncate(usize),
    /// Overwrites 1, 2, 4 or 8 bytes with an edge value (a varint marker, a huge length).
    Edge(usize, u8),
    /// Sets the first byte (a version or tag).
    First(u8),
    /// Sets a TCP frame's 4-byte length prefix.
    Prefix(u32),
}

/// Edge values for multi-byte fields: bincode varint markers (251..=255 announce u16..u128)
/// followed by the largest values, and plain big-endian extremes.
const EDGES: &[&[u8]] = &[
    &[0xFF],
    &[0xFE],
    &[0xFD, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F],
    &[0xFC, 0xFF, 0xFF, 0xFF, 0x7F],
    &[0xFB, 0xFF, 0xFF],
    &[0xFD, 0x00, 0x00, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00],
    &[0xFC, 0x00, 0x00, 0x7F, 0x00],
    &[0x00],
    &[0x80],
    &[0xFF, 0xFF],
    &[0x00, 0x00, 0x00, 0x00],
];

impl Mutation {
    fn apply(&self, bytes: &mut Vec<u8>) {
        let len = bytes.len();
        let at = |i: usize, n: usize| i % n.max(1);
        match self {
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
            Mutation::Edge(i, which) if len > 0 => {
                let edge = EDGES[*which as usize % EDGES.len()];
                let i = at(*i, len);
                let end = (i + edge.len()).min(len);
                bytes[i..end].copy_from_slice(&edge[..end - i]);
            }
            Mutation::First(b) if len > 0 => bytes[0] = *b,
            Mutation::Prefix(value) if len >= 4 => {
                bytes[..4].copy_from_slice(&value.to_be_bytes());
            }
            _ => {}
        }
    }
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        3 => (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Mutation::Flip(i, b)),
        2 => (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Mutation::Set(i, b)),
        1 => (any::<usize>(), prop::collection::vec(any::<u8>(), 1..8)).prop_map(|(i, v)| Mutation::Insert(i, v)),
        1 => (any::<usize>(), 1usize..16).prop_map(|(i, n)| Mutation::Delete(i, n)),
        1 => any::<usize>().prop_map(Mutation::Truncate),
        3 => (any::<usize>(), any::<u8>()).prop_map(|(i, w)| Mutation::Edge(i, w)),
        1 => prop_oneof![Just(0u8), Just(1), Just(2), Just(3), Just(0x80), Just(0x81), Just(0x82), any::<u8>()]
            .prop_map(Mutation::First),
        1 => prop_oneof![Just(0u32), Just(1), Just(8 << 20), Just((8 << 20) + 1), Just(u32::MAX), any::<u32>()]
            .prop_map(Mutation::Prefix),
    ]
}

/// A sample, mutated. For the encrypted node, `inside` mutates the plaintext and seals it
/// again (for datagrams; a frame's prefix is outside the seal), so mutations reach the
/// decoders behind the authentication.
fn mutated(
    target: Target,
    encrypted: bool,
    sample: usize,
    inside: bool,
    mutations: &[Mutation],
) -> Vec<u8> {
    SAMPLES.with(|samples| {
        let e = usize::from(encrypted);
        let pool = match target {
            Target::Datagram => &samples.datagrams,
            Target::Frame => &samples.frames,
        };
        if encrypted && inside {
            let plain = &pool[0];
            let mut bytes = plain[sample % plain.len()].clone();
            for mutation in mutations {
                mutation.apply(&mut bytes);
            }
            NODES.with(|nodes| match target {
                Target::Datagram => nodes.borrow().sealed.seal(&bytes),
                Target::Frame => {
                    // Re-frame: seal the mutated body, with a true prefix.
                    let body = bytes.get(4..).unwrap_or_default();
                    let sealed = nodes.borrow().sealed.seal(body);
                    let mut framed = (sealed.len() as u32).to_be_bytes().to_vec();
                    framed.extend_from_slice(&sealed);
                    framed
                }
            })
        } else {
            let pool = &pool[e];
            let mut bytes = pool[sample % pool.len()].clone();
            for mutation in mutations {
                mutation.apply(&mut bytes);
            }
            bytes
        }
    })
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn arbitrary_datagrams_are_refused_without_panic(
        bytes in prop::collection::vec(any::<u8>(), 0..1500),
        encrypted in any::<bool>(),
    ) {
        feed(Target::Datagram, encrypted, &bytes).map_err(TestCaseError::fail)?;
    }

    #[test]
    fn arbitrary_frames_are_refused_without_panic(
        bytes in prop::collection::vec(any::<u8>(), 0..600),
        encrypted in any::<bool>(),
    ) {
        feed(Target::Frame, encrypted, &bytes).map_err(TestCaseError::fail)?;
    }

    #[test]
    fn mutated_datagrams_decode_or_fail_without_panic(
        encrypted in any::<bool>(),
        sample in any::<usize>(),
        inside in any::<bool>(),
        mutations in prop::collection::vec(mutation(), 0..5),
    ) {
        let bytes = mutated(Target::Datagram, encrypted, sample, inside, &mutations);
        feed(Target::Datagram, encrypted, &bytes).map_err(TestCaseError::fail)?;
    }

    #[test]
    fn mutated_frames_decode_or_fail_without_panic(
        encrypted in any::<bool>(),
        sample in any::<usize>(),
        inside in any::<bool>(),
        mutations in prop::collection::vec(mutation(), 0..5),
    ) {
        let bytes = mutated(Target::Frame, encrypted, sample, inside, &mutations);
        feed(Target::Frame, encrypted, &bytes).map_err(TestCaseError::fail)?;
    }
}

/// The samples are valid: unmutated, they decode (so the mutations start from messages that
/// reach every decoder); under another key, or in the clear to an encrypted node, they are
/// refused.
#[test]
fn samples_decode_and_other_keys_are_refused() {
    SAMPLES.with(|samples| {
        for (e, encrypted) in [(0, false), (1, true)] {
            for bytes in &samples.frames[e] {
                assert!(feed(Target::Frame, encrypted, bytes).unwrap(), "{bytes:?}");
            }
            for bytes in &samples.datagrams[e] {
                let mut node = Node::new(if encrypted { Some(KEY) } else { None });
                node.datagram(bytes)
                    .unwrap_or_else(|error| panic!("{error}: {bytes:?}"));
            }
        }
        let mut other = Node::new(Some(OTHER_KEY));
        for bytes in &samples.datagrams[1] {
            assert!(other.datagram(bytes).is_err());
        }
        for bytes in &samples.frames[1] {
            assert!(other.frame(bytes).is_err());
        }
        let mut strict = Node::new(Some(KEY));
        for bytes in &samples.datagrams[0] {
            assert!(strict.datagram(bytes).is_err(), "plaintext refused");
        }
    });
}

/// A declared length is not allocated before its bytes arrive: a frame prefix of 8 MiB, and
/// strings or sequences claiming the datagram limit inside a small datagram.
#[test]
fn declared_lengths_are_not_allocated_up_front() {
    let mut frame = (8u32 << 20).to_be_bytes().to_vec();
    frame.extend_from_slice(&[1, 0, 0]);
    for encrypted in [false, true] {
        feed(Target::Frame, encrypted, &frame).unwrap();
    }
    // A header whose sender name claims 4 MiB (bincode varint 0xFC + u32, little-endian),
    // and one whose membership update does, behind a valid header.
    let mut datagram = vec![1u8, 0xFC, 0x00, 0x00, 0x40, 0x00];
    datagram.resize(64, b'n');
    feed(Target::Datagram, false, &datagram).unwrap();
    let mut update = SAMPLES.with(|samples| samples.datagrams[0][2].clone());
    let header_len = update.len() - 2;
    update.truncate(header_len.min(update.len()));
    update.extend_from_slice(&[0, 1, 0xFC, 0x00, 0x00, 0x40, 0x00, b'n', b'n']);
    feed(Target::Datagram, false, &update).unwrap();
}

// ---------------------------------------------------------------------------------------
// The long run.

#[test]
fn fuzz_loop() {
    let report = run_fuzz_loop(3000, loop_thread);
    eprintln!("{report}, {} decoded", report.tally);
}

/// SplitMix64: enough randomness for choosing mutations.
struct Prng(u64);

impl Prng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn byte(&mut self) -> u8 {
        self.next() as u8
    }
}

/// Runs `iterations` inputs; returns how many decoded.
fn loop_thread(seed: u64, iterations: u64) -> u64 {
    let mut rng = Prng(seed);
    let mut decoded = 0;
    for iteration in 0..iterations {
        let target = if rng.below(2) == 0 {
            Target::Datagram
        } else {
            Target::Frame
        };
        let encrypted = rng.below(2) == 0;
        let bytes = if rng.below(10) == 0 {
            let max = match target {
                Target::Datagram => 1500,
                Target::Frame => 600,
            };
            (0..rng.below(max)).map(|_| rng.byte()).collect()
        } else {
            let mutations: Vec<Mutation> = (0..rng.below(5))
                .map(|_| {
                    let i = rng.next() as usize;
                    match rng.below(13) {
                        0..=2 => Mutation::Flip(i, rng.byte()),
                        3 | 4 => Mutation::Set(i, rng.byte()),
                        5 => {
                            Mutation::Insert(i, (0..1 + rng.below(7)).map(|_| rng.byte()).collect())
                        }
                        6 => Mutation::Delete(i, 1 + rng.below(15) as usize),
                        7 => Mutation::Truncate(i),
                        8..=10 => Mutation::Edge(i, rng.byte()),
                        11 => Mutation::First(rng.byte()),
                        _ => Mutation::Prefix(
                            [0, 1, 8 << 20, (8 << 20) + 1, u32::MAX, rng.next() as u32]
                                [rng.below(6) as usize],
                        ),
                    }
                })
                .collect();
            let sample = rng.next() as usize;
            let inside = rng.below(2) == 0;
            mutated(target, encrypted, sample, inside, &mutations)
        };
        match feed(target, encrypted, &bytes) {
            Ok(ok) => decoded += u64::from(ok),
            Err(error) => panic!("seed {seed}, iteration {iteration}: {error}\ninput {bytes:?}"),
        }
    }
    decoded
}

// ---------------------------------------------------------------------------------------
// The allocation tracker: per thread, the largest single allocation and the peak of live
// bytes since the last reset.
