"""Runs the real `senate` binary on free loopback ports and waits for it to lead.

Used by conftest.py (fixtures) and by tests that need polling helpers.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
from pathlib import Path

import consul
import requests

REPO_ROOT = Path(__file__).resolve().parents[2]
SENATE_BIN = Path(os.environ.get("SENATE_BIN", REPO_ROOT / "target" / "debug" / "senate"))
HOST = "127.0.0.1"
NODE_NAME = "pytest-node"
READY_TIMEOUT_S = 20.0
STOP_TIMEOUT_S = 10.0
PORT_NAMES = ("http", "serf_lan", "serf_wan", "server", "grpc")

# Servers that are running right now; conftest attaches their logs to failing tests.
RUNNING: list["SenateServer"] = []


def wait_until(predicate, timeout: float, interval: float = 0.1, message: str = "condition"):
    """Poll `predicate` until it returns a truthy value; return that value or fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {message}")
        time.sleep(interval)


def free_ports(count: int) -> list[int]:
    """Distinct loopback ports that were free a moment ago (all held open together so none repeats)."""
    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind((HOST, 0))
            sockets.append(sock)
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


class SenateServer:
    """One `senate agent` process: dev (in-memory) or durable (`-server -data-dir`)."""

    is_server = True

    def __init__(self, workdir: Path, name: str, data_dir: Path | None = None, node_name: str = NODE_NAME):
        self.workdir = workdir
        self.name = name
        self.data_dir = data_dir
        self.node_name = node_name
        self.ports = dict(zip(PORT_NAMES, free_ports(len(PORT_NAMES))))
        self.log_path = workdir / f"{name}.log"
        self.process: subprocess.Popen | None = None
        self.starts = 0

    @property
    def http_port(self) -> int:
        return self.ports["http"]

    def url(self, path: str) -> str:
        return f"http://{HOST}:{self.http_port}{path}"

    def client(self) -> consul.Consul:
        return consul.Consul(host=HOST, port=self.http_port)

    def mode(self) -> list[str]:
        """The flags that say how this server keeps its state and forms its cluster."""
        if self.data_dir is None:
            return ["-dev"]
        return ["-server", "-bootstrap-expect=1", "-data-dir", str(self.data_dir)]

    def command(self) -> list[str]:
        return [
            str(SENATE_BIN),
            "agent",
            *self.mode(),
            f"-node={self.node_name}",
            f"-bind={HOST}",
            f"-client={HOST}",
            f"-http-port={self.ports['http']}",
            "-dns-port=-1",
            f"-serf-lan-port={self.ports['serf_lan']}",
            f"-serf-wan-port={self.ports['serf_wan']}",
            f"-server-port={self.ports['server']}",
            f"-grpc-port={self.ports['grpc']}",
        ]

    def server_addresses(self) -> list[str]:
        """The server RPC addresses of every server in this server's cluster (just its own)."""
        return [f"{HOST}:{self.ports['server']}"]

    def spawn(self) -> None:
        """Spawn the process (same ports and data dir on every start) without waiting for it."""
        if not SENATE_BIN.is_file():
            raise RuntimeError(f"senate binary not found at {SENATE_BIN}; run `cargo build --workspace --bins`")
        self.starts += 1
        with open(self.log_path, "ab") as log:
            log.write(f"\n===== start #{self.starts}: {' '.join(self.command())}\n".encode())
            log.flush()
            self.process = subprocess.Popen(
                self.command(), stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=self.workdir
            )
        RUNNING.append(self)

    def start(self) -> "SenateServer":
        """Spawn the process and wait until it knows a leader."""
        self.spawn()
        try:
            self.wait_for_leader()
        except Exception:
            self.stop()
            raise
        return self

    def wait_for_leader(self) -> str:
        deadline = time.monotonic() + READY_TIMEOUT_S
        last_error = "no answer yet"
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"senate exited with {self.process.returncode} before leading\n{self.log_tail()}")
            try:
                response = requests.get(self.url("/v1/status/leader"), timeout=2)
                leader = response.json() if response.status_code == 200 else None
                if isinstance(leader, str) and leader:
                    return leader
                last_error = f"HTTP {response.status_code}: {response.text[:200]!r}"
            except (requests.RequestException, ValueError) as error:
                last_error = repr(error)
            time.sleep(0.1)
        raise RuntimeError(f"senate had no leader after {READY_TIMEOUT_S}s ({last_error})\n{self.log_tail()}")

    def stop(self, kill: bool = False) -> None:
        """SIGTERM (or SIGKILL when `kill`) and reap the process."""
        if self in RUNNING:
            RUNNING.remove(self)
        if self.process is None or self.process.poll() is not None:
            return
        if kill:
            self.process.kill()
        else:
            self.process.terminate()
        try:
            self.process.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=STOP_TIMEOUT_S)

    def restart(self, kill: bool = False) -> "SenateServer":
        self.stop(kill=kill)
        return self.start()

    def log_tail(self, lines: int = 200) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError as error:
            return f"<no log: {error}>"
        return "\n".join(text.splitlines()[-lines:])


