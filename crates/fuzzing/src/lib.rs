//! What Senate's fuzz targets (`crates/http/tests/fuzz_h1.rs`, `crates/rpc/tests/fuzz_frame.rs`,
//! `crates/gossip/tests/fuzz_codec.rs`) share: an allocator that measures, per thread, the
//! largest allocation and the peak of live bytes (so "no allocation proportional to a declared
//! length" can be asserted), and the driver of the long runs (`FUZZ_ITERATIONS`, `FUZZ_SEED`,
//! one thread per core). See `docs/fuzzing.md`.

mod alloc;
mod driver;

pub use alloc::{allocations, reset_allocations, Tracking};
pub use driver::{env_number, fuzz_loop, LoopReport};
