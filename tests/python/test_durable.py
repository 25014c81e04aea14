"""A durable single server keeps KV, sessions and locks across restarts on the same data dir."""

from __future__ import annotations

import pytest

from senate_harness import NODE_NAME


def seed(client) -> dict:
    """Writes a known state: two keys, one deleted key, a session holding a lock. Returns what to expect."""
    client.kv.put("app/config", b"\x00binary\xff", flags=9)
    client.kv.put("app/gone", "soon deleted")
    client.kv.delete("app/gone")
    session_id = client.session.create(name="durable-lock", lock_delay=0)
    client.kv.put("app/leader", "node-a", acquire=session_id)
    index, entries = client.kv.get("app/", recurse=True)
    return {"index": int(index), "entries": entries, "session": session_id}


@pytest.mark.parametrize("crash", [False, True], ids=["sigterm", "sigkill"])
def test_state_survives_restart(durable_senate, crash):
    expected = seed(durable_senate.client())

    durable_senate.restart(kill=crash)
    client = durable_senate.client()

    index, entries = client.kv.get("app/", recurse=True)
    assert entries == expected["entries"]
    assert int(index) >= expected["index"]
    assert client.kv.get("app/gone")[1] is None
    _, session = client.session.info(expected["session"])
    assert session["Name"] == "durable-lock"
    assert session["Node"] == NODE_NAME
    assert client.kv.get("app/leader")[1]["Session"] == expected["session"]


def test_indexes_keep_increasing_after_restart(durable_senate):
    expected = seed(durable_senate.client())

    durable_senate.restart()
    client = durable_senate.client()
    client.kv.put("app/after", "restart")

    _, entry = client.kv.get("app/after")
    assert entry["CreateIndex"] > expected["index"]


def test_locks_still_work_after_restart(durable_senate):
    expected = seed(durable_senate.client())

    durable_senate.restart()
    client = durable_senate.client()
    rival = client.session.create()

    assert client.kv.put("app/leader", "node-b", acquire=rival) is False
    assert client.kv.put("app/leader", "released", release=expected["session"]) is True
    assert client.kv.put("app/leader", "node-b", acquire=rival) is True
    assert client.kv.get("app/leader")[1]["LockIndex"] == 2


def test_a_second_restart_keeps_writes_made_after_the_first(durable_senate):
    durable_senate.client().kv.put("gen", "1")
    durable_senate.restart()
    durable_senate.client().kv.put("gen", "2")

    durable_senate.restart(kill=True)

    assert durable_senate.client().kv.get("gen")[1]["Value"] == b"2"
