//! Gossip encryption between nodes in one process on 127.0.0.1: encrypted pools, nodes with
//! the wrong key or none, mixed verification while turning encryption on, keyring rotation
//! across the pool, refused keyring operations, the keyring file, and junk on the wire.

mod common;

use common::*;
use senate_gossip::{
    EncryptionConfig, Gossip, GossipConfig, GossipError, KeyError, KeyringOp, KeyringReport,
    MemberStatus,
};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const KEY_1: &str = "FqSWOZm2fm84kcm/ekDBl/ZVeIetPv7nJbJ18cO73vY=";
const KEY_2: &str = "lydme4Ya5ccrFu0eUWR2HR9r94tr7DlWpYufCwN7f2E=";
const KEY_3: &str = "6+HNQeq7oqJsZzWNhNeVzhqUSiB6cBUSqTIGQqLiNnQ=";
const AES_128_KEY: &str = "KHaVg9HOPzhtmpqfFEJC0Q==";
/// Valid base64 of 10 bytes: no AES key size.
const TEN_BYTES: &str = "kEoy6ZClp4xA+g==";

const FAILURE_DETECTION: Duration = Duration::from_secs(12);
const PROMPT: Duration = Duration::from_secs(3);

fn encrypted(name: &str, key: &str) -> GossipConfig {
    config(name, Some(EncryptionConfig::with_key(key)))
}

async fn encrypted_cluster(names: &[&str], key: &str) -> Vec<Gossip> {
    cluster_of(names.iter().map(|name| encrypted(name, key)).collect()).await
}

fn counts(pairs: &[(&str, usize)]) -> BTreeMap<String, usize> {
    pairs
        .iter()
        .map(|(key, count)| (key.to_string(), *count))
        .collect()
}

async fn keyring(node: &Gossip, op: KeyringOp) -> KeyringReport {
    node.keyring(op, false)
        .await
        .expect("keyring operation runs")
}

/// Asserts every node answered without error and the keyring counts are these.
fn assert_keys(report: &KeyringReport, nodes: usize, keys: &[(&str, usize)], primary: &str) {
    assert_eq!(report.num_nodes, nodes, "{report:?}");
    assert_eq!(report.num_responses, nodes, "{report:?}");
    assert_eq!(report.num_errors, 0, "{report:?}");
    assert!(report.messages.is_empty(), "{report:?}");
    assert_eq!(report.keys, counts(keys), "{report:?}");
    assert_eq!(
        report.primary_keys,
        counts(&[(primary, nodes)]),
        "{report:?}"
    );
}

/// Asserts every node refused the operation with `message` and kept `keys`, `primary` first.
fn assert_refused(report: &KeyringReport, nodes: usize, message: &str, keys: &[&str]) {
    assert_eq!(report.num_nodes, nodes, "{report:?}");
    assert_eq!(report.num_responses, nodes, "{report:?}");
    assert_eq!(report.num_errors, nodes, "{report:?}");
    assert_eq!(report.messages.len(), nodes, "{report:?}");
    for why in report.messages.values() {
        assert!(why.contains(message), "{why}");
    }
    let held: Vec<(&str, usize)> = keys.iter().map(|key| (*key, nodes)).collect();
    assert_eq!(report.keys, counts(&held), "{report:?}");
    assert_eq!(
        report.primary_keys,
        counts(&[(keys[0], nodes)]),
        "{report:?}"
    );
}

fn assert_key_is_blamed(error: &GossipError) {
    let message = error.to_string();
    assert!(matches!(error, GossipError::Join(_)), "{error:?}");
    assert!(
        message.contains("`encrypt` is the cluster's gossip key"),
        "{message}"
    );
}

