"""Pytest fixtures: real senate servers (shared dev, fresh dev, durable) and py-consul clients for them."""

from __future__ import annotations

import re
import uuid

import pytest

from senate_harness import RUNNING, SenateServer


@pytest.fixture(scope="session")
def senate(tmp_path_factory) -> SenateServer:
    """One dev-mode server shared by the whole session; tests isolate themselves with `prefix`."""
    server = SenateServer(tmp_path_factory.mktemp("senate-shared"), "shared").start()
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


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Attach the log of every running senate process to a failing test's report."""
    outcome = yield
    report = outcome.get_result()
    if report.failed:
        for server in RUNNING:
            report.sections.append((f"senate log: {server.name} ({server.log_path})", server.log_tail()))
