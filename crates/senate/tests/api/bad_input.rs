//! Requests the server must refuse: wrong methods (405), unparsable or conflicting query
//! parameters (400) and unknown paths (404), without writing anything.

use crate::harness::Server;
use crate::ops::get_entry;

#[test]
fn wrong_methods_are_405() {
    let server = Server::dev();
    let mut c = server.client();
    for (method, path) in [
        ("POST", "/v1/status/leader"),
        ("DELETE", "/v1/status/peers"),
        ("DELETE", "/v1/session/create"),
        ("GET", "/v1/session/create"),
        (
            "GET",
            "/v1/session/destroy/00000000-0000-4000-8000-000000000000",
        ),
        ("POST", "/v1/kv/some/key"),
    ] {
        let response = c.request(method, path, b"");
        assert_eq!(
            response.status,
            405,
            "{method} {path} answered {} {:?}",
            response.status,
            response.text()
        );
    }
    assert!(
        get_entry(&mut c, "some/key").is_none(),
        "a refused POST writes nothing"
    );
}

#[test]
fn unparsable_query_parameters_are_400() {
    let server = Server::dev();
    let mut c = server.client();
    crate::ops::put_true(&mut c, "/v1/kv/existing", "v");
    for (method, path) in [
        ("PUT", "/v1/kv/flagged?flags=abc"),
        ("PUT", "/v1/kv/flagged?flags=-1"),
        ("PUT", "/v1/kv/cas-key?cas=x"),
        ("DELETE", "/v1/kv/existing?cas=x"),
        ("GET", "/v1/kv/existing?index=abc"),
        ("GET", "/v1/kv/existing?index=1&wait=forever"),
        ("GET", "/v1/session/list?index=abc"),
    ] {
        let response = c.request(method, path, b"v");
        assert_eq!(
            response.status,
            400,
            "{method} {path} answered {} {:?}",
            response.status,
            response.text()
        );
    }
    assert!(get_entry(&mut c, "flagged").is_none());
    assert!(get_entry(&mut c, "cas-key").is_none());
    assert!(
        get_entry(&mut c, "existing").is_some(),
        "a refused CAS delete keeps the key"
    );
}

#[test]
fn conflicting_kv_flags_are_400_and_change_nothing() {
    let server = Server::dev();
    let mut c = server.client();
    crate::ops::put_true(&mut c, "/v1/kv/kept", "v");
    let session = crate::ops::create_session(&mut c, "");
    for (method, path) in [
        ("PUT", format!("/v1/kv/locked?cas=0&acquire={session}")),
        (
            "PUT",
            format!("/v1/kv/locked?acquire={session}&release={session}"),
        ),
        ("PUT", format!("/v1/kv/locked?cas=0&release={session}")),
        ("DELETE", "/v1/kv/kept?recurse&cas=1".to_string()),
    ] {
        let response = c.request(method, &path, b"v");
        assert_eq!(
            response.status,
            400,
            "{method} {path} answered {} {:?}",
            response.status,
            response.text()
        );
        assert!(
            response.text().contains("Conflicting flags"),
            "{method} {path}: {:?}",
            response.text()
        );
    }
    assert!(
        get_entry(&mut c, "locked").is_none(),
        "a refused write creates nothing"
    );
    assert!(
        get_entry(&mut c, "kept").is_some(),
        "a refused delete deletes nothing"
    );
}

#[test]
fn unknown_paths_are_404() {
    let server = Server::dev();
    let mut c = server.client();
    for path in ["/v1/no-such-endpoint", "/v1/status/nope", "/nothing"] {
        let response = c.get(path);
        assert_eq!(
            response.status,
            404,
            "GET {path} answered {} {:?}",
            response.status,
            response.text()
        );
    }
}
