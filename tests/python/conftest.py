"""Pytest fixtures: real senate servers (shared dev, fresh dev, durable) and py-consul clients for them."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable

import pytest

import os

from senate_harness import RUNNING, SenateCluster, SenateServer


class ConfiguredSenateServer(SenateServer):
    """A SenateServer whose command line ends with extra agent flags (e.g. `-hcl 'enable_script_checks = true'`)."""

    def __init__(self, workdir, name: str, extra_args: list[str]):
        super().__init__(workdir, name)
        self.extra_args = list(extra_args)

    def command(self) -> list[str]:
        return [*super().command(), *self.extra_args]


@pytest.fixture(scope="session")
def senate(tmp_path_factory) -> SenateServer:
    """The server shared by the whole session; tests isolate themselves with `prefix`.

    A dev-mode server; with SENATE_TARGET=follower a follower of a 3-server cluster, so the
    same suite checks that followers forward to the leader transparently; with
    SENATE_TARGET=client a client agent of a 3-server cluster, which holds no state of its own."""
    workdir = tmp_path_factory.mktemp("senate-shared")
    target = os.environ.get("SENATE_TARGET")
    if target in ("follower", "client"):
        cluster = SenateCluster(workdir, with_client=target == "client").start()
        yield cluster.follower() if target == "follower" else cluster.client_agent()
        cluster.stop()
        return
    server = SenateServer(workdir, "shared").start()
    yield server
    server.stop()


@pytest.fixture
def client(senate):
    """A py-consul client talking to the shared server."""
    return senate.client()


@pytest.fixture
def prefix(request) -> str:
    """A KV prefix (and event name) unique to the running test, so tests on the shared server never collide."""
    name = re.sub(r"[^A-Za-z0-9_-]+", "-", request.node.name).strip("-")
    return f"pytest/{name}-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def unique() -> Callable[[str], str]:
    """Names unique to the running test: `unique("web")` -> "web-1a2b3c4d" (one suffix per test, so names pair up)."""
    suffix = uuid.uuid4().hex[:8]
    return lambda stem: f"{stem}-{suffix}"


@pytest.fixture
def catalog(client):
    """`catalog(node, address, **kwargs)` registers through py-consul; every node it touched is deregistered after."""
    nodes = set()

    def register(node: str, address: str, **kwargs) -> None:
        nodes.add(node)
        assert client.catalog.register(node, address, **kwargs) is True

    yield register
    for node in nodes:
        client.catalog.deregister(node)


@pytest.fixture
def start_senate(tmp_path):
    """Factory for fresh dev servers owned by one test (for tests that need a quiet, isolated store)."""
    servers = []

    def start() -> SenateServer:
        server = SenateServer(tmp_path, f"fresh-{len(servers)}")
        servers.append(server)
        return server.start()

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def durable_senate(tmp_path) -> SenateServer:
    """A single durable server (`-server -bootstrap-expect=1 -data-dir`); `.restart()` reuses its data dir and ports."""
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    server = SenateServer(tmp_path, "durable", data_dir=data_dir).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def script_senate(tmp_path_factory) -> SenateServer:
    """A dev server for one test module, started with `enable_script_checks = true` so script checks may run."""
    workdir = tmp_path_factory.mktemp("senate-scripts")
    server = ConfiguredSenateServer(workdir, "scripts", ["-hcl", "enable_script_checks = true"]).start()
    yield server
    server.stop()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Attach the log of every running senate process to a failing test's report."""
    outcome = yield
    report = outcome.get_result()
    if report.failed:
        for server in RUNNING:
            report.sections.append((f"senate log: {server.name} ({server.log_path})", server.log_tail()))
