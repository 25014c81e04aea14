"""Sessions and KV locks through py-consul, including the exact create body Patroni sends."""

from __future__ import annotations

import time
import uuid

import consul
import pytest
import requests

from senate_harness import NODE_NAME, wait_until

SECOND_NS = 1_000_000_000


@pytest.fixture
def sessions(client):
    """Creates sessions through py-consul and destroys whatever is left at teardown."""
    created = []

    def create(**kwargs) -> str:
        session_id = client.session.create(**kwargs)
        created.append(session_id)
        return session_id

    yield create
    for session_id in created:
        client.session.destroy(session_id)


def session_ids(client) -> set[str]:
    _, listed = client.session.list()
    return {session["ID"] for session in listed}


def health_checks_of(info: dict) -> list[str]:
    return list(info.get("NodeChecks") or []) + list(info.get("Checks") or [])


def test_create_with_defaults(client, sessions):
    session_id = sessions()

    assert str(uuid.UUID(session_id)) == session_id
    index, info = client.session.info(session_id)
    assert int(index) > 0
    assert info["ID"] == session_id
    assert info["Node"] == NODE_NAME
    assert info["Behavior"] == "release"
    assert info["LockDelay"] == 15 * SECOND_NS
    assert info.get("TTL", "") == ""
    assert info.get("Name", "") == ""
    assert "serfHealth" in health_checks_of(info)
    assert info["CreateIndex"] > 0
    assert session_id in session_ids(client)


def test_create_with_name_ttl_behavior_and_lock_delay(client, sessions):
    session_id = sessions(name="service-lock", ttl=15, behavior="delete", lock_delay=3)

    _, info = client.session.info(session_id)

    assert info["Name"] == "service-lock"
    assert info["TTL"] == "15s"
    assert info["Behavior"] == "delete"
    assert info["LockDelay"] == 3 * SECOND_NS


def test_create_with_patroni_body(client, senate):
    # Patroni's consul DCS sends lower-case keys, no checks, a 1ms lock delay and a float TTL ("15.0s").
    body = '{"name": "pg-cluster-pg1", "checks": [], "lockdelay": "0.001s", "behavior": "delete", "ttl": "15.0s"}'

    response = requests.put(senate.url("/v1/session/create"), data=body, timeout=10)

    assert response.status_code == 200, response.text
    session_id = response.json()["ID"]
    try:
        _, info = client.session.info(session_id)
        assert info["Name"] == "pg-cluster-pg1"
        assert info["Behavior"] == "delete"
        assert info["TTL"] == "15.0s"  # Consul stores the TTL string exactly as sent.
        assert info["LockDelay"] == 1_000_000
        assert health_checks_of(info) == []
    finally:
        client.session.destroy(session_id)


def test_destroy_removes_session_from_every_listing(client, sessions):
    session_id = sessions()

    assert client.session.destroy(session_id) is True

    assert client.session.info(session_id)[1] is None
    assert session_id not in session_ids(client)
    _, on_node = client.session.node(NODE_NAME)
    assert session_id not in {session["ID"] for session in on_node}


def test_destroy_unknown_session_is_true(client):
    assert client.session.destroy(str(uuid.uuid4())) is True


def test_acquire_and_release(client, sessions, prefix):
    key = f"{prefix}/leader"
    session_id = sessions()

    assert client.kv.put(key, "me", acquire=session_id) is True
    _, held = client.kv.get(key)
    assert held["Session"] == session_id
    assert held["LockIndex"] == 1
    assert held["Value"] == b"me"

    assert client.kv.put(key, "released", release=session_id) is True
    _, released = client.kv.get(key)
    assert released.get("Session") in (None, "")
    assert released["LockIndex"] == 1
    assert released["Value"] == b"released"

    assert client.kv.put(key, "again", acquire=session_id) is True
    assert client.kv.get(key)[1]["LockIndex"] == 2


def test_holder_may_reacquire_without_bumping_lock_index(client, sessions, prefix):
    key = f"{prefix}/leader"
    session_id = sessions()
    client.kv.put(key, "v1", acquire=session_id)

    assert client.kv.put(key, "v2", acquire=session_id) is True

    _, entry = client.kv.get(key)
    assert entry["LockIndex"] == 1
    assert entry["Value"] == b"v2"