/// Records every moment a node sees fewer than `size` members alive, until dropped.
struct AliveWatch {
    lapses: Arc<Mutex<Vec<String>>>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl AliveWatch {
    fn new(nodes: &[Gossip], size: usize) -> AliveWatch {
        let lapses = Arc::new(Mutex::new(Vec::new()));
        let tasks = nodes
            .iter()
            .map(|node| {
                let node = node.clone();
                let lapses = Arc::clone(&lapses);
                tokio::spawn(async move {
                    let mut changes = node.subscribe();
                    loop {
                        changes.borrow_and_update();
                        let members = node.members();
                        if alive(&members) < size {
                            let name = node.local_member().name;
                            lapses.lock().unwrap().push(format!("{name}: {members:?}"));
                        }
                        if changes.changed().await.is_err() {
                            return;
                        }
                    }
                })
            })
            .collect();
        AliveWatch { lapses, tasks }
    }

    fn lapses(&self) -> Vec<String> {
        self.lapses.lock().unwrap().clone()
    }
}

impl Drop for AliveWatch {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// A fresh directory under the system's temporary one.
fn scratch(name: &str) -> PathBuf {
    let unique = format!("senate-gossip-{name}-{}", std::process::id());
    let directory = std::env::temp_dir().join(unique);
    let _absent = std::fs::remove_dir_all(&directory);
    directory
}

fn keyring_file_keys(path: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(path).expect("keyring file written");
    serde_json::from_str(&text).expect("a JSON array of keys")
}

#[tokio::test]
async fn an_encrypted_pool_forms_and_detects_a_failure() {
    let nodes = encrypted_cluster(&["enc-a", "enc-b", "enc-c"], AES_128_KEY).await;
    assert!(nodes.iter().all(Gossip::encryption_enabled));
    nodes[2].shutdown().await;
    for node in &nodes[..2] {
        wait_status(node, "enc-c", MemberStatus::Failed, FAILURE_DETECTION).await;
    }
    // A member still joins afterwards, and tags still travel.
    let late = start_encrypted("enc-d", AES_128_KEY).await;
    late.join(&[address(&nodes[1])]).await.expect("joins");
    for node in [&nodes[0], &nodes[1], &late] {
        wait_for(node, PROMPT, "three alive", |m| alive(m) == 3).await;
    }
}

#[tokio::test]
async fn a_node_with_the_wrong_key_cannot_join_and_is_told_why() {
    let member = start_encrypted("wrong-a", KEY_1).await;
    let stranger = start_encrypted("wrong-b", KEY_2).await;
    let error = stranger
        .join(&[address(&member)])
        .await
        .expect_err("the wrong key cannot join");
    assert_key_is_blamed(&error);
    assert!(error.to_string().contains(&address(&member)), "{error}");
    assert_eq!(member.members().len(), 1, "the stranger was not admitted");
    assert_eq!(stranger.members().len(), 1);
}

#[tokio::test]
async fn plaintext_and_encrypted_nodes_do_not_mix_while_verifying_incoming() {
    let member = start_encrypted("plain-a", KEY_1).await;
    let plain = start("plain-b").await;
    assert!(!plain.encryption_enabled());
    let error = plain
        .join(&[address(&member)])
        .await
        .expect_err("plaintext is refused");
    assert_key_is_blamed(&error);
    assert_eq!(
        member.members().len(),
        1,
        "the plaintext node was not admitted"
    );
    let error = member
        .join(&[address(&plain)])
        .await
        .expect_err("a plaintext node cannot read an encrypted hello");
    assert_key_is_blamed(&error);
    assert_eq!(plain.members().len(), 1);
}

#[tokio::test]
async fn without_verify_incoming_plaintext_and_encrypted_input_are_both_accepted() {
    // Consul's way of turning encryption on: every node gets the key, accepting both; then
    // output is encrypted node by node; then plaintext input is refused.
    let lenient = |name: &str, verify_outgoing| {
        let encryption = EncryptionConfig {
            verify_incoming: false,
            verify_outgoing,
            ..EncryptionConfig::with_key(KEY_1)
        };
        config(name, Some(encryption))
    };
    let nodes = cluster_of(vec![
        lenient("mixed-a", true),
        lenient("mixed-b", false),
        lenient("mixed-c", true),
    ])
    .await;
    nodes[1]
        .set_tags(tags(&[("role", "mixed-b"), ("build", "2")]))
        .await
        .expect("sets tags");
    for node in [&nodes[0], &nodes[2]] {
        wait_for(node, PROMPT, "mixed-b's new tags", |members| {
            members.iter().any(|m| {
                m.name == "mixed-b" && m.tags.get("build").map(String::as_str) == Some("2")
            })
        })
        .await;
    }
}

#[tokio::test]
async fn the_key_rotates_across_the_pool_and_everyone_stays_alive() {
    let nodes = encrypted_cluster(&["rot-a", "rot-b", "rot-c"], KEY_1).await;
    let watch = AliveWatch::new(&nodes, 3);

    let listed = keyring(&nodes[0], KeyringOp::List).await;
    assert_keys(&listed, 3, &[(KEY_1, 3)], KEY_1);

    let installed = keyring(&nodes[1], KeyringOp::Install(KEY_2.into())).await;
    assert_keys(&installed, 3, &[(KEY_1, 3), (KEY_2, 3)], KEY_1);
    let again = keyring(&nodes[2], KeyringOp::Install(KEY_2.into())).await;
    assert_keys(&again, 3, &[(KEY_1, 3), (KEY_2, 3)], KEY_1);

    let used = keyring(&nodes[0], KeyringOp::Use(KEY_2.into())).await;
    assert_keys(&used, 3, &[(KEY_1, 3), (KEY_2, 3)], KEY_2);

    let removed = keyring(&nodes[2], KeyringOp::Remove(KEY_1.into())).await;
    assert_keys(&removed, 3, &[(KEY_2, 3)], KEY_2);
    let absent = keyring(&nodes[1], KeyringOp::Remove(KEY_3.into())).await;
    assert_keys(&absent, 3, &[(KEY_2, 3)], KEY_2);

    // Gossip flows under the new key alone: new tags spread over UDP, a node with only the
    // new key joins, and one with only the old key no longer can.
    nodes[0]
        .set_tags(tags(&[("role", "rot-a"), ("rotated", "yes")]))
        .await
        .expect("sets tags");
    for node in &nodes[1..] {
        wait_for(node, PROMPT, "rot-a's new tags", |members| {
            members.iter().any(|m| {
                m.name == "rot-a" && m.tags.get("rotated").map(String::as_str) == Some("yes")
            })
        })
        .await;
    }
    let newcomer = start_encrypted("rot-d", KEY_2).await;
    newcomer.join(&[address(&nodes[2])]).await.expect("joins");
    for node in nodes.iter().chain([&newcomer]) {
        wait_for(node, PROMPT, "four alive", |m| alive(m) == 4).await;
    }
    let stale = start_encrypted("rot-e", KEY_1).await;
    assert_key_is_blamed(
        &stale
            .join(&[address(&nodes[0])])
            .await
            .expect_err("old key"),
    );
    assert_eq!(watch.lapses(), Vec::<String>::new(), "a member dropped out");
}

#[tokio::test]
async fn datagrams_are_sealed_with_the_primary_key() {
    let nodes = encrypted_cluster(&["udp-a", "udp-b", "udp-c"], KEY_1).await;
    let local = |op| nodes[2].keyring(op, true);
    local(KeyringOp::Install(KEY_2.into()))
        .await
        .expect("installs");
    // udp-c seals with a key the others lack: they cannot read its acks, and fail it.
    local(KeyringOp::Use(KEY_2.into())).await.expect("uses");
    for node in &nodes[..2] {
        wait_status(node, "udp-c", MemberStatus::Failed, FAILURE_DETECTION).await;
    }
    // Back on the shared key, it is heard again and rejoins.
    local(KeyringOp::Use(KEY_1.into())).await.expect("uses");
    for node in &nodes {
        wait_for(node, Duration::from_secs(30), "three alive again", |m| {
            alive(m) == 3
        })
        .await;
    }
}

#[tokio::test]
async fn removing_the_primary_key_is_refused_and_nothing_changes() {
    let nodes = encrypted_cluster(&["prim-a", "prim-b", "prim-c"], KEY_1).await;
    keyring(&nodes[0], KeyringOp::Install(KEY_2.into())).await;
    let refused = keyring(&nodes[1], KeyringOp::Remove(KEY_1.into())).await;
    assert_refused(
        &refused,
        3,
        "Removing the primary key is not allowed",
        &[KEY_1, KEY_2],
    );
    let listed = keyring(&nodes[2], KeyringOp::List).await;
    assert_keys(&listed, 3, &[(KEY_1, 3), (KEY_2, 3)], KEY_1);
    for node in &nodes {
        wait_for(node, PROMPT, "three alive", |m| alive(m) == 3).await;
    }
}

#[tokio::test]
async fn using_a_key_that_is_not_installed_is_refused() {
    let nodes = encrypted_cluster(&["use-a", "use-b", "use-c"], KEY_1).await;
    let refused = keyring(&nodes[0], KeyringOp::Use(KEY_3.into())).await;
    assert_refused(&refused, 3, "Requested key is not in the keyring", &[KEY_1]);
    // Installed on one node only, it becomes primary there and is refused elsewhere.
    let local = nodes[0]
        .keyring(KeyringOp::Install(KEY_3.into()), true)
        .await
        .expect("runs locally");
    assert_keys(&local, 1, &[(KEY_1, 1), (KEY_3, 1)], KEY_1);
    let partial = keyring(&nodes[0], KeyringOp::Use(KEY_3.into())).await;
    assert_eq!(partial.num_nodes, 3);
    assert_eq!(partial.num_errors, 2, "{partial:?}");
    assert!(!partial.messages.contains_key("use-a"), "{partial:?}");
    assert_eq!(partial.primary_keys, counts(&[(KEY_1, 2), (KEY_3, 1)]));
    // The others cannot read what use-a now seals: put its primary back at once.
    let reverted = nodes[0]
        .keyring(KeyringOp::Use(KEY_1.into()), true)
        .await
        .expect("runs locally");
    assert_keys(&reverted, 1, &[(KEY_1, 1), (KEY_3, 1)], KEY_1);
    for node in &nodes {
        wait_for(node, PROMPT, "three alive", |m| alive(m) == 3).await;
    }
}

#[tokio::test]
async fn malformed_keys_are_refused_before_anything_is_sent() {
    let node = start_encrypted("bad-key-a", KEY_1).await;
    for op in [
        KeyringOp::Install(TEN_BYTES.into()),
        KeyringOp::Use(TEN_BYTES.into()),
        KeyringOp::Remove(TEN_BYTES.into()),
    ] {
        match node.keyring(op, false).await {
            Err(error @ GossipError::InvalidKey(KeyError::Length(10))) => assert_eq!(
                error.to_string(),
                "invalid encrypt key: must be 16, 24 or 32 bytes base64-encoded, got 10 bytes"
            ),
            other => panic!("expected an invalid key, got {other:?}"),
        }
    }
    assert!(matches!(
        node.keyring(KeyringOp::Install("not base64!".into()), true)
            .await,
        Err(GossipError::InvalidKey(KeyError::NotBase64(_)))
    ));
    let listed = node.keyring(KeyringOp::List, true).await.expect("lists");
    assert_keys(&listed, 1, &[(KEY_1, 1)], KEY_1);
    match Gossip::start(encrypted("bad-key-b", TEN_BYTES)).await {
        Err(GossipError::InvalidKey(KeyError::Length(10))) => {}
        Err(other) => panic!("expected an invalid key, got {other:?}"),
        Ok(_) => panic!("a node started with a malformed key"),
    }
}

#[tokio::test]
async fn keyring_operations_need_encryption() {
    let plain = start("no-keyring").await;
    assert!(!plain.encryption_enabled());
    match plain.keyring(KeyringOp::List, false).await {
        Err(error @ GossipError::KeyringDisabled) => {
            assert_eq!(error.to_string(), "Gossip encryption is not enabled");
        }
        other => panic!("expected the keyring to be disabled, got {other:?}"),
    }
    // Encryption configured without a key or keyring file is off, as in Consul.
    let keyless = start_with(config("keyless", Some(EncryptionConfig::default()))).await;
    assert!(!keyless.encryption_enabled());
}

#[tokio::test]
async fn the_keyring_file_is_written_and_wins_over_the_initial_key_on_restart() {
    let directory = scratch("keyring-file");
    let file = directory.join("serf").join("local.keyring");
    let with_file = |name: &str, key: Option<&str>| {
        let encryption = EncryptionConfig {
            initial_key: key.map(str::to_string),
            keyring_file: Some(file.clone()),
            ..EncryptionConfig::default()
        };
        config(name, Some(encryption))
    };

    let node = start_with(with_file("file-a", Some(KEY_1))).await;
    assert_eq!(keyring_file_keys(&file), [KEY_1]);
    keyring(&node, KeyringOp::Install(KEY_2.into())).await;
    assert_eq!(keyring_file_keys(&file), [KEY_1, KEY_2]);
    keyring(&node, KeyringOp::Use(KEY_2.into())).await;
    assert_eq!(keyring_file_keys(&file), [KEY_2, KEY_1]);
    let refused = keyring(&node, KeyringOp::Remove(KEY_2.into())).await;
    assert_eq!(refused.num_errors, 1);
    assert_eq!(
        keyring_file_keys(&file),
        [KEY_2, KEY_1],
        "a refusal writes nothing"
    );
    node.shutdown().await;

    let restarted = start_with(with_file("file-a", Some(KEY_3))).await;
    let listed = restarted
        .keyring(KeyringOp::List, true)
        .await
        .expect("lists");
    assert_keys(&listed, 1, &[(KEY_1, 1), (KEY_2, 1)], KEY_2);
    assert_eq!(keyring_file_keys(&file), [KEY_2, KEY_1], "the file is kept");
    let peer = start_encrypted("file-b", KEY_2).await;
    peer.join(&[address(&restarted)]).await.expect("joins");
    wait_for(&restarted, PROMPT, "two alive", |m| alive(m) == 2).await;
    restarted.shutdown().await;

    // Without `encrypt`, the keyring file alone turns encryption on.
    let from_file = start_with(with_file("file-c", None)).await;
    assert!(from_file.encryption_enabled());
    from_file.shutdown().await;

    std::fs::write(&file, "not json").expect("writes");
    match Gossip::start(with_file("file-d", Some(KEY_1))).await {
        Err(error @ GossipError::KeyringFile(_)) => {
            let message = error.to_string();
            assert!(message.contains(&file.display().to_string()), "{message}");
        }
        Err(other) => panic!("expected a keyring file error, got {other:?}"),
        Ok(_) => panic!("a node started with a malformed keyring file"),
    }
    std::fs::remove_dir_all(directory).expect("cleans up");
}

#[tokio::test]
async fn undecryptable_and_garbage_input_is_dropped_without_harm() {
    let nodes = encrypted_cluster(&["junk-a", "junk-b"], KEY_1).await;
    let target = nodes[0].local_address();
    let sender = tokio::net::UdpSocket::bind("127.0.0.1:0")
        .await
        .expect("binds");
    // Marked sealed (version 0x81), sealed with no key anyone has.
    let sealed_looking: Vec<u8> = std::iter::once(0x81).chain(0..60).collect();
    let junk: Vec<Vec<u8>> = vec![
        vec![],
        vec![1],
        sealed_looking,
        vec![1, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF],
        (0..=255u8).cycle().take(1429).collect(),
        vec![7; 4000],
    ];
    for datagram in &junk {
        sender.send_to(datagram, target).await.expect("sends");
    }
    let mut frame = 40u32.to_be_bytes().to_vec();
    frame.push(0x81);
    frame.extend((0..39).map(|byte: u8| byte.wrapping_mul(37)));
    for bytes in [&frame[..], &b"GET / HTTP/1.1\r\n\r\n"[..], &[0xFF; 8]] {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut stream = tokio::net::TcpStream::connect(target)
            .await
            .expect("connects");
        stream.write_all(bytes).await.expect("writes");
        let mut answer = Vec::new();
        let _closed = tokio::time::timeout(PROMPT, stream.read_to_end(&mut answer)).await;
        assert!(answer.is_empty(), "junk got an answer: {answer:?}");
    }
    let late = start_encrypted("junk-c", KEY_1).await;
    assert_eq!(late.join(&[target.to_string()]).await.expect("joins"), 1);
    for node in nodes.iter().chain([&late]) {
        wait_for(node, PROMPT, "three alive", |m| alive(m) == 3).await;
    }
}
