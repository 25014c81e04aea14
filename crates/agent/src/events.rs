//! The agent's user-event buffer: the most recent events it accepted, newest last, with a
//! notification for blocking `/v1/event/list` queries.

use base64::Engine as _;
use regex::Regex;
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
    clock: u64,
}

impl EventBuffer {
    /// Validates and records an event fired on this agent, and wakes blocked listers.
    /// `local_node` and `local_services` (name, tags) decide whether the filters select this agent.
    pub fn fire(
        &self,
        request: EventRequest,
        local_node: &str,
        local_services: &[(String, Vec<String>)],
    ) -> Result<UserEvent, EventError> {
        let event = self.build(request)?;
        if selects(&event, local_node, local_services) {
            let mut buffer = self.lock();
            if buffer.events.len() == EVENT_BUFFER_SIZE {
                buffer.events.pop_front();
            }
            buffer.events.push_back(event.clone());
            drop(buffer);
            self.changed.notify_waiters();
        }
        Ok(event)
    }

    fn build(&self, request: EventRequest) -> Result<UserEvent, EventError> {
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
        let ltime = {
            let mut buffer = self.lock();
            buffer.clock += 1;
            buffer.clock
        };
        let payload = (!request.payload.is_empty())
            .then(|| base64::engine::general_purpose::STANDARD.encode(&request.payload));
        Ok(UserEvent {
            id: uuid_v4(),
            name: request.name,
            payload,
            node_filter: request.node_filter,
            service_filter: request.service_filter,
            tag_filter: request.tag_filter,
            version: 1,
            ltime,
        })
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