def test_second_session_cannot_take_or_release_a_held_lock(client, sessions, prefix):
    key = f"{prefix}/leader"
    holder, rival = sessions(), sessions()
    client.kv.put(key, "holder", acquire=holder)

    assert client.kv.put(key, "rival", acquire=rival) is False
    assert client.kv.put(key, "rival", release=rival) is False

    _, entry = client.kv.get(key)
    assert entry["Session"] == holder
    assert entry["Value"] == b"holder"
    assert entry["LockIndex"] == 1


def test_destroy_with_release_behavior_keeps_the_key_unlocked(client, sessions, prefix):
    key = f"{prefix}/leader"
    session_id = sessions(behavior="release")
    client.kv.put(key, "data", acquire=session_id)

    client.session.destroy(session_id)

    _, entry = client.kv.get(key)
    assert entry["Value"] == b"data"
    assert entry.get("Session") in (None, "")
    assert entry["LockIndex"] == 1


def test_destroy_with_delete_behavior_deletes_held_keys(client, sessions, prefix):
    held, unheld = f"{prefix}/held", f"{prefix}/unheld"
    session_id = sessions(behavior="delete")
    client.kv.put(held, "ephemeral", acquire=session_id)
    client.kv.put(unheld, "stays")

    client.session.destroy(session_id)

    assert client.kv.get(held)[1] is None
    assert client.kv.get(unheld)[1]["Value"] == b"stays"


def test_lock_delay_blocks_reacquire_until_it_elapses(client, sessions, prefix):
    key = f"{prefix}/leader"
    first = sessions(lock_delay=2)
    second = sessions()
    client.kv.put(key, "first", acquire=first)

    client.session.destroy(first)
    destroyed_at = time.monotonic()

    assert client.kv.put(key, "second", acquire=second) is False
    wait_until(lambda: client.kv.put(key, "second", acquire=second), timeout=10, message="lock delay to end")
    assert time.monotonic() - destroyed_at >= 1.5
    assert client.kv.get(key)[1]["Session"] == second


def test_zero_lock_delay_allows_immediate_reacquire(client, sessions, prefix):
    key = f"{prefix}/leader"
    first = sessions(lock_delay=0)
    second = sessions()
    client.kv.put(key, "first", acquire=first)

    client.session.destroy(first)

    assert client.kv.put(key, "second", acquire=second) is True


def test_renew_returns_the_session(client, sessions):
    session_id = sessions(ttl=10)

    renewed = client.session.renew(session_id)

    assert renewed["ID"] == session_id
    assert renewed["TTL"] == "10s"
    assert renewed["Node"] == NODE_NAME


def test_renew_unknown_session_is_not_found(client):
    # Consul: 404 "Session id '<id>' not found"; py-consul raises NotFound for renew.
    with pytest.raises(consul.NotFound):
        client.session.renew(str(uuid.uuid4()))


def test_info_on_unknown_session_is_none(client):
    index, info = client.session.info(str(uuid.uuid4()))
    assert info is None
    assert int(index) > 0


def test_node_listing(client, sessions):
    mine = {sessions(name="a"), sessions(name="b")}

    _, on_node = client.session.node(NODE_NAME)
    _, elsewhere = client.session.node("no-such-node")

    assert mine <= {session["ID"] for session in on_node}
    assert all(session["Node"] == NODE_NAME for session in on_node)
    assert elsewhere == []


@pytest.mark.slow
def test_ttl_session_expires_unless_renewed(client, sessions, prefix):
    # Consul never invalidates before the TTL and allows up to 2x TTL of grace, so a 10s TTL ends within ~20s.
    key = f"{prefix}/ephemeral"
    expiring = client.session.create(ttl=10, behavior="delete", lock_delay=0)
    renewed = sessions(ttl=10)
    client.kv.put(key, "alive", acquire=expiring)
    created_at = time.monotonic()

    def renew_then(done) -> bool:
        assert client.session.renew(renewed)["ID"] == renewed
        return done()

    wait_until(lambda: renew_then(lambda: client.session.info(expiring)[1] is None), 30, 1, "TTL expiry")
    assert time.monotonic() - created_at >= 9.5
    assert client.kv.get(key)[1] is None
    assert expiring not in session_ids(client)

    wait_until(lambda: renew_then(lambda: time.monotonic() - created_at >= 22), 30, 1, "2x TTL to pass")
    assert client.session.info(renewed)[1]["ID"] == renewed
