"""Catalog endpoints through py-consul: register and deregister nodes, services and checks; every read view.

Expected shapes and errors follow Consul's catalog HTTP handlers and state store (agent/catalog_endpoint.go,
agent/consul/catalog_endpoint.go, agent/consul/state/catalog.go): errors returned by the Catalog.Register RPC are
plain errors, which Consul's HTTP layer answers with 500.
"""

from __future__ import annotations

import threading
import time

import consul
import pytest

from senate_harness import HOST, NODE_NAME

ADDRESS = "10.20.30.40"
OTHER_ADDRESS = "10.20.30.41"
DEFAULT_WEIGHTS = {"Passing": 1, "Warning": 1}
WRITE_DELAY_S = 0.3


def by_name(nodes: list[dict]) -> dict[str, dict]:
    return {node["Node"]: node for node in nodes}


def check_ids(checks: list[dict]) -> set[str]:
    return {check["CheckID"] for check in checks}


def test_datacenters_lists_the_local_one(client):
    assert client.catalog.datacenters() == ["dc1"]


def test_nodes_list_the_server_itself(client):
    _, nodes = client.catalog.nodes()

    me = by_name(nodes)[NODE_NAME]
    assert me["Address"] == HOST
    assert me["Datacenter"] == "dc1"


def test_registered_node_is_listed(client, catalog, unique):
    node = unique("node")

    catalog(node, ADDRESS, tagged_addresses={"wan": "198.51.100.7"})

    index, nodes = client.catalog.nodes()
    entry = by_name(nodes)[node]
    assert entry["Address"] == ADDRESS
    assert entry["Datacenter"] == "dc1"
    assert entry["TaggedAddresses"] == {"wan": "198.51.100.7"}
    assert 0 < entry["CreateIndex"] == entry["ModifyIndex"] <= int(index)


def test_reregistering_a_node_updates_its_address(client, catalog, unique):
    node = unique("node")
    catalog(node, ADDRESS)

    catalog(node, OTHER_ADDRESS)

    entry = by_name(client.catalog.nodes()[1])[node]
    assert entry["Address"] == OTHER_ADDRESS
    assert entry["ModifyIndex"] > entry["CreateIndex"]


def test_services_map_has_consul_and_the_union_of_tags(client, catalog, unique):
    name = unique("web")
    catalog(unique("node-a"), ADDRESS, service={"Service": name, "ID": f"{name}-1", "Tags": ["primary", "v1"]})
    catalog(unique("node-b"), OTHER_ADDRESS, service={"Service": name, "ID": f"{name}-2", "Tags": ["replica", "v1"]})

    index, services = client.catalog.services()

    assert int(index) > 0
    assert services["consul"] == []
    assert sorted(services[name]) == ["primary", "replica", "v1"]


def test_service_instance_carries_node_and_service_fields(client, catalog, unique):
    node, name = unique("node"), unique("redis")
    service = {
        "Service": name,
        "ID": f"{name}-1",
        "Tags": ["primary", "v1"],
        "Address": "10.0.0.9",
        "Port": 8000,
        "Meta": {"version": "7"},
    }
    catalog(node, ADDRESS, service=service)

    index, instances = client.catalog.service(name)

    (instance,) = instances
    assert instance["Node"] == node
    assert instance["Address"] == ADDRESS
    assert instance["Datacenter"] == "dc1"
    assert instance["ServiceID"] == f"{name}-1"
    assert instance["ServiceName"] == name
    assert instance["ServiceTags"] == ["primary", "v1"]
    assert instance["ServiceAddress"] == "10.0.0.9"
    assert instance["ServicePort"] == 8000
    assert instance["ServiceMeta"] == {"version": "7"}
    assert instance["ServiceWeights"] == DEFAULT_WEIGHTS
    assert instance["ServiceEnableTagOverride"] is False
    assert 0 < instance["CreateIndex"] == instance["ModifyIndex"] <= int(index)


