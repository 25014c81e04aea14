"""Malformed requests over raw HTTP: each gets Consul's error status and leaves keys and sessions untouched.

Status codes and messages below were checked against Consul's HTTP handlers (agent/http.go, agent/kvs_endpoint.go,
agent/session_endpoint.go, agent/consul/session_endpoint.go, the state store's lock code):
- parseWait/parseConsistency write 400 "Invalid index" / "Invalid wait time" /
  "Cannot specify ?stale with ?consistent, conflicting semantics.";
- a method an endpoint does not serve gets 405 "method X not allowed" with an Allow header;
- a session-create body that is not JSON gets 400 "Request decode failed: ...";
- errors without their own status fall through to 500 with the error text: "invalid session \"<id>\"" (acquire),
  "No path to datacenter" (?dc=), "Session TTL 'x' invalid: ...", "Invalid Session TTL ..., must be between
  [10s=24h0m0s]", and strconv's message for ?flags=abc / ?cas=x.
For the last three kinds (bad TTL, TTL out of range, unparsable flags/cas) Consul answers 500 while a 400 is the more
precise answer; either is accepted, since py-consul raises ConsulException for both (BadRequest subclasses it).
"""

from __future__ import annotations

import uuid

import pytest
import requests

TIMEOUT = 10
CONSUL_OR_PRECISE = (400, 500)


@pytest.fixture
def http(senate):
    """Raw HTTP against the shared server: http("PUT", "/v1/...", data=...)."""

    def call(method: str, path: str, **kwargs) -> requests.Response:
        return requests.request(method, senate.url(path), timeout=TIMEOUT, **kwargs)

    return call


@pytest.fixture
def existing_key(client, prefix):
    """A key with known contents, compared before and after each bad request via `kv_state`."""
    key = f"{prefix}/existing"
    client.kv.put(key, "original", flags=3)
    return key


def kv_state(client, key: str):
    return client.kv.get(key)[1]


def session_state(client) -> list:
    _, sessions = client.session.list()
    return sorted(session["ID"] for session in sessions)


def assert_error(response: requests.Response, statuses, *mentions: str) -> None:
    statuses = statuses if isinstance(statuses, tuple) else (statuses,)
    assert response.status_code in statuses, (response.status_code, response.text)
    assert response.text.strip(), "error responses carry a message"
    for word in mentions:
        assert word.lower() in response.text.lower(), (word, response.text)


def test_session_create_with_malformed_json_is_400(http, client):
    before = session_state(client)

    response = http("PUT", "/v1/session/create", data='{"Name": "oops", ')

    assert_error(response, 400, "decode")
    assert session_state(client) == before


@pytest.mark.parametrize("ttl", ["abc", "10", "1x", "s"])
def test_session_create_with_unparsable_ttl_is_rejected(http, client, ttl):
    before = session_state(client)

    response = http("PUT", "/v1/session/create", json={"Name": "bad-ttl", "TTL": ttl})

    assert_error(response, CONSUL_OR_PRECISE, "ttl")
    assert session_state(client) == before


@pytest.mark.parametrize("ttl", ["5s", "9.9s", "-5s", "86401s", "25h"])
def test_session_create_with_ttl_out_of_range_is_rejected(http, client, ttl):
    before = session_state(client)

    response = http("PUT", "/v1/session/create", json={"TTL": ttl})

    assert_error(response, CONSUL_OR_PRECISE, "ttl")
    assert session_state(client) == before


def test_session_create_with_unknown_behavior_is_rejected(http, client):
    before = session_state(client)

    response = http("PUT", "/v1/session/create", json={"Behavior": "explode"})

    assert_error(response, CONSUL_OR_PRECISE, "behavior")
    assert session_state(client) == before


@pytest.mark.parametrize("query", ["flags=abc", "flags=-1", "flags=18446744073709551616", "cas=x", "cas=-1"])
def test_kv_put_with_unparsable_number_is_rejected(http, client, existing_key, query):
    before = kv_state(client, existing_key)

    response = http("PUT", f"/v1/kv/{existing_key}?{query}", data="changed")

    assert_error(response, CONSUL_OR_PRECISE)
    assert kv_state(client, existing_key) == before


