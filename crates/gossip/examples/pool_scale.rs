//! Gossip at scale: many foca instances in one process, over a simulated network and clock.
//!
//! Every member runs foca 2 with the configuration Senate's LAN pool uses (`config::foca_config`
//! over `GossipTiming::lan()`: 1 s probe interval, 500 ms probe timeout, 200 ms gossip to 3
//! members, suspicion `4 × max(1, log10 n)` s, retransmits `4 × ceil(log10(n + 1))`; the probe
//! interval and suspicion multiplier can be changed by flags), rescaled to the number of live
//! members each member knows, as the actor does, and the TCP push-pull of full rosters with a
//! random member every `GossipTiming::push_pull_every(n)`. Datagrams travel through an in-memory
//! network with a fixed latency and a seeded drop probability; time is simulated (a priority
//! queue of due events), so nothing sleeps.
//!
//! Per pool size: converge (every member knows all others), measure a stable period at 0 % loss
//! (bytes sent per member per second, false failures), stop one member and time until 99 % of
//! the rest declare it down; then the same at `--loss` (default 5 %).
//!
//! ```text
//! cargo run --release -p senate-gossip --example pool_scale -- --members 100,1000 --loss 0.05
//! ```

use bytes::{Buf, BufMut};
use foca::{Foca, Header, Identity, Member, Message, Notification, Runtime, State, Timer};
use rand::rngs::SmallRng;
use rand::{RngExt, SeedableRng};
use senate_gossip::config::foca_config;
use senate_gossip::GossipTiming;
use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::time::{Duration, Instant};

/// A member as foca sees it: its index in the pool and a generation bumped on renewal.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Id {
    node: u32,
    generation: u32,
}

impl Identity for Id {
    type Addr = u32;

    fn renew(&self) -> Option<Self> {
        Some(Id {
            node: self.node,
            generation: self.generation.wrapping_add(1),
        })
    }

    fn addr(&self) -> u32 {
        self.node
    }

    fn win_addr_conflict(&self, adversary: &Self) -> bool {
        self.generation > adversary.generation
    }
}

#[derive(Debug)]
struct CodecError(&'static str);

impl std::fmt::Display for CodecError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0)
    }
}

impl std::error::Error for CodecError {}

/// A compact binary codec: identities are 8 bytes (Senate's carry a name, an address and, in
/// member updates, the tags, so real datagrams are larger; see `--id-pad`).
struct SimCodec {
    /// Extra bytes written with each full member update, to approximate Senate's identities.
    pad: usize,
}

const ID_LEN: usize = 8;

fn put_id(id: &Id, buf: &mut impl BufMut) {
    buf.put_u32(id.node);
    buf.put_u32(id.generation);
}

fn get_id(buf: &mut impl Buf) -> Result<Id, CodecError> {
    if buf.remaining() < ID_LEN {
        return Err(CodecError("short identity"));
    }
    Ok(Id {
        node: buf.get_u32(),
        generation: buf.get_u32(),
    })
}

fn get_u8(buf: &mut impl Buf) -> Result<u8, CodecError> {
    if buf.remaining() < 1 {
        return Err(CodecError("short"));
    }
    Ok(buf.get_u8())
}

fn get_u16(buf: &mut impl Buf) -> Result<u16, CodecError> {
    if buf.remaining() < 2 {
        return Err(CodecError("short"));
    }
    Ok(buf.get_u16())
}

impl foca::Codec<Id> for SimCodec {
    type Error = CodecError;

    fn encode_header(
        &mut self,
        header: &Header<Id>,
        mut buf: impl BufMut,
    ) -> Result<(), CodecError> {
        if buf.remaining_mut() < 2 * ID_LEN + 2 + 2 + ID_LEN {
            return Err(CodecError("full"));
        }
        put_id(&header.src, &mut buf);
        buf.put_u16(header.src_incarnation);
        put_id(&header.dst, &mut buf);
        let (tag, probe, other) = match &header.message {
            Message::Ping(p) => (0, *p, None),
            Message::Ack(p) => (1, *p, None),
            Message::PingReq {
                target,
                probe_number,
            } => (2, *probe_number, Some(target)),
            Message::IndirectPing {
                origin,
                probe_number,
            } => (3, *probe_number, Some(origin)),
            Message::IndirectAck {
                target,
                probe_number,
            } => (4, *probe_number, Some(target)),
            Message::ForwardedAck {
                origin,
                probe_number,
            } => (5, *probe_number, Some(origin)),
            Message::Announce => (6, 0, None),
            Message::Feed => (7, 0, None),
            Message::Gossip => (8, 0, None),
            Message::Broadcast => (9, 0, None),
            Message::TurnUndead => (10, 0, None),
        };
        buf.put_u8(tag);
        buf.put_u8(probe);
        if let Some(other) = other {
            put_id(other, &mut buf);
        }
        Ok(())
    }

