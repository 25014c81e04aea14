//! User events on the agent: a fired event is checked and handed to gossip, which carries it to
//! every agent of the datacenter (this one included); each agent keeps the events whose node,
//! service and tag filters select it — the most recent ones, newest last, with a notification
//! for blocking `/v1/event/list` queries.

use base64::Engine as _;
use regex::Regex;
use senate_gossip::{DeliveredEvent, UserEventMessage};
use serde::Serialize;
use std::collections::VecDeque;
use std::sync::Mutex;
use tokio::sync::Notify;

/// How many events an agent remembers, as in Consul.
pub const EVENT_BUFFER_SIZE: usize = 256;
/// The largest name plus payload a user event may carry.
pub const MAX_EVENT_BYTES: usize = 512;

/// A user event, in Consul's JSON shape.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct UserEvent {
    #[serde(rename = "ID")]
    pub id: String,
    pub name: String,
    /// Base64 of the payload, or null when there is none.
    pub payload: Option<String>,
    pub node_filter: String,
    pub service_filter: String,
    pub tag_filter: String,
    pub version: u32,
    #[serde(rename = "LTime")]
    pub ltime: u64,
}

impl UserEvent {
    /// The event as Consul shows it: the payload base64-encoded, version 1.
    pub fn delivered(delivered: &DeliveredEvent) -> Self {
        let message = &delivered.event;
        let payload = (!message.payload.is_empty())
            .then(|| base64::engine::general_purpose::STANDARD.encode(&message.payload));
        UserEvent {
            id: message.id.clone(),
            name: message.name.clone(),
            payload,
            node_filter: message.node_filter.clone(),
            service_filter: message.service_filter.clone(),
            tag_filter: message.tag_filter.clone(),
            version: 1,
            ltime: delivered.ltime,
        }
    }
}

/// What a client asks to fire.
pub struct EventRequest {
    pub name: String,
    pub payload: Vec<u8>,
    pub node_filter: String,
    pub service_filter: String,
    pub tag_filter: String,
}

/// Why an event could not be fired.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum EventError {
    #[error("Missing name")]
    MissingName,
    #[error("User event exceeds the {MAX_EVENT_BYTES} byte limit ({0} bytes)")]
    TooLarge(usize),
    #[error("Invalid {field} filter: {reason}")]
    BadFilter { field: &'static str, reason: String },
}

/// The events this agent has seen.
#[derive(Default)]
pub struct EventBuffer {
    state: Mutex<Buffer>,
    changed: Notify,
}

#[derive(Default)]
struct Buffer {
    events: VecDeque<UserEvent>,
}

impl EventBuffer {
    /// Checks a request to fire an event and makes the message gossip carries.
    pub fn prepare(request: EventRequest) -> Result<UserEventMessage, EventError> {
        if request.name.is_empty() {
            return Err(EventError::MissingName);
        }
        let size = request.name.len() + request.payload.len();
        if size > MAX_EVENT_BYTES {
            return Err(EventError::TooLarge(size));
        }
        compile_filter("node", &request.node_filter)?;
        compile_filter("service", &request.service_filter)?;
        compile_filter("tag", &request.tag_filter)?;
        Ok(UserEventMessage {
            id: uuid_v4(),
            name: request.name,
            payload: request.payload,
            node_filter: request.node_filter,
            service_filter: request.service_filter,
            tag_filter: request.tag_filter,
        })
    }

    /// Records a delivered event if its filters select this agent (`local_node`, and its
    /// services with their tags) and it is not recorded yet (the agent that fired an event
    /// records it at once, then gossip delivers it again), and wakes blocked listers.
    pub fn accept(
        &self,
        delivered: &DeliveredEvent,
        local_node: &str,
        local_services: &[(String, Vec<String>)],
    ) {
        let event = UserEvent::delivered(delivered);
        if !selects(&event, local_node, local_services) {
            return;
        }
        let mut buffer = self.lock();
        if buffer.events.iter().any(|known| known.id == event.id) {
            return;
        }
        if buffer.events.len() == EVENT_BUFFER_SIZE {
            buffer.events.pop_front();
        }
        buffer.events.push_back(event);
        drop(buffer);
        self.changed.notify_waiters();
    }

    /// The buffered events, optionally only those named `name`, with the blocking index:
    /// the Lamport time of the newest listed event (1 when none).
    pub fn list(&self, name: Option<&str>) -> (u64, Vec<UserEvent>) {
        let buffer = self.lock();
        let events: Vec<UserEvent> = buffer
            .events
            .iter()
            .filter(|e| name.is_none_or(|n| e.name == n))
            .cloned()
            .collect();
        let index = events.last().map(|e| e.ltime + 1).unwrap_or(1);
        (index, events)
    }

    /// Fires whenever an event is recorded.
    pub fn changed(&self) -> &Notify {
        &self.changed
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Buffer> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

fn compile_filter(field: &'static str, pattern: &str) -> Result<Option<Regex>, EventError> {
    if pattern.is_empty() {
        return Ok(None);
    }
    Regex::new(pattern)
        .map(Some)
        .map_err(|e| EventError::BadFilter {
            field,
            reason: e.to_string(),
        })
}

/// Whether an event's filters select this agent: its node name, and one of its services (and tags).
fn selects(event: &UserEvent, local_node: &str, local_services: &[(String, Vec<String>)]) -> bool {
    let matches = |pattern: &str, text: &str| Regex::new(pattern).is_ok_and(|re| re.is_match(text));
    if !event.node_filter.is_empty() && !matches(&event.node_filter, local_node) {
        return false;
    }
    if event.service_filter.is_empty() {
        return true;
    }
    local_services.iter().any(|(service, tags)| {
        matches(&event.service_filter, service)
            && (event.tag_filter.is_empty()
                || tags.iter().any(|tag| matches(&event.tag_filter, tag)))
    })
}

fn uuid_v4() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// Records every event gossip delivers to this agent that selects it, until gossip stops or
/// the agent is dropped.
pub async fn deliver(
    events: std::sync::Arc<EventBuffer>,
    gossip: senate_gossip::Gossip,
    agent: std::sync::Weak<crate::local_agent::LocalAgent>,
) {
    use tokio::sync::broadcast::error::RecvError;
    let mut delivered = gossip.subscribe_events();
    loop {
        let event = match delivered.recv().await {
            Ok(event) => event,
            Err(RecvError::Lagged(missed)) => {
                tracing::warn!(missed, "user events were delivered faster than recorded");
                continue;
            }
            Err(RecvError::Closed) => return,
        };
        let Some(agent) = agent.upgrade() else {
            return;
        };
        events.accept(
            &event,
            &agent.config.node_name,
            &agent.service_names_and_tags(),
        );
    }
}
