//! KV endpoint behaviour: entry JSON shape, `?raw`, `?flags`, `?cas`, `?recurse`, `?keys`,
//! deletes, percent-encoded keys, missing keys and the 512 KiB value limit.

use crate::harness::Server;
use crate::ops::{base64, get_entry, put_bool, put_true, value_of};
use serde_json::{json, Value};

const MAX_VALUE_SIZE: usize = 512 * 1024;

#[test]
fn put_then_get_returns_consul_entry_shape() {
    let server = Server::dev();
    let mut c = server.client();
    put_true(&mut c, "/v1/kv/shape/key", "bar");

    let response = c.get("/v1/kv/shape/key").expect(200);
    let entries = response.json();
    let entry = &entries[0];
    let object = entry.as_object().expect("an entry is a JSON object");
    let mut fields: Vec<&str> = object.keys().map(String::as_str).collect();
    fields.sort_unstable();
    assert_eq!(
        fields,
        [
            "CreateIndex",
            "Flags",
            "Key",
            "LockIndex",
            "ModifyIndex",
            "Value"
        ],
        "no Session when unlocked"
    );
    assert_eq!(entry["Key"], "shape/key");
    assert_eq!(entry["Value"], base64("bar"));
    assert_eq!(entry["Flags"], 0);
    assert_eq!(entry["LockIndex"], 0);
    let created = entry["CreateIndex"]
        .as_u64()
        .expect("CreateIndex is a number");
    assert_eq!(entry["ModifyIndex"].as_u64(), Some(created));
    assert_eq!(
        response.index(),
        created,
        "X-Consul-Index of a single key is its ModifyIndex"
    );

    put_true(&mut c, "/v1/kv/shape/key", "baz");
    let updated = get_entry(&mut c, "shape/key").expect("key exists");
    assert_eq!(
        updated["CreateIndex"].as_u64(),
        Some(created),
        "an update keeps CreateIndex"
    );
    assert!(
        updated["ModifyIndex"].as_u64().expect("ModifyIndex") > created,
        "an update raises ModifyIndex"
    );
    assert_eq!(value_of(&updated), b"baz");
}

#[test]
fn empty_value_is_null() {
    let server = Server::dev();
    let mut c = server.client();
    put_true(&mut c, "/v1/kv/empty", "");
    let entry = get_entry(&mut c, "empty").expect("key exists");
    assert_eq!(entry["Value"], Value::Null);
    let raw = c.get("/v1/kv/empty?raw").expect(200);
    assert!(raw.body.is_empty());
}

#[test]
fn raw_returns_the_exact_bytes() {
    let server = Server::dev();
    let mut c = server.client();
    let value: Vec<u8> = (0..=255u8).chain([0, 0xff, b'\n']).collect();
    put_true(&mut c, "/v1/kv/binary", &value);
    let response = c.get("/v1/kv/binary?raw").expect(200);
    assert_eq!(response.body, value);
    assert!(
        response.header("x-consul-index").is_some(),
        "raw reads still carry X-Consul-Index"
    );
    assert_eq!(
        value_of(&get_entry(&mut c, "binary").expect("key exists")),
        value
    );
}

#[test]
fn raw_read_is_served_as_inert_plain_text() {
    let server = Server::dev();
    let mut c = server.client();
    put_true(&mut c, "/v1/kv/page", "<script>alert(1)</script>");
    let response = c.get("/v1/kv/page?raw").expect(200);
    assert_eq!(response.header("content-type"), Some("text/plain"));
    assert_eq!(response.header("x-content-type-options"), Some("nosniff"));
    assert_eq!(response.header("content-security-policy"), Some("sandbox"));
}

#[test]
fn flags_are_stored() {
    let server = Server::dev();
    let mut c = server.client();
    put_true(&mut c, "/v1/kv/flagged?flags=42", "v");
    assert_eq!(
        get_entry(&mut c, "flagged").expect("key exists")["Flags"],
        42
    );
    put_true(&mut c, "/v1/kv/flagged?flags=18446744073709551615", "v");
    assert_eq!(
        get_entry(&mut c, "flagged").expect("key exists")["Flags"],
        json!(u64::MAX)
    );
    put_true(&mut c, "/v1/kv/flagged", "v");
    assert_eq!(
        get_entry(&mut c, "flagged").expect("key exists")["Flags"],
        0,
        "a plain PUT resets flags to 0"
    );
}

