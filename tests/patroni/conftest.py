"""Pytest fixtures for the Patroni test: a 3-server Senate with a client agent, and two Patronis using it."""

from __future__ import annotations

import shutil
import sys
import tempfile
import uuid
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "python"))

from debian_packages import ensure_installed  # noqa: E402
from logs import Logs, shorten  # noqa: E402
from patroni_node import PatroniNode, owned_by_postgres  # noqa: E402
from senate_harness import SenateCluster, free_ports  # noqa: E402

SENATE_LOG_LINES = 40


@pytest.fixture(scope="session")
def debian_patroni() -> None:
    """Debian's patroni, python3-consul and postgresql-15 are installed (or the test skips/fails saying why)."""
    ensure_installed()


@pytest.fixture
def workdir(debian_patroni) -> Path:
    """A fresh directory under /tmp the postgres user can enter (pytest's tmp_path is root-only); removed after."""
    path = owned_by_postgres(Path(tempfile.mkdtemp(prefix="senate-patroni-")))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def logs() -> Logs:
    return Logs()


@pytest.fixture
def senate(workdir, logs) -> SenateCluster:
    """Three Senate servers and a client agent of theirs (`senate.client`), all stopped after the test."""
    senate_dir = workdir / "senate"
    senate_dir.mkdir()
    cluster = SenateCluster(senate_dir, with_client=True)
    for member in [*cluster.members, cluster.client]:
        tail = lambda member=member: shorten(member.log_tail(), SENATE_LOG_LINES)  # noqa: E731
        logs.watch(f"senate {member.name} ({member.node_name})", tail)
    try:
        cluster.start()
        cluster.client_agent()
    except Exception as error:
        cluster.stop()
        logs.fail(f"Senate did not start: {error}")
    yield cluster
    cluster.stop()


@pytest.fixture
def patronis(workdir, senate, logs) -> list[PatroniNode]:
    """Two Patronis of one fresh scope, both pointed at the client agent and started at once; killed after."""
    scope = f"senate-{uuid.uuid4().hex[:8]}"
    ports = free_ports(4)
    nodes = [PatroniNode(workdir, f"node{i}", scope, senate.client.http_port, ports[2 * i : 2 * i + 2]) for i in (0, 1)]
    for node in nodes:
        logs.watch(f"patroni {node.name} GET /patroni", node.status)
        logs.watch(f"patroni {node.name} log", node.log_tail)
    try:
        for node in nodes:
            node.start()
        yield nodes
    finally:
        for node in nodes:
            node.destroy()
