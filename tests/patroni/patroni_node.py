"""Runs one Debian Patroni (PostgreSQL 15, Consul DCS) as the postgres user, and kills it and its PostgreSQL."""

from __future__ import annotations

import json
import os
import pwd
import signal
import subprocess
import time
from pathlib import Path

import requests

from debian_packages import PATRONI_BIN, PG_BIN_DIR
from senate_harness import HOST

# PostgreSQL refuses to run as root, so root runs Patroni (and psql) as `postgres`; anyone else as themselves.
RUN_AS = "postgres" if os.geteuid() == 0 else None
# Patroni halves the TTL for its Consul session, and Consul (so Senate) refuses session TTLs under 10s.
DCS_TIMINGS = {"ttl": 20, "loop_wait": 1, "retry_timeout": 5}
SUPERUSER = "postgres"
KILL_TIMEOUT_S = 10.0
PSQL_TIMEOUT_S = 15.0


def owned_by_postgres(path: Path) -> Path:
    """Make `path` (a directory) and hand it to the user Patroni runs as."""
    path.mkdir(mode=0o700, exist_ok=True)
    if RUN_AS:
        os.chown(path, *postgres_ids())
    return path


def postgres_ids() -> tuple[int, int]:
    entry = pwd.getpwnam(RUN_AS)
    return entry.pw_uid, entry.pw_gid


def as_postgres() -> dict:
    """subprocess keyword arguments that run the child as RUN_AS (nothing when not root)."""
    return {"user": RUN_AS, "group": RUN_AS, "extra_groups": []} if RUN_AS else {}


def live_processes_in_group(pgid: int) -> list[int]:
    """Pids of the non-zombie processes whose process group is `pgid`."""
    pids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        state, group = fields[0], int(fields[2])
        if group == pgid and state != "Z":
            pids.append(int(stat.parent.name))
    return pids


def kill_group(pgid: int) -> None:
    """SIGKILL process group `pgid` (never the test's own) until none of its processes is left alive."""
    if pgid in (0, 1, os.getpgrp()):
        return
    deadline = time.monotonic() + KILL_TIMEOUT_S
    while live_processes_in_group(pgid):
        if time.monotonic() >= deadline:
            raise RuntimeError(f"process group {pgid} still alive {KILL_TIMEOUT_S}s after SIGKILL")
        try:
            os.killpg(pgid, signal.SIGKILL)
        except ProcessLookupError:
            return
        time.sleep(0.05)