#[test]
fn cas_zero_creates_only_and_index_must_match() {
    let server = Server::dev();
    let mut c = server.client();
    assert!(
        put_bool(&mut c, "/v1/kv/cas?cas=0", "first"),
        "cas=0 creates a missing key"
    );
    assert!(
        !put_bool(&mut c, "/v1/kv/cas?cas=0", "second"),
        "cas=0 fails once the key exists"
    );
    let entry = get_entry(&mut c, "cas").expect("key exists");
    assert_eq!(value_of(&entry), b"first");

    let index = entry["ModifyIndex"].as_u64().expect("ModifyIndex");
    assert!(!put_bool(
        &mut c,
        &format!("/v1/kv/cas?cas={}", index + 1000),
        "wrong"
    ));
    assert_eq!(
        value_of(&get_entry(&mut c, "cas").expect("key exists")),
        b"first",
        "a failed CAS writes nothing"
    );

    assert!(
        put_bool(&mut c, &format!("/v1/kv/cas?cas={index}"), "third"),
        "a matching index succeeds"
    );
    let entry = get_entry(&mut c, "cas").expect("key exists");
    assert_eq!(value_of(&entry), b"third");
    assert!(
        !put_bool(&mut c, &format!("/v1/kv/cas?cas={index}"), "stale"),
        "the old index no longer matches"
    );
}

fn write_tree(c: &mut crate::http::Client) {
    for key in [
        "tree/a",
        "tree/b",
        "tree/sub/c",
        "tree/sub/deeper/d",
        "treetop",
        "other/x",
    ] {
        put_true(c, &format!("/v1/kv/{key}"), key);
    }
}

fn keys_of(entries: &Value) -> Vec<String> {
    let entries = entries.as_array().expect("a JSON array");
    entries
        .iter()
        .map(|e| e["Key"].as_str().expect("Key").to_string())
        .collect()
}

#[test]
fn recurse_lists_every_entry_under_a_prefix() {
    let server = Server::dev();
    let mut c = server.client();
    write_tree(&mut c);

    let response = c.get("/v1/kv/tree/?recurse").expect(200);
    let entries = response.json();
    assert_eq!(
        keys_of(&entries),
        ["tree/a", "tree/b", "tree/sub/c", "tree/sub/deeper/d"]
    );
    let max_modify = entries
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| e["ModifyIndex"].as_u64())
        .max();
    assert_eq!(
        Some(response.index()),
        max_modify,
        "X-Consul-Index of a listing is its newest ModifyIndex"
    );
    for entry in entries.as_array().into_iter().flatten() {
        assert_eq!(
            value_of(entry),
            entry["Key"].as_str().expect("Key").as_bytes()
        );
    }

    let without_slash = c.get("/v1/kv/tree?recurse").expect(200).json();
    assert_eq!(
        keys_of(&without_slash).len(),
        5,
        "a prefix is a plain string prefix: {without_slash}"
    );

    let missing = c.get("/v1/kv/nothing-here/?recurse").expect(404);
    assert!(missing.header("x-consul-index").is_some());
}

#[test]
fn keys_lists_names_and_separator_folds_subtrees() {
    let server = Server::dev();
    let mut c = server.client();
    write_tree(&mut c);

    let all = c.get("/v1/kv/tree/?keys").expect(200).json();
    assert_eq!(
        all,
        json!(["tree/a", "tree/b", "tree/sub/c", "tree/sub/deeper/d"])
    );

    c.get("/v1/kv/nothing-here/?keys").expect(404);

    let folded = c.get("/v1/kv/tree/?keys&separator=/").expect(200).json();
    assert_eq!(folded, json!(["tree/a", "tree/b", "tree/sub/"]));

    let top = c.get("/v1/kv/?keys&separator=/").expect(200).json();
    assert_eq!(top, json!(["other/", "tree/", "treetop"]));
}

#[test]
fn keys_of_an_empty_root_is_an_empty_list() {
    let server = Server::dev();
    let response = server.client().get("/v1/kv/?keys").expect(200);
    assert_eq!(
        response.json(),
        json!([]),
        "Consul answers the root listing with [], never 404"
    );
}