    fn decode_header(&mut self, mut buf: impl Buf) -> Result<Header<Id>, CodecError> {
        let src = get_id(&mut buf)?;
        let src_incarnation = get_u16(&mut buf)?;
        let dst = get_id(&mut buf)?;
        let tag = get_u8(&mut buf)?;
        let probe_number = get_u8(&mut buf)?;
        let message = match tag {
            0 => Message::Ping(probe_number),
            1 => Message::Ack(probe_number),
            2 => Message::PingReq {
                target: get_id(&mut buf)?,
                probe_number,
            },
            3 => Message::IndirectPing {
                origin: get_id(&mut buf)?,
                probe_number,
            },
            4 => Message::IndirectAck {
                target: get_id(&mut buf)?,
                probe_number,
            },
            5 => Message::ForwardedAck {
                origin: get_id(&mut buf)?,
                probe_number,
            },
            6 => Message::Announce,
            7 => Message::Feed,
            8 => Message::Gossip,
            9 => Message::Broadcast,
            10 => Message::TurnUndead,
            _ => return Err(CodecError("bad message tag")),
        };
        Ok(Header {
            src,
            src_incarnation,
            dst,
            message,
        })
    }

    fn encode_member(
        &mut self,
        member: &Member<Id>,
        mut buf: impl BufMut,
    ) -> Result<(), CodecError> {
        if buf.remaining_mut() < ID_LEN + 3 + self.pad {
            return Err(CodecError("full"));
        }
        put_id(member.id(), &mut buf);
        buf.put_u16(member.incarnation());
        buf.put_u8(match member.state() {
            State::Alive => 0,
            State::Suspect => 1,
            State::Down => 2,
        });
        buf.put_bytes(0, self.pad);
        Ok(())
    }

    fn decode_member(&mut self, mut buf: impl Buf) -> Result<Member<Id>, CodecError> {
        let id = get_id(&mut buf)?;
        let incarnation = get_u16(&mut buf)?;
        let state = match get_u8(&mut buf)? {
            0 => State::Alive,
            1 => State::Suspect,
            2 => State::Down,
            _ => return Err(CodecError("bad state")),
        };
        if buf.remaining() < self.pad {
            return Err(CodecError("short pad"));
        }
        buf.advance(self.pad);
        Ok(Member::new(id, incarnation, state))
    }
}

/// Simulated time in microseconds.
type Micros = u64;

