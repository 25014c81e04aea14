//! foca's timer events in deadline order: the actor sleeps until the earliest one and hands
//! each due event back to foca, in order (foca relies on probe events not being reordered).

use crate::identity::NodeId;
use foca::Timer;
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::Duration;
use tokio::time::Instant;

/// Far enough ahead to mean "never" without overflowing `Instant`.
const FAR_FUTURE: Duration = Duration::from_secs(10 * 365 * 24 * 60 * 60);

/// A min-heap of (deadline, event); ties go in foca's own event order.
#[derive(Default)]
pub(crate) struct TimerQueue {
    heap: BinaryHeap<Reverse<(Instant, Timer<NodeId>)>>,
}

impl TimerQueue {
    pub(crate) fn schedule(&mut self, now: Instant, after: Duration, timer: Timer<NodeId>) {
        let deadline = now
            .checked_add(after)
            .or_else(|| now.checked_add(FAR_FUTURE))
            .unwrap_or(now);
        self.heap.push(Reverse((deadline, timer)));
    }

    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        self.heap.peek().map(|Reverse((deadline, _))| *deadline)
    }

    /// The next event due at `now`, if any.
    pub(crate) fn pop_due(&mut self, now: Instant) -> Option<Timer<NodeId>> {
        match self.heap.peek() {
            Some(Reverse((deadline, _))) if *deadline <= now => {
                self.heap.pop().map(|Reverse((_, timer))| timer)
            }
            _ => None,
        }
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.heap.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_come_out_by_deadline_then_kind() {
        let mut queue = TimerQueue::default();
        let now = Instant::now();
        queue.schedule(now, Duration::from_millis(30), Timer::PeriodicGossip(1));
        queue.schedule(now, Duration::from_millis(10), Timer::ProbeRandomMember(1));
        queue.schedule(now, Duration::from_millis(10), Timer::PeriodicAnnounce(1));
        queue.schedule(now, Duration::MAX, Timer::PeriodicAnnounceDown(1));
        assert_eq!(queue.next_deadline(), Some(now + Duration::from_millis(10)));
        assert_eq!(queue.pop_due(now), None);
        let later = now + Duration::from_millis(20);
        assert_eq!(queue.pop_due(later), Some(Timer::ProbeRandomMember(1)));
        assert_eq!(queue.pop_due(later), Some(Timer::PeriodicAnnounce(1)));
        assert_eq!(queue.pop_due(later), None);
        assert_eq!(queue.len(), 2);
    }
}
