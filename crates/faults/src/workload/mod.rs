//! The client workloads, one file each: registers (linearizability), a set (lost and
//! unexpected adds), a session lock (overlaps), and blocking watches (monotonic indexes,
//! final value).

pub mod lock;
pub mod register;
pub mod set;
pub mod watch;