#[test]
fn delete_one_key_a_tree_or_with_cas() {
    let server = Server::dev();
    let mut c = server.client();
    write_tree(&mut c);

    assert_eq!(
        c.delete("/v1/kv/tree/a").expect(200).json(),
        Value::Bool(true)
    );
    assert!(get_entry(&mut c, "tree/a").is_none());
    assert_eq!(
        c.delete("/v1/kv/tree/a").expect(200).json(),
        Value::Bool(true),
        "deleting a missing key is fine"
    );

    assert_eq!(
        c.delete("/v1/kv/tree/sub?recurse").expect(200).json(),
        Value::Bool(true)
    );
    assert_eq!(
        keys_of(&c.get("/v1/kv/tree?recurse").expect(200).json()),
        ["tree/b", "treetop"]
    );

    let index = get_entry(&mut c, "tree/b").expect("key exists")["ModifyIndex"]
        .as_u64()
        .expect("ModifyIndex");
    let wrong = c
        .delete(&format!("/v1/kv/tree/b?cas={}", index + 7))
        .expect(200);
    assert_eq!(wrong.json(), Value::Bool(false));
    assert!(
        get_entry(&mut c, "tree/b").is_some(),
        "a failed CAS delete keeps the key"
    );
    let right = c.delete(&format!("/v1/kv/tree/b?cas={index}")).expect(200);
    assert_eq!(right.json(), Value::Bool(true));
    assert!(get_entry(&mut c, "tree/b").is_none());

    assert_eq!(
        c.delete("/v1/kv/?recurse").expect(200).json(),
        Value::Bool(true),
        "recursive delete of everything"
    );
    c.get("/v1/kv/?recurse").expect(404);
}

#[test]
fn percent_encoded_keys_are_decoded() {
    let server = Server::dev();
    let mut c = server.client();

    put_true(&mut c, "/v1/kv/enc/with%20space", "space");
    put_true(
        &mut c,
        "/v1/kv/enc/%D0%BA%D0%BB%D1%8E%D1%87/%E6%97%A5%E6%9C%AC",
        "unicode",
    );
    put_true(&mut c, "/v1/kv/enc/slash%2Finside", "slash");

    let keys = c.get("/v1/kv/enc/?keys").expect(200).json();
    assert_eq!(
        keys,
        json!(["enc/slash/inside", "enc/with space", "enc/ключ/日本"])
    );

    let spaced = get_entry(&mut c, "enc/with%20space").expect("spaced key");
    assert_eq!(spaced["Key"], "enc/with space");
    assert_eq!(value_of(&spaced), b"space");
    let unicode =
        get_entry(&mut c, "enc/%D0%BA%D0%BB%D1%8E%D1%87/%E6%97%A5%E6%9C%AC").expect("unicode key");
    assert_eq!(unicode["Key"], "enc/ключ/日本");
    assert_eq!(
        value_of(&get_entry(&mut c, "enc/slash/inside").expect("%2F is a slash")),
        b"slash"
    );

    assert_eq!(
        c.delete("/v1/kv/enc/with%20space").expect(200).json(),
        Value::Bool(true)
    );
    assert!(get_entry(&mut c, "enc/with%20space").is_none());
}

#[test]
fn missing_key_is_404_with_index() {
    let server = Server::dev();
    let mut c = server.client();
    put_true(&mut c, "/v1/kv/present", "x");
    let response = c.get("/v1/kv/absent").expect(404);
    assert!(response.index() > 0, "a 404 still carries X-Consul-Index");
    assert!(
        response.body.is_empty(),
        "a missing key has an empty body, got {:?}",
        response.text()
    );
    c.get("/v1/kv/absent?raw").expect(404);
}

#[test]
fn value_of_exactly_512_kib_is_accepted_and_one_more_byte_is_413() {
    let server = Server::dev();
    let mut c = server.client();

    let largest = vec![b'a'; MAX_VALUE_SIZE];
    put_true(&mut c, "/v1/kv/big/ok", &largest);
    assert_eq!(
        c.get("/v1/kv/big/ok?raw").expect(200).body.len(),
        MAX_VALUE_SIZE
    );

    let too_big = vec![b'b'; MAX_VALUE_SIZE + 1];
    c.put("/v1/kv/big/too-big", &too_big).expect(413);
    let mut fresh = server.client();
    assert!(
        get_entry(&mut fresh, "big/too-big").is_none(),
        "a rejected value writes nothing"
    );
    assert_eq!(
        c.get("/v1/kv/big/ok?raw").expect(200).body,
        largest,
        "the old key is untouched"
    );
}