def test_service_id_defaults_to_its_name_and_tags_to_empty(client, catalog, unique):
    name = unique("bare")

    catalog(unique("node"), ADDRESS, service={"Service": name})

    (instance,) = client.catalog.service(name)[1]
    assert instance["ServiceID"] == name
    assert instance["ServiceTags"] == []
    assert instance["ServicePort"] == 0
    assert instance["ServiceAddress"] == ""


def test_service_query_filters_by_tag(client, catalog, unique):
    name, primary, replica = unique("db"), unique("node-a"), unique("node-b")
    catalog(primary, ADDRESS, service={"Service": name, "Tags": ["primary"]})
    catalog(replica, OTHER_ADDRESS, service={"Service": name, "Tags": ["replica"]})

    assert {i["Node"] for i in client.catalog.service(name)[1]} == {primary, replica}
    assert [i["Node"] for i in client.catalog.service(name, tag="primary")[1]] == [primary]
    assert [i["Node"] for i in client.catalog.service(name, tag="replica")[1]] == [replica]
    assert client.catalog.service(name, tag="absent")[1] == []


def test_unknown_service_has_no_instances(client, unique):
    assert client.catalog.service(unique("ghost"))[1] == []


def test_node_lists_its_services(client, catalog, unique):
    node, web, cache = unique("node"), unique("web"), unique("cache")
    catalog(node, ADDRESS, service={"Service": web, "ID": f"{web}-1", "Tags": ["v2"], "Port": 80})
    catalog(node, ADDRESS, service={"Service": cache, "Port": 6379})

    _, found = client.catalog.node(node)

    assert found["Node"]["Node"] == node
    assert found["Node"]["Address"] == ADDRESS
    assert set(found["Services"]) == {f"{web}-1", cache}
    web_service = found["Services"][f"{web}-1"]
    assert web_service["ID"] == f"{web}-1"
    assert web_service["Service"] == web
    assert web_service["Tags"] == ["v2"]
    assert web_service["Port"] == 80
    assert found["Services"][cache]["Port"] == 6379


def test_unknown_node_is_none(client, unique):
    index, found = client.catalog.node(unique("ghost"))

    assert found is None
    assert int(index) > 0


def test_service_check_gets_the_service_name_and_tags(client, catalog, unique):
    node, name = unique("node"), unique("redis")
    check = {
        "CheckID": f"{name}-alive",
        "Name": "Redis health check",
        "Notes": "script based",
        "Status": "passing",
        "Output": "PONG",
        "ServiceID": name,
    }

    catalog(node, ADDRESS, service={"Service": name, "Tags": ["primary"]}, check=check)

    (stored,) = client.health.checks(name)[1]
    assert stored["Node"] == node
    assert stored["CheckID"] == f"{name}-alive"
    assert stored["Name"] == "Redis health check"
    assert stored["Notes"] == "script based"
    assert stored["Status"] == "passing"
    assert stored["Output"] == "PONG"
    assert stored["ServiceID"] == name
    assert stored["ServiceName"] == name
    assert stored["ServiceTags"] == ["primary"]


def test_node_check_id_defaults_to_its_name_and_status_to_critical(client, catalog, unique):
    node = unique("node")

    catalog(node, ADDRESS, check={"Name": "memory"})

    (stored,) = client.health.node(node)[1]
    assert stored["CheckID"] == "memory"
    assert stored["Name"] == "memory"
    assert stored["Status"] == "critical"
    assert stored["ServiceID"] == ""
    assert stored["ServiceName"] == ""


