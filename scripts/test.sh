#!/usr/bin/env bash
# The one command that runs every test: builds the workspace, runs the Rust tests, then the py-consul suite
# against the real senate binary (a -dev server, a follower of a 3-server cluster, and a client agent of one),
# and a real Patroni cluster using a client agent as its DCS. Installs what is missing (Debian, as root). Runs both parts even if the
# first fails, and exits non-zero if either failed.
set -uo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
REPO_ROOT="$(pwd)"
VENV="$REPO_ROOT/.venv"
REQUIREMENTS="$REPO_ROOT/tests/python/requirements.txt"
APT_UPDATED=0

log() { printf '\n==> %s\n' "$*"; }

verdict() { if [ "$1" = 0 ]; then echo ok; else echo "FAILED (exit $1)"; fi; }

apt_install() {
    if [ "$APT_UPDATED" = 0 ]; then
        DEBIAN_FRONTEND=noninteractive apt-get update -q || return 1
        APT_UPDATED=1
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$@"
}

ensure_command() { # ensure_command COMMAND DEBIAN_PACKAGE...
    local command="$1"
    shift
    command -v "$command" >/dev/null 2>&1 || apt_install "$@"
}

ensure_tools() {
    ensure_command cargo cargo &&
        ensure_command cc gcc libc6-dev &&
        ensure_command python3 python3
}

# Creates the venv (installing python3-venv if the interpreter cannot) and installs the pinned requirements,
# skipping pip when requirements.txt has not changed since the last install.
ensure_venv() {
    if ! "$VENV/bin/python" -c 'import sys' >/dev/null 2>&1; then
        rm -rf "$VENV"
        if ! python3 -m venv "$VENV"; then
            rm -rf "$VENV"
            apt_install python3-venv python3-pip && python3 -m venv "$VENV" || return 1
        fi
    fi
    local stamp="$VENV/.requirements.sha256"
    local wanted
    wanted="$(sha256sum "$REQUIREMENTS" | cut -d' ' -f1)"
    if [ "$(cat "$stamp" 2>/dev/null)" != "$wanted" ]; then
        "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r "$REQUIREMENTS" || return 1
        echo "$wanted" >"$stamp"
    fi
}

run_rust() {
    log "cargo build --workspace --bins"
    cargo build --workspace --bins || return 1
    log "cargo test --workspace"
    cargo test --workspace
}

run_python() {
    log "python venv ($VENV)"
    ensure_venv || return 1
    local bin="${SENATE_BIN:-$REPO_ROOT/target/debug/senate}"
    local status=0
    log "pytest tests/python (against a -dev server)"
    SENATE_BIN="$bin" "$VENV/bin/python" -m pytest tests/python -q || status=$?
    log "pytest tests/python (against a follower of a 3-server cluster)"
    SENATE_BIN="$bin" SENATE_TARGET=follower "$VENV/bin/python" -m pytest tests/python -q || status=$?
    log "pytest tests/python (against a client agent of a 3-server cluster)"
    SENATE_BIN="$bin" SENATE_TARGET=client "$VENV/bin/python" -m pytest tests/python -q || status=$?
    log "pytest tests/patroni (Debian's Patroni with PostgreSQL 15 on a client agent of a 3-server cluster)"
    ensure_patroni || status=$?
    SENATE_BIN="$bin" "$VENV/bin/python" -m pytest tests/patroni -q || status=$?
    return "$status"
}

# Debian's patroni (on the system python3, with python3-consul for its consul DCS) and PostgreSQL 15.
ensure_patroni() {
    { [ -x /usr/bin/patroni ] && /usr/bin/python3 -c 'import consul' 2>/dev/null &&
        [ -x /usr/lib/postgresql/15/bin/postgres ]; } || apt_install patroni python3-consul postgresql-15
}

log "checking tools"
if ! ensure_tools; then
    echo "test.sh: could not install the tools the tests need" >&2
    exit 1
fi

rust_status=0
run_rust || rust_status=$?
python_status=0
run_python || python_status=$?

passed=0
failed=0
for status in "$rust_status" "$python_status"; do
    if [ "$status" = 0 ]; then passed=$((passed + 1)); else failed=$((failed + 1)); fi
done
log "rust: $(verdict "$rust_status"), python: $(verdict "$python_status")"
echo "suites: $passed passed, $failed failed"
[ "$failed" = 0 ]
