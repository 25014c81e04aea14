"""Makes sure Debian's Patroni (with python3-consul) and PostgreSQL 15 are installed, with apt-get when root."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

PATRONI_BIN = Path("/usr/bin/patroni")
SYSTEM_PYTHON = Path("/usr/bin/python3")
PG_BIN_DIR = Path("/usr/lib/postgresql/15/bin")
PACKAGES = ("patroni", "python3-consul", "postgresql-15")
APT_TIMEOUT_S = 900


def missing_pieces() -> list[str]:
    """What of Debian's Patroni + python3-consul + PostgreSQL 15 is not on this machine (empty when all is)."""
    missing = []
    if not PATRONI_BIN.is_file():
        missing.append(f"{PATRONI_BIN} (package patroni)")
    if not SYSTEM_PYTHON.is_file() or subprocess.run(
        [str(SYSTEM_PYTHON), "-c", "import consul, patroni.dcs.consul"], capture_output=True
    ).returncode:
        missing.append("Patroni's consul DCS for /usr/bin/python3 (packages patroni, python3-consul)")
    for program in ("postgres", "initdb", "pg_basebackup", "psql"):
        if not (PG_BIN_DIR / program).is_file():
            missing.append(f"{PG_BIN_DIR / program} (package postgresql-15)")
    return missing


def apt_get(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    return subprocess.run(
        ["apt-get", *args], capture_output=True, text=True, env=env, timeout=APT_TIMEOUT_S
    )


def install() -> str:
    """`apt-get update` then install PACKAGES; returns apt's output (tail) for error messages."""
    update = apt_get("update", "-q")
    result = apt_get("install", "-y", "-q", "--no-install-recommends", *PACKAGES)
    output = "\n".join((update.stdout + update.stderr + result.stdout + result.stderr).splitlines()[-30:])
    return f"apt-get install exited with {result.returncode}:\n{output}"


def ensure_installed() -> None:
    """Install what is missing when root; skip (saying why) when not root; fail when installing did not work."""
    missing = missing_pieces()
    if not missing:
        return
    if os.geteuid() != 0:
        pytest.skip(
            f"not root, so cannot apt-get install {' '.join(PACKAGES)}; missing: {'; '.join(missing)}"
        )
    apt_report = install()
    still_missing = missing_pieces()
    if still_missing:
        pytest.fail(
            f"the Patroni test needs Debian's {' '.join(PACKAGES)}, and installing them failed; "
            f"still missing: {'; '.join(still_missing)}\n{apt_report}",
            pytrace=False,
        )