def test_deregister_service_removes_it_and_its_checks_but_keeps_the_node(client, catalog, unique):
    node, name = unique("node"), unique("web")
    catalog(node, ADDRESS, service={"Service": name}, check={"CheckID": "web-ok", "Name": "web", "ServiceID": name})
    catalog(node, ADDRESS, check={"CheckID": "disk", "Name": "disk", "Status": "passing"})

    assert client.catalog.deregister(node, service_id=name) is True

    assert client.catalog.node(node)[1]["Services"] == {}
    assert client.catalog.service(name)[1] == []
    assert name not in client.catalog.services()[1]
    assert check_ids(client.health.node(node)[1]) == {"disk"}
    assert node in by_name(client.catalog.nodes()[1])


def test_deregister_check_removes_only_that_check(client, catalog, unique):
    node, name = unique("node"), unique("web")
    catalog(node, ADDRESS, service={"Service": name}, check={"CheckID": "web-ok", "Name": "web", "ServiceID": name})
    catalog(node, ADDRESS, check={"CheckID": "disk", "Name": "disk"})

    assert client.catalog.deregister(node, check_id="disk") is True

    assert check_ids(client.health.node(node)[1]) == {"web-ok"}
    assert [i["ServiceID"] for i in client.catalog.service(name)[1]] == [name]


def test_deregister_node_removes_its_services_and_checks(client, catalog, unique):
    node, name = unique("node"), unique("web")
    catalog(node, ADDRESS, service={"Service": name}, check={"CheckID": "web-ok", "Name": "web", "ServiceID": name})

    assert client.catalog.deregister(node) is True

    assert node not in by_name(client.catalog.nodes()[1])
    assert client.catalog.node(node)[1] is None
    assert client.catalog.service(name)[1] == []
    assert client.health.node(node)[1] == []
    assert client.health.checks(name)[1] == []


def test_deregister_unknown_node_is_true(client, unique):
    assert client.catalog.deregister(unique("ghost")) is True


def test_service_blocking_query_wakes_on_a_new_instance(senate, client, catalog, unique):
    name, first, second = unique("api"), unique("node-a"), unique("node-b")
    catalog(first, ADDRESS, service={"Service": name})
    index, _ = client.catalog.service(name)
    writer = threading.Timer(
        WRITE_DELAY_S, lambda: catalog(second, OTHER_ADDRESS, service={"Service": name})
    )

    start = time.monotonic()
    writer.start()
    new_index, instances = senate.client().catalog.service(name, index=index, wait="10s")
    elapsed = time.monotonic() - start
    writer.join()

    assert WRITE_DELAY_S * 0.5 <= elapsed < 5
    assert int(new_index) > int(index)
    assert {i["Node"] for i in instances} == {first, second}


def test_service_blocking_query_without_change_waits_out_its_wait(client, catalog, unique):
    name = unique("idle")
    catalog(unique("node"), ADDRESS, service={"Service": name})
    index, instances = client.catalog.service(name)

    start = time.monotonic()
    same_index, same_instances = client.catalog.service(name, index=index, wait="1s")
    elapsed = time.monotonic() - start

    assert 0.9 <= elapsed < 3
    assert same_index == index
    assert same_instances == instances


def test_register_without_address_is_rejected(client, unique):
    # Catalog.Register's "Must provide address" is a plain RPC error, which Consul's HTTP layer answers with 500.
    with pytest.raises(consul.ConsulException) as raised:
        client.catalog.register(unique("node"), "")

    # Consul answers 500; Senate answers bad input with a 4xx, keeping Consul's text.
    assert str(raised.value).rstrip() == "400 Must provide address if SkipNodeUpdate is not set"


def test_check_for_a_service_the_node_lacks_is_rejected(client, catalog, unique):
    node = unique("node")
    catalog(node, ADDRESS)

    with pytest.raises(consul.ConsulException) as raised:
        client.catalog.register(node, ADDRESS, check={"CheckID": "orphan", "Name": "orphan", "ServiceID": "nope"})

    # Consul answers 500 "Missing service registration"; Senate answers 400 and names the check and service.
    assert str(raised.value).rstrip() == '400 Unknown service ID "nope" for check ID "orphan"'
    assert client.health.node(node)[1] == []
