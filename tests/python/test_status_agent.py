"""Status (leader/peers) and agent (self/members) endpoints through py-consul."""

from __future__ import annotations

import re

from senate_harness import HOST, NODE_NAME

ADDRESS = re.compile(r"^[0-9.]+:\d+$")
CONSUL_VERSION = re.compile(r"^1\.2\d\.\d+")
ALIVE = 1  # serf member status


def test_leader_is_a_server_of_this_cluster(client, senate):
    leader = client.status.leader()

    assert ADDRESS.match(leader)
    assert leader in senate.server_addresses()


def test_peers_are_the_clusters_servers_including_the_leader(client, senate):
    peers = client.status.peers()

    assert sorted(peers) == sorted(senate.server_addresses())
    assert client.status.leader() in peers


def test_agent_self_config(client, senate):
    config = client.agent.self()["Config"]

    assert config["Datacenter"] == "dc1"
    assert config["NodeName"] == NODE_NAME
    assert CONSUL_VERSION.match(config["Version"]), config["Version"]
    assert config["Server"] is senate.is_server


def test_agent_self_member(client, senate):
    member = client.agent.self()["Member"]

    assert member["Name"] == NODE_NAME
    assert member["Addr"] == HOST
    assert member["Port"] == senate.ports["serf_lan"]
    assert member["Status"] == ALIVE
    assert member["Tags"]["dc"] == "dc1"
    if senate.is_server:
        assert member["Tags"]["role"] == "consul"
        assert member["Tags"]["port"] == str(senate.ports["server"])
    else:
        assert member["Tags"]["role"] == "node"
        assert "port" not in member["Tags"]


def test_members_lists_this_node(client, senate):
    members = client.agent.members()

    (me,) = [member for member in members if member["Name"] == NODE_NAME]
    assert me["Addr"] == HOST
    assert me["Port"] == senate.ports["serf_lan"]
    assert me["Status"] == ALIVE
    assert me["Tags"]["role"] == ("consul" if senate.is_server else "node")


def test_wan_members_list_this_server(client, senate):
    members = client.agent.members(wan=True)

    (me,) = [member for member in members if member["Name"].startswith(NODE_NAME)]
    assert me["Name"] == f"{NODE_NAME}.dc1"
    assert me["Port"] == senate.ports["serf_wan"]
