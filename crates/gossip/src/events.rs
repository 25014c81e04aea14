//! User events on this node: the Lamport clock that stamps the ones fired here (Serf's event
//! clock), the window of recent events that delivers each one once, and the handler foca
//! hands event broadcasts to.

use crate::codec::TaggedError;
use crate::error::GossipError;
use crate::event::{DeliveredEvent, UserEventMessage};
use crate::identity::NodeId;
use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use tokio::sync::broadcast;

/// How many Lamport times back events are remembered (Serf's event buffer): an older event
/// is dropped as stale, and a newer one ends the dissemination of those this far behind.
pub(crate) const EVENT_WINDOW: u64 = 64;

/// How many delivered events a slow subscriber may fall behind before it misses some.
const SUBSCRIBER_BUFFER: usize = 256;

/// The event clock, the recent events, and the subscribers they are delivered to; shared by
/// the handles (which fire) and foca's broadcast handler (which delivers).
pub(crate) struct EventLog {
    window: Mutex<Window>,
    delivered: broadcast::Sender<DeliveredEvent>,
}

/// What became of an event offered for delivery.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Verdict {
    News,
    Seen,
    Stale,
}

/// The event clock and the IDs of the events delivered at each remembered time.
struct Window {
    clock: u64,
    seen: BTreeMap<u64, HashSet<String>>,
}

impl Window {
    fn new() -> Window {
        // Serf's clocks start at 1.
        Window {
            clock: 1,
            seen: BTreeMap::new(),
        }
    }

    /// The oldest time still remembered.
    fn horizon(&self) -> u64 {
        self.clock.saturating_sub(EVENT_WINDOW)
    }

    /// Records the event `(ltime, id)`; news moves the clock past it and forgets what falls
    /// out of the window.
    fn admit(&mut self, ltime: u64, id: &str) -> Verdict {
        if ltime < self.horizon() {
            return Verdict::Stale;
        }
        if !self.seen.entry(ltime).or_default().insert(id.to_string()) {
            return Verdict::Seen;
        }
        self.clock = self.clock.max(ltime.saturating_add(1));
        let horizon = self.horizon();
        self.seen.retain(|time, _| *time >= horizon);
        Verdict::News
    }
}