def test_kv_put_with_bad_number_on_new_key_writes_nothing(http, client, prefix):
    key = f"{prefix}/fresh"

    response = http("PUT", f"/v1/kv/{key}?flags=abc", data="x")

    assert_error(response, CONSUL_OR_PRECISE)
    assert kv_state(client, key) is None


def test_kv_delete_with_unparsable_cas_is_rejected(http, client, existing_key):
    before = kv_state(client, existing_key)

    response = http("DELETE", f"/v1/kv/{existing_key}?cas=x")

    assert_error(response, CONSUL_OR_PRECISE)
    assert kv_state(client, existing_key) == before


@pytest.mark.parametrize("query", ["index=abc", "index=-1", "index=1.5"])
def test_get_with_unparsable_index_is_400(http, client, existing_key, query):
    response = http("GET", f"/v1/kv/{existing_key}?{query}")

    assert_error(response, 400, "index")


def test_get_with_unparsable_wait_is_400(http, existing_key):
    response = http("GET", f"/v1/kv/{existing_key}?index=1&wait=soon")

    assert_error(response, 400, "wait")


def test_stale_and_consistent_together_is_400(http, client, existing_key):
    before = kv_state(client, existing_key)

    response = http("GET", f"/v1/kv/{existing_key}?stale&consistent")

    assert_error(response, 400, "stale", "consistent")
    assert kv_state(client, existing_key) == before


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("POST", "/v1/status/leader", "GET"),
        ("DELETE", "/v1/session/create", "PUT"),
        ("GET", "/v1/session/destroy/00000000-0000-0000-0000-000000000000", "PUT"),
        ("POST", "/v1/kv/{key}", "PUT"),
        ("PATCH", "/v1/kv/{key}", "PUT"),
    ],
)
def test_wrong_method_is_405_with_allow_header(http, client, existing_key, method, path, allowed):
    kv_before, sessions_before = kv_state(client, existing_key), session_state(client)

    response = http(method, path.format(key=existing_key), data="changed")

    assert_error(response, 405, method)
    assert allowed in [listed.strip() for listed in response.headers.get("Allow", "").split(",")]
    assert kv_state(client, existing_key) == kv_before
    assert session_state(client) == sessions_before


def test_acquire_with_unknown_session_is_an_error_and_writes_nothing(http, client, existing_key, prefix):
    ghost = str(uuid.uuid4())
    fresh = f"{prefix}/fresh"
    before = kv_state(client, existing_key)

    for key in (fresh, existing_key):
        response = http("PUT", f"/v1/kv/{key}?acquire={ghost}", data="stolen")
        assert 400 <= response.status_code < 600, (response.status_code, response.text)
        assert "session" in response.text.lower()

    assert kv_state(client, fresh) is None
    assert kv_state(client, existing_key) == before


def test_release_with_unknown_session_writes_nothing(http, client, existing_key):
    before = kv_state(client, existing_key)

    response = http("PUT", f"/v1/kv/{existing_key}?release={uuid.uuid4()}", data="changed")

    # Consul's unlock only compares the holder, so a release naming an unknown session is a plain 200 false.
    assert response.status_code == 200, response.text
    assert response.json() is False
    assert kv_state(client, existing_key) == before


def test_cas_together_with_acquire_is_400(http, client, existing_key):
    before = kv_state(client, existing_key)

    response = http("PUT", f"/v1/kv/{existing_key}?cas=0&acquire={uuid.uuid4()}", data="changed")

    assert_error(response, 400, "conflicting")
    assert kv_state(client, existing_key) == before


def test_unknown_datacenter_is_500_no_path(http, client, existing_key, prefix):
    fresh = f"{prefix}/other-dc"
    before = kv_state(client, existing_key)

    read = http("GET", f"/v1/kv/{existing_key}?dc=nope")
    write = http("PUT", f"/v1/kv/{fresh}?dc=nope", data="x")
    session = http("PUT", "/v1/session/create?dc=nope")

    for response in (read, write, session):
        assert_error(response, 500, "no path to datacenter")
    assert kv_state(client, fresh) is None
    assert kv_state(client, existing_key) == before
