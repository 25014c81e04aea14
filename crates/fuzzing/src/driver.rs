//! The long-run driver: `FUZZ_ITERATIONS` inputs (a default otherwise) split over one thread
//! per core, each seeded from `FUZZ_SEED` (random otherwise) plus its number, so a failing run
//! can be repeated.

use std::fmt;
use std::time::{Duration, Instant};

/// How a long run went.
pub struct LoopReport {
    pub iterations: u64,
    pub seed: u64,
    pub threads: u64,
    pub elapsed: Duration,
    /// The sum of what the threads returned (a target's own count, such as inputs decoded).
    pub tally: u64,
}

impl fmt::Display for LoopReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "fuzz_loop: {} inputs (seed {}, {} threads) in {:.1?}: {:.0} inputs/s",
            self.iterations,
            self.seed,
            self.threads,
            self.elapsed,
            self.iterations as f64 / self.elapsed.as_secs_f64()
        )
    }
}

/// Runs `per_thread(seed, share)` on every core, `share` being its part of the iterations.
pub fn fuzz_loop(
    default_iterations: u64,
    per_thread: impl Fn(u64, u64) -> u64 + Sync,
) -> LoopReport {
    let iterations = env_number("FUZZ_ITERATIONS").unwrap_or(default_iterations);
    let seed = env_number("FUZZ_SEED").unwrap_or_else(time_seed);
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()) as u64;
    let started = Instant::now();
    let per_thread = &per_thread;
    let tally = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|thread| {
                scope.spawn(move || {
                    let share = iterations / threads + u64::from(thread < iterations % threads);
                    per_thread(seed.wrapping_add(thread), share)
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|worker| worker.join().expect("a fuzz thread panicked"))
            .sum()
    });
    LoopReport {
        iterations,
        seed,
        threads,
        elapsed: started.elapsed(),
        tally,
    }
}

/// A numeric environment variable; anything but a number is a mistake worth stopping for.
pub fn env_number(name: &str) -> Option<u64> {
    std::env::var(name).ok().map(|value| {
        value
            .parse()
            .unwrap_or_else(|_| panic!("{name} must be a number, not {value:?}"))
    })
}

fn time_seed() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(1, |since| since.as_nanos() as u64)
}