impl EventLog {
    pub(crate) fn new() -> EventLog {
        EventLog {
            window: Mutex::new(Window::new()),
            delivered: broadcast::channel(SUBSCRIBER_BUFFER).0,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Window> {
        self.window.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn subscribe(&self) -> broadcast::Receiver<DeliveredEvent> {
        self.delivered.subscribe()
    }

    /// Stamps `event` with the clock's time and encodes it as a broadcast; refused when it
    /// takes more than `room` bytes. The clock moves on only for an event that fits.
    pub(crate) fn stamp(
        &self,
        event: &UserEventMessage,
        room: usize,
    ) -> Result<(u64, Vec<u8>), GossipError> {
        let too_large = |size| GossipError::EventTooLarge { size, limit: room };
        // The fields alone are a lower bound of the encoding: no need to encode a huge one.
        let content = content_size(event);
        if content > room {
            return Err(too_large(content));
        }
        let mut window = self.lock();
        let ltime = window.clock;
        let bytes = DeliveredEvent::encode(ltime, event).map_err(|error| {
            GossipError::Protocol(format!("cannot encode a user event: {error}"))
        })?;
        if bytes.len() > room {
            return Err(too_large(bytes.len()));
        }
        window.clock = ltime.saturating_add(1);
        Ok((ltime, bytes))
    }

    /// Hands `delivered` to the subscribers unless it was delivered before or is older than
    /// the window; true when it was news.
    pub(crate) fn deliver(&self, delivered: DeliveredEvent) -> bool {
        let verdict = self.lock().admit(delivered.ltime, &delivered.event.id);
        match verdict {
            Verdict::News => {
                tracing::debug!(id = %delivered.event.id, name = %delivered.event.name, ltime = delivered.ltime, "user event delivered");
                // No subscriber is no error: nobody here is listening.
                let _listeners = self.delivered.send(delivered);
                true
            }
            Verdict::Seen => false,
            Verdict::Stale => {
                tracing::debug!(id = %delivered.event.id, ltime = delivered.ltime, "stale user event dropped");
                false
            }
        }
    }
}

fn content_size(event: &UserEventMessage) -> usize {
    [
        event.id.len(),
        event.name.len(),
        event.payload.len(),
        event.node_filter.len(),
        event.service_filter.len(),
        event.tag_filter.len(),
    ]
    .iter()
    .fold(0, |total, len| total.saturating_add(*len))
}

/// foca's dissemination key for an event: a newer event ends the spreading of those that
/// fell out of the window.
pub(crate) struct EventKey {
    ltime: u64,
    id: String,
}

impl foca::Invalidates for EventKey {
    fn invalidates(&self, other: &Self) -> bool {
        (self.ltime, &self.id) == (other.ltime, &other.id)
            || other.ltime < self.ltime.saturating_sub(EVENT_WINDOW)
    }
}

/// Receives user events from foca (this node's own, when fired, included) into the log.
pub(crate) struct EventHandler {
    log: Arc<EventLog>,
}

impl EventHandler {
    pub(crate) fn new(log: Arc<EventLog>) -> EventHandler {
        EventHandler { log }
    }
}

impl foca::BroadcastHandler<NodeId> for EventHandler {
    type Key = EventKey;
    type Error = TaggedError;

    fn receive_item(
        &mut self,
        data: &[u8],
        _sender: Option<&NodeId>,
    ) -> Result<Option<EventKey>, TaggedError> {
        let delivered = DeliveredEvent::decode(data)?;
        let key = EventKey {
            ltime: delivered.ltime,
            id: delivered.event.id.clone(),
        };
        Ok(self.log.deliver(delivered).then_some(key))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::tests::event;
    use foca::{BroadcastHandler, Invalidates};

    #[test]
    fn stamping_moves_the_clock_and_refuses_what_does_not_fit() {
        let log = EventLog::new();
        let (first, bytes) = log.stamp(&event("e1"), 1000).expect("fits");
        let (second, _) = log.stamp(&event("e2"), 1000).expect("fits");
        assert_eq!((first, second), (1, 2));
        let error = log.stamp(&event("e3"), bytes.len() - 1).unwrap_err();
        assert!(matches!(error, GossipError::EventTooLarge { size, limit }
            if size == bytes.len() && limit == bytes.len() - 1));
        let huge = UserEventMessage {
            payload: vec![0; 1 << 24],
            ..event("e4")
        };
        assert!(matches!(
            log.stamp(&huge, 1000),
            Err(GossipError::EventTooLarge { .. })
        ));
        let (third, _) = log.stamp(&event("e5"), 1000).expect("fits");
        assert_eq!(third, 3, "refused events take no time");
    }

    #[test]
    fn each_event_is_delivered_once_and_witnessed() {
        let log = EventLog::new();
        let mut subscriber = log.subscribe();
        let remote = DeliveredEvent {
            ltime: 10,
            event: event("e1"),
        };
        assert!(log.deliver(remote.clone()));
        assert!(!log.deliver(remote.clone()), "a repeat is not news");
        assert_eq!(subscriber.try_recv().expect("delivered"), remote);
        assert!(subscriber.try_recv().is_err(), "delivered once");
        let same_time = DeliveredEvent {
            ltime: 10,
            event: event("e2"),
        };
        assert!(log.deliver(same_time), "same time, another event");
        let (next, _) = log.stamp(&event("e3"), 1000).expect("fits");
        assert_eq!(next, 11, "the clock witnessed the remote time");
    }

    #[test]
    fn events_older_than_the_window_are_stale_and_memory_is_bounded() {
        let mut window = Window::new();
        assert_eq!(window.admit(1000, "new"), Verdict::News);
        assert_eq!(window.admit(1000 - EVENT_WINDOW, "old"), Verdict::Stale);
        assert_eq!(window.admit(1001 - EVENT_WINDOW, "edge"), Verdict::News);
        for ltime in 0..500 {
            window.admit(2000 + ltime, "e");
        }
        assert!(window.seen.len() <= usize::try_from(EVENT_WINDOW).unwrap_or(usize::MAX) + 1);
        assert_eq!(window.admit(2499, "e"), Verdict::Seen);
        assert_eq!(window.admit(2400, "e"), Verdict::Stale);
        assert_eq!(
            window.admit(u64::MAX, "x"),
            Verdict::News,
            "no overflow at the end of time"
        );
        assert_eq!(window.clock, u64::MAX);
    }

    #[test]
    fn newer_keys_end_the_spreading_of_events_out_of_the_window() {
        let key = |ltime, id: &str| EventKey {
            ltime,
            id: id.to_string(),
        };
        assert!(key(100, "a").invalidates(&key(100 - EVENT_WINDOW - 1, "b")));
        assert!(!key(100, "a").invalidates(&key(100 - EVENT_WINDOW, "b")));
        assert!(!key(100, "a").invalidates(&key(100, "b")));
        assert!(key(100, "a").invalidates(&key(100, "a")));
        assert!(!key(1, "a").invalidates(&key(0, "b")));
    }

    #[test]
    fn the_handler_delivers_news_and_refuses_garbage() {
        let log = Arc::new(EventLog::new());
        let mut subscriber = log.subscribe();
        let mut handler = EventHandler::new(Arc::clone(&log));
        let bytes = DeliveredEvent::encode(5, &event("e1")).expect("encodes");
        assert!(handler.receive_item(&bytes, None).expect("reads").is_some());
        assert!(handler.receive_item(&bytes, None).expect("reads").is_none());
        assert!(handler.receive_item(&bytes[..3], None).is_err());
        assert_eq!(subscriber.try_recv().expect("delivered").ltime, 5);
        assert!(subscriber.try_recv().is_err());
    }
}
