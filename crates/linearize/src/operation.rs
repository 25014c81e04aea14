//! One recorded client operation: what was asked, when it was asked, and what came back.

use std::fmt;

use serde::{Deserialize, Serialize};

/// One operation as a client saw it.
///
/// Times are monotonic nanoseconds from one clock shared by every client of the run.
/// `return_time: None` means the outcome is unknown (timeout, connection lost): the
/// operation may have taken effect at any moment after `call`, or never.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Operation<I, O> {
    pub client_id: u64,
    pub input: I,
    pub call: u64,
    pub output: O,
    pub return_time: Option<u64>,
}

impl<I, O> Operation<I, O> {
    /// An operation whose response arrived at `return_time`.
    pub fn completed(client_id: u64, input: I, call: u64, output: O, return_time: u64) -> Self {
        Self {
            client_id,
            input,
            call,
            output,
            return_time: Some(return_time),
        }
    }

    /// An operation whose response never arrived, so its effect is unknown.
    pub fn unknown(client_id: u64, input: I, call: u64, output: O) -> Self {
        Self {
            client_id,
            input,
            call,
            output,
            return_time: None,
        }
    }

    /// Whether the outcome is unknown (no return time).
    pub fn is_unknown(&self) -> bool {
        self.return_time.is_none()
    }

    /// Renders the operation as one line, times shown relative to `time_origin`:
    /// `client 3 [call 1.203000s .. return 1.208000s] put k1 = "v7" -> ok`.
    pub fn display(&self, time_origin: u64) -> OperationDisplay<'_, I, O> {
        OperationDisplay {
            operation: self,
            time_origin,
        }
    }
}

/// The one-line rendering returned by [`Operation::display`].
pub struct OperationDisplay<'a, I, O> {
    operation: &'a Operation<I, O>,
    time_origin: u64,
}

impl<I: fmt::Display, O: fmt::Display> fmt::Display for OperationDisplay<'_, I, O> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let op = self.operation;
        let call = RelativeTime(op.call.saturating_sub(self.time_origin));
        write!(f, "client {} [call {call} .. ", op.client_id)?;
        match op.return_time {
            Some(ret) => write!(
                f,
                "return {}]",
                RelativeTime(ret.saturating_sub(self.time_origin))
            )?,
            None => write!(f, "no return]")?,
        }
        write!(f, " {} -> {}", op.input, op.output)
    }
}

/// Nanoseconds shown as seconds with microsecond precision (`1.203456s`).
struct RelativeTime(u64);

impl fmt::Display for RelativeTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let seconds = self.0 / 1_000_000_000;
        let micros = (self.0 % 1_000_000_000) / 1_000;
        write!(f, "{seconds}.{micros:06}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn displays_times_relative_to_origin() {
        let op = Operation::completed(
            3,
            "put k1 = \"v7\"",
            1_001_203_000_000,
            "ok",
            1_001_208_000_500,
        );
        assert_eq!(
            op.display(1_000_000_000_000).to_string(),
            "client 3 [call 1.203000s .. return 1.208000s] put k1 = \"v7\" -> ok"
        );
    }

    #[test]
    fn displays_unknown_outcome_without_return() {
        let op = Operation::unknown(1, "get k", 2_500, "unknown");
        assert_eq!(
            op.display(0).to_string(),
            "client 1 [call 0.000002s .. no return] get k -> unknown"
        );
        assert!(op.is_unknown());
    }
}
