"""Blocking queries (`?index=&wait=`) on KV and event list, timed against a quiet server of their own."""

from __future__ import annotations

import threading
import time

import pytest

from senate_harness import SenateServer, wait_until

WRITE_DELAY_S = 0.3
PROMPT_S = 3.0  # A woken query must return well before its 10s wait.


@pytest.fixture(scope="module")
def quiet(tmp_path_factory) -> SenateServer:
    """A dev server used only by this module, so no other test's writes wake or time these queries."""
    server = SenateServer(tmp_path_factory.mktemp("senate-blocking"), "blocking").start()
    yield server
    server.stop()


@pytest.fixture
def watcher(quiet):
    return quiet.client()


@pytest.fixture
def later(quiet):
    """Runs `action(writer_client)` on another thread after a short delay; joins it at teardown."""
    timers = []

    def schedule(action, delay: float = WRITE_DELAY_S):
        writer = quiet.client()
        timer = threading.Timer(delay, action, args=(writer,))
        timers.append(timer)
        timer.start()

    yield schedule
    for timer in timers:
        timer.join()


def timed(call):
    start = time.monotonic()
    result = call()
    return result, time.monotonic() - start


def assert_woken(elapsed: float) -> None:
    """The query blocked until the delayed write, then returned well before its wait ran out."""
    assert WRITE_DELAY_S * 0.5 <= elapsed < PROMPT_S


def listed_event(client, name: str, event_id: str):
    """(index, events) once `event_id` shows up in the list for `name`, else None."""
    index, events = client.event.list(name=name)
    return (index, events) if event_id in {event["ID"] for event in events} else None


def test_blocking_get_returns_promptly_after_a_write(watcher, later, prefix):
    key = f"{prefix}/watched"
    watcher.kv.put(key, "v1")
    index, _ = watcher.kv.get(key)

    later(lambda writer: writer.kv.put(key, "v2"))
    (new_index, entry), elapsed = timed(lambda: watcher.kv.get(key, index=index, wait="10s"))

    assert_woken(elapsed)
    assert int(new_index) > int(index)
    assert entry["Value"] == b"v2"


def test_blocking_get_on_missing_key_wakes_when_it_is_created(watcher, later, prefix):
    key = f"{prefix}/not-yet"
    index, entry = watcher.kv.get(key)
    assert entry is None

    later(lambda writer: writer.kv.put(key, "born"))
    (new_index, entry), elapsed = timed(lambda: watcher.kv.get(key, index=index, wait="10s"))

    assert_woken(elapsed)
    assert int(new_index) > int(index)
    assert entry["Value"] == b"born"


def test_blocking_get_times_out_with_the_same_index(watcher, prefix):
    key = f"{prefix}/idle"
    watcher.kv.put(key, "still")
    index, _ = watcher.kv.get(key)

    (same_index, entry), elapsed = timed(lambda: watcher.kv.get(key, index=index, wait="1s"))

    # Consul adds up to wait/16 of jitter to the wait.
    assert 0.9 <= elapsed < 2.5
    assert same_index == index
    assert entry["Value"] == b"still"


def test_write_to_an_unrelated_key_does_not_wake_the_watcher(watcher, later, prefix):
    watched, other = f"{prefix}/watched", f"{prefix}-elsewhere/other"
    watcher.kv.put(watched, "quiet")
    index, _ = watcher.kv.get(watched)

    later(lambda writer: writer.kv.put(other, "noise"))
    (_, entry), elapsed = timed(lambda: watcher.kv.get(watched, index=index, wait="2s"))

    assert elapsed >= 1.8
    assert entry["Value"] == b"quiet"
    assert watcher.kv.get(other)[1]["Value"] == b"noise"


def test_recurse_watch_is_woken_by_a_child_write(watcher, later, prefix):
    root = f"{prefix}/tree/"
    watcher.kv.put(root + "existing", "x")
    index, _ = watcher.kv.get(root, recurse=True)

    later(lambda writer: writer.kv.put(root + "deep/child", "new"))
    (new_index, entries), elapsed = timed(lambda: watcher.kv.get(root, recurse=True, index=index, wait="10s"))

    assert_woken(elapsed)
    assert int(new_index) > int(index)
    assert [entry["Key"] for entry in entries] == [root + "deep/child", root + "existing"]


def test_recurse_watch_is_woken_by_a_child_delete(watcher, later, prefix):
    root = f"{prefix}/tree/"
    watcher.kv.put(root + "a", "x")
    watcher.kv.put(root + "b", "y")
    index, _ = watcher.kv.get(root, recurse=True)

    later(lambda writer: writer.kv.delete(root + "a"))
    (new_index, entries), elapsed = timed(lambda: watcher.kv.get(root, recurse=True, index=index, wait="10s"))

    assert_woken(elapsed)
    assert int(new_index) > int(index)
    assert [entry["Key"] for entry in entries] == [root + "b"]


def test_event_list_blocks_until_a_matching_event_fires(watcher, later, prefix):
    name = prefix.replace("/", "-")
    first = watcher.event.fire(name, "one")["ID"]
    index, _ = wait_until(lambda: listed_event(watcher, name, first), timeout=10, message="first event to be listed")

    later(lambda writer: writer.event.fire(name, "two"))
    (new_index, events), elapsed = timed(lambda: watcher.event.list(name=name, index=index, wait="10s"))

    assert_woken(elapsed)
    assert new_index != index  # Event indexes are opaque, not monotonic: they only have to change.
    assert [event["Payload"] for event in events] == [b"one", b"two"]
