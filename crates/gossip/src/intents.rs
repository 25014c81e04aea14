//! Leave intents: the custom foca broadcast saying a member left on purpose — its own
//! `leave`, or an operator's `force-leave` — so that its Down state reads Left, not Failed
//! (and, with prune, that it is dropped from the list).

use crate::codec::options;
use crate::identity::NodeId;
use crate::shared::Shared;
use bincode::Options;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::Arc;

/// The version byte in front of every encoded leave intent.
const INTENT_VERSION: u8 = 1;

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
        let mut bytes = vec![INTENT_VERSION];
        options().serialize_into(&mut bytes, self)?;
        Ok(bytes)
    }

    pub(crate) fn decode(bytes: &[u8]) -> Result<LeaveIntent, IntentError> {
        match bytes.split_first() {
            Some((&INTENT_VERSION, body)) => Ok(options().deserialize(body)?),
            Some((&version, _)) => Err(IntentError::Version(version)),
            None => Err(IntentError::Empty),
        }
    }

    pub(crate) fn intent(&self) -> Intent {
        Intent::new(self.generation, self.prune)
    }
}

/// Why a broadcast could not be read as a leave intent.
#[derive(Debug, thiserror::Error)]
pub(crate) enum IntentError {
    #[error("empty broadcast")]
    Empty,
    #[error("unsupported leave intent version {0}")]
    Version(u8),
    #[error("malformed leave intent: {0}")]
    Malformed(#[from] bincode::Error),
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
    type Error = IntentError;

    fn receive_item(
        &mut self,
        data: &[u8],
        sender: Option<&NodeId>,
    ) -> Result<Option<IntentKey>, IntentError> {
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
        assert!(LeaveIntent::decode(&[INTENT_VERSION, 0xFF]).is_err());
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
