"""User events: fire, list and name filtering through py-consul."""

from __future__ import annotations

import base64
import uuid

import pytest

from senate_harness import wait_until


@pytest.fixture
def event_name(prefix) -> str:
    return prefix.replace("/", "-")


def listed(client, name: str | None, event_id: str):
    """The listed events once `event_id` is among them (events travel by gossip, so poll), else None."""
    _, events = client.event.list(name=name)
    return events if event_id in {event["ID"] for event in events} else None


def test_fire_returns_the_event(client, event_name):
    fired = client.event.fire(event_name, "deploy 1609030")

    assert str(uuid.UUID(fired["ID"])) == fired["ID"]
    assert fired["Name"] == event_name
    assert base64.b64decode(fired["Payload"]) == b"deploy 1609030"
    assert fired["NodeFilter"] == fired["ServiceFilter"] == fired["TagFilter"] == ""
    assert fired["Version"] == 1
    assert isinstance(fired["LTime"], int)


def test_fired_event_is_listed_with_its_payload(client, event_name):
    event_id = client.event.fire(event_name, "payload bytes")["ID"]

    events = wait_until(lambda: listed(client, None, event_id), timeout=10, message="event to be listed")

    (event,) = [event for event in events if event["ID"] == event_id]
    assert event["Name"] == event_name
    assert event["Payload"] == b"payload bytes"
    assert event["LTime"] >= 1


def test_event_without_body_has_null_payload(client, event_name):
    event_id = client.event.fire(event_name)["ID"]

    events = wait_until(lambda: listed(client, event_name, event_id), timeout=10, message="event to be listed")

    assert events[-1]["Payload"] is None


def test_list_filters_by_name(client, event_name):
    wanted = [client.event.fire(event_name, str(n))["ID"] for n in range(2)]
    other = client.event.fire(event_name + "-other", "x")["ID"]
    wait_until(lambda: listed(client, None, other), timeout=10, message="all events to be listed")

    _, events = client.event.list(name=event_name)

    assert [event["ID"] for event in events] == wanted
    assert {event["Name"] for event in events} == {event_name}
    assert [event["Payload"] for event in events] == [b"0", b"1"]


def test_list_for_unknown_name_is_empty(client, event_name):
    index, events = client.event.list(name=event_name + "-never-fired")

    assert events == []
    assert int(index) > 0


def test_fire_with_node_filter_is_recorded(client, event_name):
    fired = client.event.fire(event_name, "x", node="pytest-.*")

    assert fired["NodeFilter"] == "pytest-.*"
    events = wait_until(lambda: listed(client, event_name, fired["ID"]), timeout=10, message="event to be listed")
    assert events[-1]["NodeFilter"] == "pytest-.*"
