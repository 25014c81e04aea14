//! Query metadata shared by read endpoints: `X-Consul-*` headers, `?pretty`, `?dc` and the
//! consistency modes.

use crate::harness::Server;
use crate::ops::put_true;

#[test]
fn reads_carry_index_known_leader_and_last_contact() {
    let server = Server::dev();
    let mut c = server.client();
    put_true(&mut c, "/v1/kv/h", "v");
    for path in [
        "/v1/kv/h",
        "/v1/kv/?recurse",
        "/v1/kv/?keys",
        "/v1/session/list",
    ] {
        let response = c.get(path).expect(200);
        assert!(response.index() > 0, "{path}: X-Consul-Index");
        assert_eq!(
            response.header("x-consul-knownleader"),
            Some("true"),
            "{path}: X-Consul-KnownLeader"
        );
        let last_contact = response
            .header("x-consul-lastcontact")
            .unwrap_or_else(|| panic!("{path}: no LastContact"));
        assert!(
            last_contact.parse::<u64>().is_ok(),
            "{path}: X-Consul-LastContact {last_contact:?} is milliseconds"
        );
    }
}

#[test]
fn pretty_indents_json() {
    let server = Server::dev();
    let mut c = server.client();
    put_true(&mut c, "/v1/kv/p", "v");
    let pretty = c.get("/v1/kv/p?pretty").expect(200);
    let text = pretty.text();
    assert!(
        text.contains("\n    "),
        "?pretty output should be indented: {text:?}"
    );
    assert_eq!(
        pretty.json(),
        c.get("/v1/kv/p").expect(200).json(),
        "same document either way"
    );
}

#[test]
fn datacenter_parameter() {
    let server = Server::dev();
    let mut c = server.client();
    put_true(&mut c, "/v1/kv/d?dc=dc1", "v");
    c.get("/v1/kv/d?dc=dc1").expect(200);
    let other = c.get("/v1/kv/d?dc=other").expect(500);
    assert!(
        other.text().contains("No path to datacenter"),
        "body: {:?}",
        other.text()
    );
    let write = c.put("/v1/kv/d2?dc=other", "v").expect(500);
    assert!(
        write.text().contains("No path to datacenter"),
        "body: {:?}",
        write.text()
    );
}

#[test]
fn consistency_modes() {
    let server = Server::dev();
    let mut c = server.client();
    put_true(&mut c, "/v1/kv/c", "v");
    let consistent = c.get("/v1/kv/c?consistent").expect(200);
    assert_eq!(consistent.json()[0]["Key"], "c");
    let stale = c.get("/v1/kv/c?stale").expect(200);
    assert_eq!(stale.json()[0]["Key"], "c");
    assert!(stale.header("x-consul-lastcontact").is_some());
    let both = c.get("/v1/kv/c?stale&consistent").expect(400);
    assert!(
        both.text()
            .contains("Cannot specify ?stale with ?consistent"),
        "body: {:?}",
        both.text()
    );
}

#[test]
fn index_is_monotonic_across_writes() {
    let server = Server::dev();
    let mut c = server.client();
    let mut last = c.get("/v1/kv/?recurse").index();
    for i in 0..20 {
        put_true(&mut c, &format!("/v1/kv/mono/{}", i % 3), format!("{i}"));
        let index = c.get(&format!("/v1/kv/mono/{}", i % 3)).expect(200).index();
        assert!(
            index > last,
            "write {i}: index {index} should exceed {last}"
        );
        last = index;
        let listing = c.get("/v1/kv/mono/?recurse").expect(200).index();
        assert_eq!(listing, last, "the listing index is the newest write");
    }
}
