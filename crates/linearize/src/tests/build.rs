//! Short constructors for hand-written KV histories; times are given in milliseconds.

use crate::budget::CheckOptions;
use crate::counterexample::CheckResult;
use crate::kv::{check_kv, KvInput, KvOperation, KvOutput};
use crate::operation::Operation;

/// Milliseconds to nanoseconds, offset like a monotonic clock that has been running a while.
pub(crate) fn ms(millis: u64) -> u64 {
    ORIGIN + millis * 1_000_000
}

pub(crate) const ORIGIN: u64 = 5_000_000_000_000;

pub(crate) fn value(text: &str) -> Option<String> {
    Some(text.to_owned())
}

pub(crate) fn write(client: u64, key: &str, written: &str, call: u64, ret: u64) -> KvOperation {
    Operation::completed(
        client,
        KvInput::write(key, written),
        ms(call),
        KvOutput::Ok,
        ms(ret),
    )
}

pub(crate) fn delete(client: u64, key: &str, call: u64, ret: u64) -> KvOperation {
    Operation::completed(
        client,
        KvInput::delete(key),
        ms(call),
        KvOutput::Ok,
        ms(ret),
    )
}

pub(crate) fn read(client: u64, key: &str, seen: Option<&str>, call: u64, ret: u64) -> KvOperation {
    let output = KvOutput::Value(seen.map(str::to_owned));
    Operation::completed(client, KvInput::read(key), ms(call), output, ms(ret))
}

pub(crate) fn cas(
    client: u64,
    key: &str,
    expected: Option<&str>,
    new: &str,
    swapped: bool,
    call: u64,
    ret: u64,
) -> KvOperation {
    let input = KvInput::cas(key, expected.map(str::to_owned), new);
    Operation::completed(
        client,
        input,
        ms(call),
        KvOutput::CasResult(swapped),
        ms(ret),
    )
}

pub(crate) fn unknown(client: u64, input: KvInput, call: u64) -> KvOperation {
    Operation::unknown(client, input, ms(call), KvOutput::Unknown)
}

pub(crate) fn failed(client: u64, input: KvInput, call: u64, ret: u64) -> KvOperation {
    Operation::completed(client, input, ms(call), KvOutput::Failed, ms(ret))
}

/// Checks with default options; panics on a malformed history.
pub(crate) fn verdict(history: &[KvOperation]) -> CheckResult<KvInput, KvOutput> {
    check_kv(history, &CheckOptions::default()).expect("well-formed history")
}