class ClusterMember(SenateServer):
    """One server of a 3-server cluster: `-bootstrap-expect=3`, retry-joining the first member."""

    def __init__(self, workdir: Path, name: str, node_name: str, join_port: int | None):
        super().__init__(workdir, name, data_dir=workdir / f"{name}-data", node_name=node_name)
        self.join_port = join_port or self.ports["serf_lan"]

    def mode(self) -> list[str]:
        return [
            "-server",
            "-bootstrap-expect=3",
            "-data-dir",
            str(self.data_dir),
            f"-retry-join={HOST}:{self.join_port}",
            "-retry-interval=1s",
            "-hcl",
            "performance { raft_multiplier = 1 }",
        ]

    def rpc_address(self) -> str:
        return f"{HOST}:{self.ports['server']}"

    def server_addresses(self) -> list[str]:
        return [member.rpc_address() for member in self.cluster]


class ClientMember(SenateServer):
    """A client agent of a cluster (no `-server`), retry-joining one of its servers."""

    is_server = False

    def __init__(self, workdir: Path, name: str, node_name: str, cluster: list[ClusterMember]):
        super().__init__(workdir, name, data_dir=workdir / f"{name}-data", node_name=node_name)
        self.cluster = cluster

    def mode(self) -> list[str]:
        return [
            "-data-dir",
            str(self.data_dir),
            f"-retry-join={HOST}:{self.cluster[0].ports['serf_lan']}",
            "-retry-interval=1s",
            "-hcl",
            "performance { raft_multiplier = 1 }",
        ]

    def server_addresses(self) -> list[str]:
        return [member.rpc_address() for member in self.cluster]


class SenateCluster:
    """Three servers under one Raft; `follower()` is the one the tests talk to, named NODE_NAME
    (or, `with_client`, a client agent of the three, named NODE_NAME, from `client_agent()`)."""

    def __init__(self, workdir: Path, with_client: bool = False):
        first_name = f"{NODE_NAME}-server0" if with_client else NODE_NAME
        first = ClusterMember(workdir, "cluster-0", first_name, None)
        self.members = [first] + [
            ClusterMember(workdir, f"cluster-{i}", f"{NODE_NAME}-peer{i}", first.ports["serf_lan"]) for i in (1, 2)
        ]
        for member in self.members:
            member.cluster = self.members
        self.client = ClientMember(workdir, "client-0", NODE_NAME, self.members) if with_client else None

    def start(self) -> "SenateCluster":
        """Spawn all three at once (they wait for each other to bootstrap), then wait for one leader."""
        for member in self.members:
            member.spawn()
        wait_until(
            lambda: len({member.wait_for_leader() for member in self.members}) == 1,
            READY_TIMEOUT_S,
            message="the three servers to agree on a leader",
        )
        return self

    def follower(self) -> ClusterMember:
        """The member named NODE_NAME, made a follower: leadership moves away from it if it leads."""
        member = self.members[0]
        if member.wait_for_leader() == member.rpc_address():
            requests.post(member.url("/v1/operator/raft/transfer-leader"), timeout=30).raise_for_status()
            wait_until(
                lambda: member.wait_for_leader() != member.rpc_address(), READY_TIMEOUT_S, message="a new leader"
            )
        return member

    def client_agent(self) -> ClientMember:
        """The client agent, started once the servers agree on a leader."""
        self.client.start()
        return self.client

    def stop(self) -> None:
        for member in [self.client, *self.members]:
            if member is not None:
                member.stop()