class PatroniNode:
    """One Patroni with its own data dir, PostgreSQL and REST API `ports`, using Senate at `consul_port`."""

    def __init__(self, workdir: Path, name: str, scope: str, consul_port: int, ports: tuple[int, int]):
        self.name = name
        self.scope = scope
        self.consul_port = consul_port
        self.dir = owned_by_postgres(workdir / name)
        self.pg_port, self.api_port = ports
        self.config_path = self.dir / "patroni.yml"
        self.log_path = self.dir / "patroni.log"
        self.process: subprocess.Popen | None = None

    @property
    def data_dir(self) -> Path:
        return self.dir / "data"

    def config(self) -> dict:
        """Patroni's configuration (written as JSON, which is YAML)."""
        return {
            "scope": self.scope,
            "name": self.name,
            "log": {"level": "INFO"},
            "restapi": {"listen": f"{HOST}:{self.api_port}", "connect_address": f"{HOST}:{self.api_port}"},
            "consul": {"host": f"{HOST}:{self.consul_port}", "register_service": False},
            "bootstrap": {
                "dcs": {**DCS_TIMINGS, "maximum_lag_on_failover": 1048576, "postgresql": {"use_pg_rewind": False}},
                "initdb": [{"encoding": "UTF8"}],
            },
            "postgresql": {
                "listen": f"{HOST}:{self.pg_port}",
                "connect_address": f"{HOST}:{self.pg_port}",
                "data_dir": str(self.data_dir),
                "bin_dir": str(PG_BIN_DIR),
                "pgpass": str(self.dir / "pgpass"),
                "authentication": {
                    "superuser": {"username": SUPERUSER, "password": "senate-super"},
                    "replication": {"username": "replicator", "password": "senate-repl"},
                },
                "parameters": {"unix_socket_directories": str(self.dir), "shared_buffers": "32MB"},
                "pg_hba": [
                    "local all all trust",
                    f"host all all {HOST}/32 trust",
                    f"host replication all {HOST}/32 trust",
                ],
            },
            "watchdog": {"mode": "off"},
        }

    def environment(self) -> dict:
        """A clean environment: nothing from the test's venv reaches Debian's /usr/bin/python3."""
        return {"PATH": "/usr/bin:/bin", "HOME": str(self.dir), "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8"}

    def start(self) -> "PatroniNode":
        """Write the config and spawn Patroni in a new session (its own process group); do not wait."""
        self.config_path.write_text(json.dumps(self.config(), indent=2))
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                [str(PATRONI_BIN), str(self.config_path)],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                cwd=self.dir,
                env=self.environment(),
                start_new_session=True,
                **as_postgres(),
            )
        return self

    def answers(self, path: str) -> bool:
        """Whether Patroni's REST API answers 200 to GET `path` (`/primary`, `/replica`)."""
        try:
            return requests.get(f"http://{HOST}:{self.api_port}{path}", timeout=2).status_code == 200
        except requests.RequestException:
            return False

    def status(self) -> str:
        """Patroni's own view (GET /patroni), for failure reports."""
        try:
            return requests.get(f"http://{HOST}:{self.api_port}/patroni", timeout=2).text
        except requests.RequestException as error:
            return f"<REST API not answering: {error.__class__.__name__}>"

    def sql(self, statement: str) -> subprocess.CompletedProcess:
        """Run one statement with psql over TCP as the superuser; stdout is unaligned, tuples only."""
        command = [str(PG_BIN_DIR / "psql"), "-X", "-At", "-v", "ON_ERROR_STOP=1", "-h", HOST]
        command += ["-p", str(self.pg_port), "-U", SUPERUSER, "-d", "postgres", "-c", statement]
        try:
            return subprocess.run(
                command, capture_output=True, text=True, timeout=PSQL_TIMEOUT_S, env=self.environment(), **as_postgres()
            )
        except subprocess.TimeoutExpired:
            return subprocess.CompletedProcess(command, -1, "", f"psql timed out after {PSQL_TIMEOUT_S}s")

    def postmaster_pidfile(self) -> list[str]:
        """The lines of postmaster.pid (pid first, shared memory key and id seventh), or [] when absent."""
        try:
            return (self.data_dir / "postmaster.pid").read_text().splitlines()
        except OSError:
            return []

    def postmaster_group(self) -> list[int]:
        """The process group of this node's running postmaster (Patroni starts it in a session of its own)."""
        pidfile = self.postmaster_pidfile()
        if not pidfile:
            return []
        try:
            arguments = Path(f"/proc/{pidfile[0]}/cmdline").read_bytes().split(b"\0")
            return [os.getpgid(int(pidfile[0]))] if str(self.data_dir).encode() in arguments else []
        except (OSError, ValueError):
            return []

    def kill(self) -> None:
        """SIGKILL Patroni's process group and its PostgreSQL's, and wait until none of their processes is left."""
        groups = ([self.process.pid] if self.process else []) + self.postmaster_group()
        for group in groups:
            kill_group(group)
        if self.process:
            self.process.wait(timeout=KILL_TIMEOUT_S)

    def remove_shared_memory(self) -> None:
        """Remove the SysV segment a SIGKILLed postmaster leaves behind (once nothing is attached to it)."""
        pidfile = self.postmaster_pidfile()
        if len(pidfile) < 7 or len(pidfile[6].split()) != 2:
            return
        shmid = pidfile[6].split()[1]
        for line in Path("/proc/sysvipc/shm").read_text().splitlines()[1:]:
            fields = line.split()
            if fields[1] == shmid and fields[6] == "0":
                subprocess.run(["ipcrm", "-m", shmid], capture_output=True)

    def destroy(self) -> None:
        """Kill everything this node started and free its shared memory (its directory goes with the workdir)."""
        self.kill()
        self.remove_shared_memory()

    def log_tail(self, lines: int = 60) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError as error:
            return f"<no log: {error}>"
        return "\n".join(text.splitlines()[-lines:])
