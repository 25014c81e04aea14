"""Health endpoints through py-consul, fed by catalog registrations with known check statuses.

Shapes follow Consul's agent/health_endpoint.go and state store: `?passing` keeps only instances whose every check
(node-level ones included) passes; `/v1/health/state/<state>` looks the state up without validating it, so an
unknown state is an empty list, and `any` is every check.
"""

from __future__ import annotations

import threading
import time

import pytest
import requests

from senate_harness import NODE_NAME

ADDRESS = "10.40.50.60"
WRITE_DELAY_S = 0.3


def service_check(check_id: str, service_id: str, status: str) -> dict:
    return {"CheckID": check_id, "Name": check_id, "Status": status, "ServiceID": service_id}


def node_check(check_id: str, status: str) -> dict:
    return {"CheckID": check_id, "Name": check_id, "Status": status}


def nodes_of(entries: list[dict]) -> set[str]:
    return {entry["Node"]["Node"] for entry in entries}


def statuses(checks: list[dict], node: str) -> dict[str, str]:
    return {check["CheckID"]: check["Status"] for check in checks if check["Node"] == node}


@pytest.fixture
def instance(catalog):
    """`instance(node, service, status, tags=...)`: one service instance whose own check has `status`."""

    def register(node: str, service: str, status: str, tags: list[str] | None = None) -> None:
        definition = {"Service": service, "ID": service, "Tags": tags or [], "Port": 9000}
        catalog(node, ADDRESS, service=definition, check=service_check(f"{service}-check", service, status))

    return register


def test_service_entry_has_node_service_and_all_its_checks(client, catalog, instance, unique):
    node, name = unique("node"), unique("api")
    instance(node, name, "passing", tags=["v1"])
    catalog(node, ADDRESS, check=node_check("disk", "passing"))

    index, entries = client.health.service(name)

    (entry,) = entries
    assert int(index) > 0
    assert entry["Node"]["Node"] == node
    assert entry["Node"]["Address"] == ADDRESS
    assert entry["Node"]["Datacenter"] == "dc1"
    assert entry["Service"]["ID"] == name
    assert entry["Service"]["Service"] == name
    assert entry["Service"]["Tags"] == ["v1"]
    assert entry["Service"]["Port"] == 9000
    assert statuses(entry["Checks"], node) == {f"{name}-check": "passing", "disk": "passing"}
    (own,) = [check for check in entry["Checks"] if check["CheckID"] == f"{name}-check"]
    assert own["ServiceID"] == name
    assert own["ServiceName"] == name
    assert own["ServiceTags"] == ["v1"]


@pytest.mark.parametrize("bad_status", ["warning", "critical"])
def test_passing_filter_drops_instances_with_a_non_passing_check(client, instance, unique, bad_status):
    name, healthy, unhealthy = unique("api"), unique("node-ok"), unique("node-bad")
    instance(healthy, name, "passing")
    instance(unhealthy, name, bad_status)

    assert nodes_of(client.health.service(name)[1]) == {healthy, unhealthy}
    assert nodes_of(client.health.service(name, passing=True)[1]) == {healthy}


def test_passing_filter_drops_instances_on_a_failing_node(client, catalog, instance, unique):
    name, healthy, failing = unique("api"), unique("node-ok"), unique("node-failing")
    instance(healthy, name, "passing")
    instance(failing, name, "passing")
    catalog(failing, ADDRESS, check=node_check("disk", "critical"))

    assert nodes_of(client.health.service(name, passing=True)[1]) == {healthy}


def test_tag_filter_keeps_instances_with_every_tag(client, instance, unique):
    name, primary, replica = unique("db"), unique("node-a"), unique("node-b")
    instance(primary, name, "passing", tags=["primary", "v1"])
    instance(replica, name, "passing", tags=["replica", "v1"])

    assert nodes_of(client.health.service(name, tag="primary")[1]) == {primary}
    assert nodes_of(client.health.service(name, tag="v1")[1]) == {primary, replica}
    assert nodes_of(client.health.service(name, tag=["primary", "v1"])[1]) == {primary}
    assert client.health.service(name, tag="absent")[1] == []