fn micros(d: Duration) -> Micros {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

enum Event {
    /// A member joins through member 0 (its join exchange).
    Join(u32),
    /// A member's periodic push-pull with a random member it knows.
    PushPull(u32),
    Timer(u32, Timer<Id>),
    Deliver(u32, Vec<u8>),
}

struct Scheduled {
    due: Micros,
    seq: u64,
    event: Event,
}

impl PartialEq for Scheduled {
    fn eq(&self, other: &Self) -> bool {
        self.due == other.due && self.seq == other.seq
    }
}

impl Eq for Scheduled {}

impl PartialOrd for Scheduled {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Scheduled {
    // Reversed: BinaryHeap is a max-heap and the earliest event must come first.
    fn cmp(&self, other: &Self) -> Ordering {
        (other.due, other.seq).cmp(&(self.due, self.seq))
    }
}

/// What foca asked for during one call, drained into the simulation afterwards.
#[derive(Default)]
struct Outbox {
    sends: Vec<(u32, Vec<u8>)>,
    timers: Vec<(Timer<Id>, Duration)>,
    ups: Vec<u32>,
    downs: Vec<u32>,
}

impl Runtime<Id> for Outbox {
    fn notify(&mut self, notification: Notification<'_, Id>) {
        match notification {
            Notification::MemberUp(id) => self.ups.push(id.node),
            Notification::MemberDown(id) => self.downs.push(id.node),
            _ => {}
        }
    }

    fn send_to(&mut self, to: Id, data: &[u8]) {
        self.sends.push((to.node, data.to_vec()));
    }

    fn submit_after(&mut self, event: Timer<Id>, after: Duration) {
        self.timers.push((event, after));
    }
}

struct Node {
    foca: Foca<Id, SimCodec, SmallRng, foca::NoCustomBroadcast>,
    running: bool,
    /// Live members this node knows (itself included), as its configuration is scaled to.
    known: usize,
    scaled_to: usize,
}

struct Sim {
    nodes: Vec<Node>,
    queue: BinaryHeap<Scheduled>,
    seq: u64,
    now: Micros,
    rng: SmallRng,
    loss: f64,
    latency: Micros,
    timing: GossipTiming,
    outbox: Outbox,
    bytes_sent: u64,
    /// Bytes the TCP push-pulls would carry: both rosters, one member update each.
    push_pull_bytes: u64,
    member_update_len: u64,
    /// MemberDown notifications about members that were running.
    false_downs: u64,
    /// The stopped member being watched, and who has declared it down.
    victim: Option<u32>,
    knows_victim_down: Vec<bool>,
    knows_count: usize,
}

impl Sim {
    fn new(n: usize, seed: u64, latency: Micros, pad: usize, timing: GossipTiming) -> Sim {
        let nodes = (0..n)
            .map(|i| {
                let id = Id {
                    node: i as u32,
                    generation: 0,
                };
                let rng =
                    SmallRng::seed_from_u64(seed ^ (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
                Node {
                    foca: Foca::new(id, foca_config(&timing, 1), rng, SimCodec { pad }),
                    running: true,
                    known: 1,
                    scaled_to: 1,
                }
            })
            .collect();
        Sim {
            nodes,
            queue: BinaryHeap::new(),
            seq: 0,
            now: 0,
            rng: SmallRng::seed_from_u64(seed),
            loss: 0.0,
            latency,
            timing,
            outbox: Outbox::default(),
            bytes_sent: 0,
            push_pull_bytes: 0,
            member_update_len: (ID_LEN + 3 + pad) as u64,
            false_downs: 0,
            victim: None,
            knows_victim_down: vec![false; n],
            knows_count: 0,
        }
    }

    fn push(&mut self, due: Micros, event: Event) {
        self.seq += 1;
        self.queue.push(Scheduled {
            due,
            seq: self.seq,
            event,
        });
    }

    /// Turns what node `at` asked foca for into scheduled events and bookkeeping.
    fn drain(&mut self, at: u32) {
        let mut out = std::mem::take(&mut self.outbox);
        for (to, data) in out.sends.drain(..) {
            self.bytes_sent += data.len() as u64;
            if self.loss > 0.0 && self.rng.random::<f64>() < self.loss {
                continue;
            }
            self.push(self.now + self.latency, Event::Deliver(to, data));
        }
        for (timer, after) in out.timers.drain(..) {
            self.push(self.now + micros(after).max(1), Event::Timer(at, timer));
        }
        let node = &mut self.nodes[at as usize];
        node.known += out.ups.len();
        node.known = node.known.saturating_sub(out.downs.len()).max(1);
        for down in out.downs.drain(..) {
            if Some(down) == self.victim {
                if !self.knows_victim_down[at as usize] {
                    self.knows_victim_down[at as usize] = true;
                    self.knows_count += 1;
                }
            } else if self.nodes[down as usize].running {
                self.false_downs += 1;
            }
        }
        out.ups.clear();
        let node = &mut self.nodes[at as usize];
        if node.known != node.scaled_to {
            node.scaled_to = node.known;
            // Only foca-immutable fields are kept, so this cannot fail.
            let _ = node.foca.set_config(foca_config(&self.timing, node.known));
        }
        self.outbox = out;
    }

    /// Every member joins through member 0, at a random moment of the first second, and
    /// starts its push-pull timer at a random phase.
    fn join_all(&mut self) {
        let n = self.nodes.len();
        let push_pull = micros(self.timing.push_pull_every(n));
        for i in 1..n {
            let due = self.rng.random_range(0..1_000_000u64);
            self.push(due, Event::Join(i as u32));
        }
        for i in 0..n {
            let due = self.rng.random_range(0..push_pull);
            self.push(due, Event::PushPull(i as u32));
        }
    }

    /// Senate's TCP exchange of full rosters (join.rs, also the push-pull): `contacted`
    /// learns `from` alive, `from` applies everything `contacted` knows.
    fn exchange(&mut self, from: u32, contacted: u32) -> Result<(), foca::Error> {
        let caller = *self.nodes[from as usize].foca.identity();
        let _ = self.nodes[contacted as usize].foca.apply_many(
            std::iter::once(Member::alive(caller)),
            true,
            &mut self.outbox,
        );
        self.drain(contacted);
        let contact = &self.nodes[contacted as usize].foca;
        let roster: Vec<Member<Id>> = std::iter::once(Member::alive(*contact.identity()))
            .chain(contact.iter_membership_state().cloned())
            .collect();
        let caller_roster = self.nodes[from as usize].foca.num_members() + 1;
        self.push_pull_bytes += (roster.len() + caller_roster) as u64 * self.member_update_len;
        self.nodes[from as usize]
            .foca
            .apply_many(roster.into_iter(), true, &mut self.outbox)
    }

    /// A random live member `at` knows, for its push-pull.
    fn push_pull_partner(&mut self, at: u32) -> Option<u32> {
        let known: Vec<u32> = self.nodes[at as usize]
            .foca
            .iter_members()
            .map(|member| member.id().node)
            .collect();
        let partner = *known.get(self.rng.random_range(0..known.len().max(1)))?;
        self.nodes[partner as usize].running.then_some(partner)
    }

    fn step(&mut self) -> bool {
        let Some(Scheduled { due, event, .. }) = self.queue.pop() else {
            return false;
        };
        self.now = due;
        let (at, result) = match event {
            Event::Join(at) => (at, self.exchange(at, 0)),
            Event::PushPull(at) => {
                if !self.nodes[at as usize].running {
                    return true;
                }
                let known = self.nodes[at as usize].known;
                let next = self.now + micros(self.timing.push_pull_every(known));
                self.push(next, Event::PushPull(at));
                match self.push_pull_partner(at) {
                    Some(partner) => (at, self.exchange(at, partner)),
                    None => return true,
                }
            }
            Event::Timer(at, timer) => {
                let node = &mut self.nodes[at as usize];
                if !node.running {
                    return true;
                }
                (at, node.foca.handle_timer(timer, &mut self.outbox))
            }
            Event::Deliver(to, data) => {
                let node = &mut self.nodes[to as usize];
                if !node.running {
                    return true;
                }
                (to, node.foca.handle_data(&data, &mut self.outbox))
            }
        };
        // Errors (stale data, a datagram for an older identity) are normal here.
        let _ = result;
        self.drain(at);
        true
    }

    /// Runs until simulated time `until`, or false if the wall-clock deadline passes.
    fn run_until(&mut self, until: Micros, deadline: Instant) -> bool {
        let mut steps = 0u64;
        while self.queue.peek().is_some_and(|next| next.due <= until) {
            self.step();
            steps += 1;
            if steps.is_multiple_of(4096) && Instant::now() > deadline {
                return false;
            }
        }
        self.now = self.now.max(until);
        true
    }

    fn converged(&self) -> bool {
        let n = self.nodes.len();
        self.nodes
            .iter()
            .all(|node| node.foca.num_members() + 1 == n)
    }

    /// Stops a random running member and returns the simulated time until 99 % of the others
    /// have declared it down, or None when `limit` (simulated) or the deadline passes.
    fn fail_one(&mut self, limit: Micros, deadline: Instant) -> Option<f64> {
        let n = self.nodes.len();
        let victim = loop {
            let pick = self.rng.random_range(0..n as u32);
            if self.nodes[pick as usize].running {
                break pick;
            }
        };
        self.nodes[victim as usize].running = false;
        self.victim = Some(victim);
        self.knows_victim_down.iter_mut().for_each(|k| *k = false);
        self.knows_count = 0;
        let observers = self.nodes.iter().filter(|node| node.running).count();
        let needed = (observers as f64 * 0.99).ceil() as usize;
        let start = self.now;
        let tick = 10_000;
        while self.now < start + limit {
            if !self.run_until(self.now + tick, deadline) {
                return None;
            }
            if self.knows_count >= needed {
                return Some((self.now - start) as f64 / 1e6);
            }
        }
        None
    }
}

struct Row {
    members: usize,
    converged: Option<f64>,
    bytes_per_member: Option<f64>,
    push_pull_per_member: Option<f64>,
    false_clean: Option<u64>,
    false_lossy: Option<u64>,
    detect_clean: Option<f64>,
    detect_lossy: Option<f64>,
    note: String,
}

fn measure(n: usize, args: &Args) -> Row {
    let deadline = Instant::now() + Duration::from_secs(args.time_limit);
    let mut row = Row {
        members: n,
        converged: None,
        bytes_per_member: None,
        push_pull_per_member: None,
        false_clean: None,
        false_lossy: None,
        detect_clean: None,
        detect_lossy: None,
        note: String::new(),
    };
    let mut sim = Sim::new(
        n,
        args.seed ^ n as u64,
        args.latency_us,
        args.id_pad,
        args.timing.clone(),
    );
    sim.join_all();
    // Converge: check every 100 ms of simulated time, up to --converge-limit-secs.
    let converge_limit = args.converge_limit * 1_000_000;
    loop {
        if !sim.run_until(sim.now + 100_000, deadline) {
            row.note = "wall-clock limit while converging".into();
            return row;
        }
        if sim.converged() {
            row.converged = Some(sim.now as f64 / 1e6);
            break;
        }
        if sim.now >= converge_limit {
            let counts: Vec<usize> = sim.nodes.iter().map(|n| n.foca.num_members() + 1).collect();
            let short = counts.iter().filter(|&&c| c != n).count();
            row.note = format!(
                "did not converge in {} simulated s: {short} members know fewer/more than {n} \
                 (min {}, max {}), {} false downs",
                args.converge_limit,
                counts.iter().min().unwrap_or(&0),
                counts.iter().max().unwrap_or(&0),
                sim.false_downs
            );
            return row;
        }
    }
    let stable = args.stable * 1_000_000;
    // Stable period, no loss.
    sim.bytes_sent = 0;
    sim.push_pull_bytes = 0;
    sim.false_downs = 0;
    if !sim.run_until(sim.now + stable, deadline) {
        row.note = "wall-clock limit in the stable period".into();
        return row;
    }
    let per_member_second = |bytes: u64| bytes as f64 / n as f64 / args.stable as f64;
    row.bytes_per_member = Some(per_member_second(sim.bytes_sent));
    row.push_pull_per_member = Some(per_member_second(sim.push_pull_bytes));
    row.false_clean = Some(sim.false_downs);
    let detect_limit = 120_000_000;
    row.detect_clean = sim.fail_one(detect_limit, deadline);
    if row.detect_clean.is_none() {
        row.note =
            "no 99% detection (0% loss) within 120 simulated s or the wall-clock limit".into();
        return row;
    }
    // Let the failure settle, then the same at the configured loss.
    if !sim.run_until(sim.now + 30_000_000, deadline) {
        row.note = "wall-clock limit".into();
        return row;
    }
    sim.loss = args.loss;
    sim.false_downs = 0;
    if !sim.run_until(sim.now + stable, deadline) {
        row.note = "wall-clock limit in the lossy stable period".into();
        return row;
    }
    row.false_lossy = Some(sim.false_downs);
    row.detect_lossy = sim.fail_one(detect_limit, deadline);
    if row.detect_lossy.is_none() {
        row.note = "no 99% detection (lossy) within 120 simulated s or the wall-clock limit".into();
    }
    row
}

struct Args {
    members: Vec<usize>,
    loss: f64,
    seed: u64,
    stable: u64,
    latency_us: u64,
    id_pad: usize,
    time_limit: u64,
    converge_limit: u64,
    timing: GossipTiming,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        members: vec![100, 1000, 5000],
        loss: 0.05,
        seed: 1,
        stable: 60,
        latency_us: 1000,
        id_pad: 0,
        time_limit: 600,
        converge_limit: 900,
        timing: GossipTiming::lan(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let bad = |e: &dyn std::fmt::Display| format!("{flag} {value}: {e}");
        match flag.as_str() {
            "--members" => {
                args.members = value
                    .split(',')
                    .map(|s| s.trim().replace('_', "").parse::<usize>())
                    .collect::<Result<_, _>>()
                    .map_err(|e| bad(&e))?;
            }
            "--loss" => args.loss = value.parse().map_err(|e| bad(&e))?,
            "--seed" => args.seed = value.parse().map_err(|e| bad(&e))?,
            "--stable-secs" => args.stable = value.parse().map_err(|e| bad(&e))?,
            "--latency-ms" => {
                let ms: f64 = value.parse().map_err(|e| bad(&e))?;
                args.latency_us = (ms * 1000.0).max(1.0) as u64;
            }
            "--id-pad" => args.id_pad = value.parse().map_err(|e| bad(&e))?,
            "--time-limit-secs" => args.time_limit = value.parse().map_err(|e| bad(&e))?,
            "--converge-limit-secs" => args.converge_limit = value.parse().map_err(|e| bad(&e))?,
            "--probe-interval-ms" => {
                let ms: u64 = value.parse().map_err(|e| bad(&e))?;
                args.timing.probe_interval = Duration::from_millis(ms);
                args.timing.probe_timeout = Duration::from_millis(ms / 2);
            }
            "--suspicion-mult" => {
                args.timing.suspicion_multiplier = value.parse().map_err(|e| bad(&e))?
            }
            _ => return Err(format!("unknown flag {flag}")),
        }
    }
    if args.members.iter().any(|&n| n < 2) {
        return Err("--members: each size must be at least 2".into());
    }
    if !(0.0..1.0).contains(&args.loss) {
        return Err("--loss must be in [0, 1)".into());
    }
    Ok(args)
}

fn secs(v: Option<f64>) -> String {
    v.map_or("—".into(), |s| format!("{s:.1}"))
}

fn rate(v: Option<f64>) -> String {
    v.map_or("—".into(), |b| format!("{b:.0}"))
}

fn count(v: Option<u64>) -> String {
    v.map_or("—".into(), |c| c.to_string())
}

fn main() {
    let args = match parse_args() {
        Ok(args) => args,
        Err(why) => {
            eprintln!("pool_scale: {why}");
            eprintln!(
                "usage: pool_scale [--members 100,1000,5000] [--loss 0.05] [--seed 1] \
                 [--stable-secs 60] [--latency-ms 1] [--id-pad 0] [--time-limit-secs 600] [--converge-limit-secs 900] \
                 [--probe-interval-ms 1000] [--suspicion-mult 4]"
            );
            std::process::exit(2);
        }
    };
    let loss = args.loss * 100.0;
    println!(
        "foca 2, Senate LAN config (probe interval {:?}, suspicion multiplier {}), latency {} ms, \
         stable periods {} s, seed {}, identity {} B per member update, wall-clock limit {} s per size",
        args.timing.probe_interval,
        args.timing.suspicion_multiplier,
        args.latency_us as f64 / 1000.0,
        args.stable,
        args.seed,
        ID_LEN + 3 + args.id_pad,
        args.time_limit
    );
    println!();
    println!(
        "| members | converged after (s) | UDP bytes/member/s | push-pull TCP bytes/member/s | false failures (0% / {loss}% loss) \
         | 99% know of failure after (s) (0% / {loss}% loss) | wall (s) | note |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|---|");
    for &n in &args.members {
        let started = Instant::now();
        let row = measure(n, &args);
        println!(
            "| {} | {} | {} | {} | {} / {} | {} / {} | {:.0} | {} |",
            row.members,
            secs(row.converged),
            rate(row.bytes_per_member),
            rate(row.push_pull_per_member),
            count(row.false_clean),
            count(row.false_lossy),
            secs(row.detect_clean),
            secs(row.detect_lossy),
            started.elapsed().as_secs_f64(),
            row.note
        );
    }
}
