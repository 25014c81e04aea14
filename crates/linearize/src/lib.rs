//! A pure, I/O-free linearizability checker for histories recorded by fault-injection runs.
//!
//! A runner records every client [`Operation`]: its input, when it was invoked, when (and
//! whether) it returned, and what it returned. [`check()`] then asks whether the operations
//! could have happened one at a time, each at some instant between its call and its return,
//! in a way a sequential [`Model`] allows. An operation without a return time has an
//! unknown outcome: it may have taken effect at any moment after its call, or never.
//!
//! Tour:
//! - [`operation`]: the recorded [`Operation`] and its one-line rendering.
//! - [`model`]: the [`Model`] trait and [`Partition`] (P-compositionality: histories split
//!   per key are checked independently, in parallel).
//! - `search`: the Wing & Gong / Lowe search (as in Porcupine) over one partition, with a
//!   [`Budget`] so pathological histories end [`CheckResult::Unknown`] instead of running
//!   forever; `cache` remembers visited (linearized set, state) configurations.
//! - [`check`](mod@check): validation, partitioning, the parallel search of partitions.
//! - `shrink`: turns a failing partition into a small [`Counterexample`] that still fails
//!   even if every other operation of the partition is treated as "may have happened".
//! - [`kv`]: the Consul KV register model ([`KvModel`], [`check_kv`]).
//! - [`set`]: a simpler checker for grow-only sets ([`check_set`]).
//!
//! Unknown outcomes are the expensive part: each may be placed anywhere after its call, so a
//! single hot key with hundreds of timed-out operations can exhaust the budget. Spreading the
//! workload over many keys keeps partitions small.
//!
//! ```
//! use senate_linearize::{check_kv, CheckOptions, CheckResult, KvInput, KvOutput, Operation};
//!
//! let v1 = || Some("v1".to_owned());
//! let history = vec![
//!     // Client 1 writes v1 and is acknowledged at t=10 (times are monotonic nanoseconds).
//!     Operation::completed(1, KvInput::write("k", "v1"), 0, KvOutput::Ok, 10),
//!     // Client 2 reads during [5, 15], concurrently with the write: either answer is fine.
//!     Operation::completed(2, KvInput::read("k"), 5, KvOutput::Value(v1()), 15),
//!     // Client 3 then reads "not found" during [40, 50]: a stale read.
//!     Operation::completed(3, KvInput::read("k"), 40, KvOutput::Value(None), 50),
//!     // Client 4 timed out writing another key: maybe applied, maybe not.
//!     Operation::unknown(4, KvInput::write("other", "v2"), 5, KvOutput::Unknown),
//! ];
//! let result = check_kv(&history, &CheckOptions::default()).expect("a well-formed history");
//! let CheckResult::Illegal(counterexample) = result else { panic!("expected a violation") };
//! assert_eq!(counterexample.partition, "k");
//! assert_eq!(counterexample.operations.len(), 2); // the write and the stale read
//! println!("{counterexample}");
//! ```

pub mod budget;
pub mod check;
pub mod counterexample;
pub mod kv;
pub mod model;
pub mod operation;
pub mod set;

mod bitset;
mod cache;
mod entry_list;
mod search;
mod shrink;

#[cfg(test)]
mod tests;

pub use budget::{Budget, CheckOptions};
pub use check::{check, HistoryError};
pub use counterexample::{CheckResult, Counterexample};
pub use kv::{check_kv, KvInput, KvModel, KvOp, KvOperation, KvOutput, KvState};
pub use model::{Model, Partition};
pub use operation::{Operation, OperationDisplay};
pub use set::{check_set, AddOutcome, FinalRead, SetAdd, SetReport};