def test_service_checks_exclude_node_checks(client, catalog, instance, unique):
    node, name = unique("node"), unique("api")
    instance(node, name, "warning")
    catalog(node, ADDRESS, check=node_check("disk", "passing"))

    (check,) = client.health.checks(name)[1]

    assert check["CheckID"] == f"{name}-check"
    assert check["Status"] == "warning"
    assert check["ServiceName"] == name


def test_node_health_lists_node_and_service_checks(client, catalog, instance, unique):
    node, name = unique("node"), unique("api")
    instance(node, name, "critical")
    catalog(node, ADDRESS, check=node_check("disk", "passing"))

    _, checks = client.health.node(node)

    assert statuses(checks, node) == {f"{name}-check": "critical", "disk": "passing"}


def test_this_servers_node_reports_serf_health_passing(client):
    _, checks = client.health.node(NODE_NAME)

    (serf,) = [check for check in checks if check["CheckID"] == "serfHealth"]
    assert serf["Status"] == "passing"
    assert serf["Name"] == "Serf Health Status"
    assert serf["Output"] == "Agent alive and reachable"


def test_unknown_service_and_node_have_no_health(client, unique):
    assert client.health.service(unique("ghost"))[1] == []
    assert client.health.checks(unique("ghost"))[1] == []
    assert client.health.node(unique("ghost"))[1] == []


def test_state_lists_checks_by_status(client, catalog, unique):
    node = unique("node")
    for status in ("passing", "warning", "critical"):
        catalog(node, ADDRESS, check=node_check(f"{status}-check", status))

    for status in ("passing", "warning", "critical"):
        index, checks = client.health.state(status)
        assert int(index) > 0
        assert statuses(checks, node) == {f"{status}-check": status}
        assert {check["Status"] for check in checks} == {status}
    everything = statuses(client.health.state("any")[1], node)
    assert everything == {"passing-check": "passing", "warning-check": "warning", "critical-check": "critical"}
    assert statuses(client.health.state("passing")[1], NODE_NAME)["serfHealth"] == "passing"


def test_unknown_state_is_refused_by_py_consul_and_by_the_server(client, senate):
    with pytest.raises(AssertionError):
        client.health.state("bogus")

    # Consul answers 200 [] for an unknown state; Senate refuses it, as its issue asks.
    response = requests.get(senate.url("/v1/health/state/bogus"), timeout=10)
    assert response.status_code == 400, response.text
    assert "Invalid check state" in response.text


def test_passing_service_blocking_query_wakes_when_an_instance_fails(senate, client, instance, unique):
    name, node = unique("api"), unique("node")
    instance(node, name, "passing")
    index, entries = client.health.service(name, passing=True)
    assert nodes_of(entries) == {node}
    writer = threading.Timer(WRITE_DELAY_S, lambda: instance(node, name, "critical"))

    start = time.monotonic()
    writer.start()
    new_index, after = senate.client().health.service(name, passing=True, index=index, wait="10s")
    elapsed = time.monotonic() - start
    writer.join()

    assert WRITE_DELAY_S * 0.5 <= elapsed < 5
    assert int(new_index) > int(index)
    assert after == []


def test_node_health_blocking_query_wakes_on_a_check_update(senate, client, catalog, unique):
    node = unique("node")
    catalog(node, ADDRESS, check=node_check("disk", "passing"))
    index, _ = client.health.node(node)
    writer = threading.Timer(WRITE_DELAY_S, lambda: catalog(node, ADDRESS, check=node_check("disk", "warning")))

    start = time.monotonic()
    writer.start()
    new_index, checks = senate.client().health.node(node, index=index, wait="10s")
    elapsed = time.monotonic() - start
    writer.join()

    assert WRITE_DELAY_S * 0.5 <= elapsed < 5
    assert int(new_index) > int(index)
    assert statuses(checks, node) == {"disk": "warning"}

