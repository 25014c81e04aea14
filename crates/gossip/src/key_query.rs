//! Keyring operations across the pool, as serf's internal key queries do them: every live
//! member, this node included, is asked over TCP to run the operation on its own keyring —
//! all at once, each with a deadline — and the answers are added up into a report.

use crate::encryption::{Encryption, Envelope};
use crate::error::GossipError;
use crate::exchange;
use crate::frame::{self, Frame};
use crate::keyring::KeyringOp;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;

/// Why a node does not run a keyring request that arrived in plaintext: anyone could send
/// one while `verify_incoming` is off.
const UNSEALED_REQUEST: &str = "keyring requests must be encrypted with an installed gossip key \
     (is `encrypt_verify_outgoing` off on the requesting node?)";

/// What one node answered a keyring request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct KeyringReply {
    /// The node's installed keys after the operation, the primary first.
    pub(crate) keys: Vec<String>,
    /// Why the operation failed there.
    pub(crate) error: Option<String>,
}

/// The outcome of a keyring operation, as Consul's `/v1/operator/keyring` reports it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KeyringReport {
    /// How many nodes were asked.
    pub num_nodes: usize,
    /// Each key (base64) and how many nodes have it installed.
    pub keys: BTreeMap<String, usize>,
    /// Each primary key (base64) and how many nodes use it.
    pub primary_keys: BTreeMap<String, usize>,
    /// Why the operation failed, by node name.
    pub messages: BTreeMap<String, String>,
    /// How many nodes failed the operation or did not answer.
    pub num_errors: usize,
    /// How many nodes answered.
    pub num_responses: usize,
}

impl KeyringReport {
    /// Adds up what each node answered, or why it did not, by node name.
    pub(crate) fn collect(
        answers: impl IntoIterator<Item = (String, Result<KeyringReply, String>)>,
    ) -> KeyringReport {
        let mut report = KeyringReport::default();
        for (node, answer) in answers {
            report.num_nodes += 1;
            match answer {
                Ok(reply) => report.add_reply(node, reply),
                Err(why) => report.add_error(node, why),
            }
        }
        report
    }

    fn add_reply(&mut self, node: String, reply: KeyringReply) {
        self.num_responses += 1;
        if let Some(primary) = reply.keys.first() {
            *self.primary_keys.entry(primary.clone()).or_default() += 1;
        }
        for key in reply.keys {
            *self.keys.entry(key).or_default() += 1;
        }
        if let Some(error) = reply.error {
            self.add_error(node, error);
        }
    }

    fn add_error(&mut self, node: String, why: String) {
        self.num_errors += 1;
        self.messages.insert(node, why);
    }
}

/// Runs `op` on this node's keyring; the reply holds the keys afterwards.
pub(crate) async fn run_locally(encryption: &Arc<Encryption>, op: &KeyringOp) -> KeyringReply {
    let error = apply(encryption, op).await.err();
    KeyringReply {
        keys: encryption.keyring().encoded(),
        error,
    }
}

async fn apply(encryption: &Arc<Encryption>, op: &KeyringOp) -> Result<(), String> {
    let change = op
        .change()
        .map_err(|error| GossipError::from(error).to_string())?;
    if let Some(change) = change {
        encryption
            .change(change)
            .await
            .map_err(|error| error.to_string())?;
    }
    Ok(())
}

/// Answers a keyring request from another node (or this one, over TCP): only a sealed one,
/// and only with encryption on.
pub(crate) async fn answer(envelope: &Envelope, op: &KeyringOp, sealed: bool) -> KeyringReply {
    let Some(encryption) = envelope.encryption() else {
        return KeyringReply {
            keys: Vec::new(),
            error: Some(GossipError::KeyringDisabled.to_string()),
        };
    };
    if !sealed {
        return KeyringReply {
            keys: encryption.keyring().encoded(),
            error: Some(UNSEALED_REQUEST.to_string()),
        };
    }
    run_locally(encryption, op).await
}

/// Asks every one of `members` (name and gossip address) to run `op`, all at once.
pub(crate) async fn ask_all(
    members: Vec<(String, SocketAddr)>,
    op: &KeyringOp,
    envelope: &Envelope,
) -> Result<KeyringReport, GossipError> {
    let request = frame::encode(&Frame::KeyringRequest(op.clone()), envelope).map_err(|error| {
        GossipError::Protocol(format!("cannot encode a keyring request: {error}"))
    })?;
    let asks = members.into_iter().map(|(name, target)| {
        let request = &request;
        async move { (name, ask(target, request, envelope).await) }
    });
    Ok(KeyringReport::collect(
        futures::future::join_all(asks).await,
    ))
}

async fn ask(
    target: SocketAddr,
    request: &[u8],
    envelope: &Envelope,
) -> Result<KeyringReply, String> {
    match exchange::request(target, request, envelope).await {
        Ok(Frame::KeyringReply(reply)) => Ok(reply),
        Ok(_) => Err("answered the keyring request with something else than a reply".to_string()),
        Err(error) => Err(format!("no answer from {target}: {error}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(keys: &[&str], error: Option<&str>) -> Result<KeyringReply, String> {
        Ok(KeyringReply {
            keys: keys.iter().map(|key| key.to_string()).collect(),
            error: error.map(str::to_string),
        })
    }

    #[test]
    fn the_report_counts_keys_primaries_and_errors() {
        let report = KeyringReport::collect([
            ("a".to_string(), reply(&["new", "old"], None)),
            (
                "b".to_string(),
                reply(&["old", "new"], Some("Requested key is not in the keyring")),
            ),
            (
                "c".to_string(),
                Err("no answer from 127.0.0.1:1: connection refused".to_string()),
            ),
        ]);
        assert_eq!(report.num_nodes, 3);
        assert_eq!(report.num_responses, 2);
        assert_eq!(report.num_errors, 2);
        assert_eq!(
            report.keys,
            BTreeMap::from([("new".to_string(), 2), ("old".to_string(), 2)])
        );
        assert_eq!(
            report.primary_keys,
            BTreeMap::from([("new".to_string(), 1), ("old".to_string(), 1)])
        );
        assert_eq!(
            report.messages.get("b").map(String::as_str),
            Some("Requested key is not in the keyring")
        );
        assert!(report.messages["c"].contains("connection refused"));
        assert!(!report.messages.contains_key("a"));
    }

    #[tokio::test]
    async fn a_node_without_encryption_or_a_plaintext_request_is_refused() {
        let off = answer(&Envelope::default(), &KeyringOp::List, true).await;
        assert_eq!(
            off.error.as_deref(),
            Some("Gossip encryption is not enabled")
        );
        let config =
            crate::config::EncryptionConfig::with_key(crate::cipher::tests::key_text(16, 3));
        let on = Envelope::start(Some(&config)).expect("starts");
        let unsealed = answer(
            &on,
            &KeyringOp::Install(crate::cipher::tests::key_text(16, 4)),
            false,
        )
        .await;
        assert_eq!(unsealed.error.as_deref(), Some(UNSEALED_REQUEST));
        assert_eq!(unsealed.keys.len(), 1, "nothing was installed");
    }
}
