//! Leave intents: the custom foca broadcast saying a member left on purpose — its own
//! `leave`, or an operator's `force-leave` — so that its Down state reads Left, not Failed
//! (and, with prune, that it is dropped from the list).

use crate::broadcasts::LEAVE_INTENT;
use crate::codec::{decode_tagged, encode_tagged, TaggedError};
use crate::identity::NodeId;
use crate::shared::Shared;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::Arc;

/// The leave intents known, by node name.
pub(crate) type Intents = HashMap<String, Intent>;

/// A member left up to (and including) this generation; `prune` forgets it as well.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Intent {
    pub(crate) generation: u64,
    pub(crate) prune: bool,
}

impl Intent {
    pub(crate) fn new(generation: u64, prune: bool) -> Intent {
        Intent { generation, prune }
    }

    /// Whether this intent says more than `known` does.
    fn supersedes(&self, known: &Intent) -> bool {
        (self.generation, self.prune) > (known.generation, known.prune)
    }
}

/// A leave intent as broadcast.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct LeaveIntent {
    pub(crate) name: String,
    pub(crate) generation: u64,
    pub(crate) prune: bool,
}

impl LeaveIntent {
    pub(crate) fn encode(&self) -> Result<Vec<u8>, bincode::Error> {
        encode_tagged(LEAVE_INTENT, self)
    }

    pub(crate) fn decode(bytes: &[u8]) -> Result<LeaveIntent, TaggedError> {
        decode_tagged(LEAVE_INTENT, bytes)
    }

    pub(crate) fn intent(&self) -> Intent {
        Intent::new(self.generation, self.prune)
    }
}

/// Records an intent in `intents`; true when it was news.
pub(crate) fn record(intents: &mut Intents, name: &str, intent: Intent) -> bool {
    match intents.get(name) {
        Some(known) if !intent.supersedes(known) => false,
        _ => {
            intents.insert(name.to_string(), intent);
            true
        }
    }
}

/// foca's dissemination key for an intent: a newer one about the same node replaces it.
pub(crate) struct IntentKey {
    name: String,
    intent: Intent,
}

impl foca::Invalidates for IntentKey {
    fn invalidates(&self, other: &Self) -> bool {
        self.name == other.name && !other.intent.supersedes(&self.intent)
    }
}

/// Receives leave intents from foca into the shared state.
pub(crate) struct IntentHandler {
    shared: Arc<Shared>,
}

impl IntentHandler {
    pub(crate) fn new(shared: Arc<Shared>) -> IntentHandler {
        IntentHandler { shared }
    }
}

impl foca::BroadcastHandler<NodeId> for IntentHandler {
    type Key = IntentKey;
    type Error = TaggedError;

    fn receive_item(
        &mut self,
        data: &[u8],
        sender: Option<&NodeId>,
    ) -> Result<Option<IntentKey>, TaggedError> {
        let leave = LeaveIntent::decode(data)?;
        let key = IntentKey {
            name: leave.name.clone(),
            intent: leave.intent(),
        };
        let Some(_remote) = sender else {
            // Our own broadcast (a leave or force-leave here): already recorded, always sent.
            return Ok(Some(key));
        };
        if self.shared.is_local_name(&leave.name) {
            // Others' word that we left while we still run: do not spread it.
            return Ok(None);
        }
        let news = self.shared.record_intent(&leave.name, leave.intent());
        Ok(news.then_some(key))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use foca::Invalidates;

    #[test]
    fn intents_round_trip_and_reject_garbage() {
        let leave = LeaveIntent {
            name: "b".into(),
            generation: 7,
            prune: true,
        };
        let bytes = leave.encode().expect("encodes");
        assert_eq!(LeaveIntent::decode(&bytes).expect("decodes"), leave);
        assert!(LeaveIntent::decode(&[]).is_err());
        assert!(LeaveIntent::decode(&[9, 1]).is_err());
        assert!(LeaveIntent::decode(&[LEAVE_INTENT, 0xFF]).is_err());
    }

    #[test]
    fn only_news_is_recorded() {
        let mut intents = Intents::new();
        assert!(record(&mut intents, "b", Intent::new(5, false)));
        assert!(!record(&mut intents, "b", Intent::new(5, false)));
        assert!(!record(&mut intents, "b", Intent::new(4, true)));
        assert!(
            record(&mut intents, "b", Intent::new(5, true)),
            "prune adds to a leave"
        );
        assert!(record(&mut intents, "b", Intent::new(6, false)));
        assert_eq!(intents["b"], Intent::new(6, false));
    }

    #[test]
    fn newer_keys_invalidate_older_ones() {
        let key = |generation, prune| IntentKey {
            name: "b".into(),
            intent: Intent::new(generation, prune),
        };
        assert!(key(5, true).invalidates(&key(5, false)));
        assert!(key(6, false).invalidates(&key(5, true)));
        assert!(!key(5, false).invalidates(&key(5, true)));
        let other = IntentKey {
            name: "c".into(),
            intent: Intent::new(1, false),
        };
        assert!(!key(9, true).invalidates(&other));
    }
}
