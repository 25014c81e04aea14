"""A real two-node Patroni (Debian's, PostgreSQL 15) cluster uses a client agent of a 3-server Senate as its DCS:
it bootstraps, replicates, fails over after `kill -9` of the primary, and survives `kill -9` of the Senate leader
meanwhile."""

from __future__ import annotations

import base64

import requests

from logs import Logs
from patroni_node import PatroniNode
from senate_harness import ClusterMember, SenateCluster

BOOTSTRAP_TIMEOUT_S = 120  # initdb, then pg_basebackup, on a busy 2-core machine
REPLICATION_TIMEOUT_S = 30
# The dead primary's session must expire (Patroni asks for TTL 10s; Consul waits up to twice that) after a
# new Senate leader is elected, then the replica must notice and promote itself.
FAILOVER_TIMEOUT_S = 90
SENATE_TIMEOUT_S = 30
WRITE_TIMEOUT_S = 15
# Autopilot removed the dead server; back, it is a non-voter until it has been stable for 10s.
REJOIN_TIMEOUT_S = 60
TABLE = "senate_patroni"
ROWS_BEFORE = ["before-1", "before-2", "before-3"]
ROW_AFTER = "after-failover"


def test_patroni_bootstraps_replicates_and_fails_over(senate: SenateCluster, patronis: list[PatroniNode], logs: Logs):
    primary, replica = logs.wait_for(
        lambda: roles(patronis), BOOTSTRAP_TIMEOUT_S, "one Patroni to answer /primary and the other /replica"
    )
    first_session = wait_for_leader_key(senate, primary, logs)

    run_sql(primary, f"CREATE TABLE {TABLE} (id serial PRIMARY KEY, v text NOT NULL)", logs)
    run_sql(primary, insert_statement(ROWS_BEFORE), logs)
    logs.wait_for(lambda: rows(replica) == ROWS_BEFORE, REPLICATION_TIMEOUT_S, f"the rows to reach {replica.name}")

    primary.kill()
    killed = kill_senate_leader(senate, logs)
    if primary.sql("SELECT 1").returncode == 0:
        logs.fail(f"{primary.name}'s PostgreSQL still answers after kill -9")

    logs.wait_for(lambda: replica.answers("/primary"), FAILOVER_TIMEOUT_S, f"{replica.name} to be promoted")
    logs.wait_for(
        lambda: replica.sql(insert_statement([ROW_AFTER])).returncode == 0,
        WRITE_TIMEOUT_S,
        f"{replica.name} to accept an INSERT",
    )
    if rows(replica) != [*ROWS_BEFORE, ROW_AFTER]:
        logs.fail(f"{replica.name} holds rows {rows(replica)}, not {[*ROWS_BEFORE, ROW_AFTER]}")
    if wait_for_leader_key(senate, replica, logs) == first_session:
        logs.fail(f"{replica.name} holds the leader key under the dead primary's session {first_session}")

    killed.spawn()
    logs.wait_for(lambda: senate_is_whole(senate), REJOIN_TIMEOUT_S, f"{killed.name}, restarted, to rejoin as a voter")


def roles(nodes: list[PatroniNode]) -> tuple[PatroniNode, PatroniNode] | None:
    """(primary, replica) once exactly one node answers /primary and the other /replica."""
    primaries = [node for node in nodes if node.answers("/primary")]
    replicas = [node for node in nodes if node.answers("/replica")]
    if len(primaries) == 1 and len(replicas) == 1 and primaries != replicas:
        return primaries[0], replicas[0]
    return None


def get_json(url: str):
    """The JSON body of a 200 answer to GET `url`, else None (Senate may be electing a leader)."""
    try:
        response = requests.get(url, timeout=5)
        return response.json() if response.status_code == 200 else None
    except (requests.RequestException, ValueError):
        return None


def leader_session(senate: SenateCluster, node: PatroniNode) -> str | None:
    """The session under which `node` holds Patroni's leader key, read through the client agent."""
    entries = get_json(senate.client.url(f"/v1/kv/service/{node.scope}/leader"))
    if not entries:
        return None
    value = base64.b64decode(entries[0].get("Value") or "").decode()
    return entries[0].get("Session") if value == node.name else None


def wait_for_leader_key(senate: SenateCluster, node: PatroniNode, logs: Logs) -> str:
    """Wait until Senate's KV shows `node` as Patroni's leader under a `delete` session; return that session."""
    session = logs.wait_for(
        lambda: leader_session(senate, node),
        SENATE_TIMEOUT_S,
        f"Senate's key service/{node.scope}/leader to hold {node.name!r} under a session",
    )
    info = get_json(senate.client.url(f"/v1/session/info/{session}"))
    if not info or info[0].get("Behavior") != "delete":
        logs.fail(f"Patroni's session {session} should exist with Behavior 'delete', Senate says {info}")
    return session


def insert_statement(values: list[str]) -> str:
    return f"INSERT INTO {TABLE} (v) VALUES " + ", ".join(f"('{value}')" for value in values)


def run_sql(node: PatroniNode, statement: str, logs: Logs) -> None:
    result = node.sql(statement)
    if result.returncode != 0:
        logs.fail(f"psql on {node.name} failed ({result.returncode}) for {statement!r}: {result.stderr}")


def rows(node: PatroniNode) -> list[str] | None:
    """The table's values in insertion order, or None while the table cannot be read."""
    result = node.sql(f"SELECT v FROM {TABLE} ORDER BY id")
    return result.stdout.split() if result.returncode == 0 else None


def reported_leader(member: ClusterMember) -> str | None:
    leader = get_json(member.url("/v1/status/leader"))
    return leader or None


def kill_senate_leader(senate: SenateCluster, logs: Logs) -> ClusterMember:
    """`kill -9` the Senate server that leads, wait until the other two elect a new leader; return the dead one."""
    address = logs.wait_for(lambda: reported_leader(senate.members[0]), SENATE_TIMEOUT_S, "Senate's leader")
    leader = next(member for member in senate.members if member.rpc_address() == address)
    leader.stop(kill=True)
    survivors = [member for member in senate.members if member is not leader]

    def new_leader() -> bool:
        leaders = {reported_leader(member) for member in survivors}
        return len(leaders) == 1 and None not in leaders and address not in leaders

    logs.wait_for(new_leader, SENATE_TIMEOUT_S, f"Senate's two other servers to elect a leader after {address} died")
    return leader


def senate_is_whole(senate: SenateCluster) -> bool:
    """All three servers agree on one leader and each lists three Raft peers."""
    leaders = {reported_leader(member) for member in senate.members}
    peers = [get_json(member.url("/v1/status/peers")) or [] for member in senate.members]
    return len(leaders) == 1 and None not in leaders and all(len(listed) == 3 for listed in peers)
