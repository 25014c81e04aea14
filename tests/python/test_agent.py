"""Local agent services and checks through py-consul, and how they reach the catalog and health endpoints.

Expected behaviour follows Consul's agent (agent/agent_endpoint.go, agent/agent.go, agent/checks/check.go):
- agent writes apply to the agent at once (then sync to the catalog, which tests poll for);
- a check starts critical; TTL updates set status and output; a lapsed TTL turns critical with output
  "TTL expired (last output before timeout follows): <last output>";
- script checks: exit 0 passing, 1 warning, anything else critical, output = what the script printed;
- HTTP checks: 2xx passing, 429 warning, else critical, output "HTTP GET <url>: <status line> Output: <body>";
- TCP checks: output "TCP connect <addr>: Success" or the dial error;
- maintenance adds a critical `_node_maintenance` / `_service_maintenance:<id>` check and removes it again;
- unknown IDs are 404 with Consul's exact reason (py-consul's boolean calls then return False, not raise).
"""

from __future__ import annotations

import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import consul
import pytest
import requests
from consul.exceptions import BadRequest

from senate_harness import HOST, NODE_NAME, free_ports, wait_until

SYNC_TIMEOUT_S = 10.0
TTL_S = 1.0
WRITE_DELAY_S = 0.3
DEFAULT_WEIGHTS = {"Passing": 1, "Warning": 1}
NODE_MAINT_ID = "_node_maintenance"
DEFAULT_NODE_REASON = (
    "Maintenance mode is enabled for this node, but no reason was provided. This is a default message."
)
DEFAULT_SERVICE_REASON = (
    "Maintenance mode is enabled for this service, but no reason was provided. This is a default message."
)


def unknown_check_reason(check_id: str) -> str:
    return f'Unknown check ID "{check_id}". Ensure that the check ID is passed, not the check name.'


def unknown_service_reason(service_id: str) -> str:
    return f'Unknown service ID "{service_id}". Ensure that the service ID is passed, not the service name.'


def catalog_checks(client, node: str = NODE_NAME) -> dict[str, dict]:
    """The catalog's view of a node's checks, by CheckID."""
    return {check["CheckID"]: check for check in client.health.node(node)[1]}


def wait_for_check(read_checks, check_id: str, predicate, what: str) -> dict:
    """Polls `read_checks()` (CheckID -> check) until `check_id` is there and `predicate(check)` holds."""

    def reached():
        check = read_checks().get(check_id)
        return check if check is not None and predicate(check) else None

    return wait_until(reached, SYNC_TIMEOUT_S, message=f"check {check_id!r} {what}")


def wait_for_status(read_checks, check_id: str, status: str) -> dict:
    return wait_for_check(read_checks, check_id, lambda check: check["Status"] == status, f"to be {status}")


def wait_for_first_run(read_checks, check_id: str) -> dict:
    """A check's output stays empty until it has run once."""
    return wait_for_check(read_checks, check_id, lambda check: check["Output"] != "", "to run")


def wait_until_gone(read_checks, check_id: str) -> None:
    wait_until(lambda: check_id not in read_checks(), SYNC_TIMEOUT_S, message=f"check {check_id!r} to go")


def in_catalog(client, check_id: str, status: str) -> dict:
    return wait_for_status(lambda: catalog_checks(client), check_id, status)


@pytest.fixture
def services(client):
    """`services(name, service_id, **kwargs)` registers with the shared agent; all are deregistered at teardown."""
    registered = []

    def register(name: str, service_id: str, **kwargs) -> str:
        registered.append(service_id)
        assert client.agent.service.register(name, service_id=service_id, **kwargs) is True
        return service_id

    yield register
    for service_id in registered:
        client.agent.service.deregister(service_id)


@pytest.fixture
def checks(client):
    """`checks(name, check, check_id, **kwargs)` registers a check with the shared agent; removed at teardown."""
    registered = []

    def register(name: str, check: dict, check_id: str, **kwargs) -> str:
        registered.append(check_id)
        assert client.agent.check.register(name, check=check, check_id=check_id, **kwargs) is True
        return check_id

    yield register
    for check_id in registered:
        client.agent.check.deregister(check_id)


@pytest.fixture
def http(senate):
    """Raw HTTP against the shared server, for status codes and bodies py-consul hides."""

    def call(method: str, path: str, **kwargs) -> requests.Response:
        return requests.request(method, senate.url(path), timeout=10, **kwargs)

    return call


class StatusHandler(BaseHTTPRequestHandler):
    """Answers `GET /status/<code>` with that status code and the body `answer <code>`."""

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        code = int(self.path.rsplit("/", 1)[-1])
        body = f"answer {code}".encode()
        self.send_response(code)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args) -> None:  # noqa: A002 (signature of the overridden method)
        """Keeps the test output quiet."""


@pytest.fixture(scope="module")
def http_target() -> str:
    """Base URL of a small HTTP server (in a thread) that answers with whatever status the path names."""
    server = ThreadingHTTPServer((HOST, 0), StatusHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://{HOST}:{server.server_port}"
    server.shutdown()
    server.server_close()
    thread.join()


@pytest.fixture
def listening_port() -> int:
    """A loopback port with a listening socket behind it."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind((HOST, 0))
        listener.listen(16)
        yield listener.getsockname()[1]


# --- services ---------------------------------------------------------------------------------------------------


def test_registered_service_is_listed_by_the_agent(client, services, unique):
    name = unique("web")
    sid = services(name, f"{name}-1", address="10.1.2.3", port=8080, tags=["v1", "blue"], meta={"team": "core"})

    listed = client.agent.services()

    service = listed[sid]
    assert service["ID"] == sid
    assert service["Service"] == name
    assert service["Tags"] == ["v1", "blue"]
    assert service["Meta"] == {"team": "core"}
    assert service["Port"] == 8080
    assert service["Address"] == "10.1.2.3"
    assert service["Weights"] == DEFAULT_WEIGHTS
    assert service["EnableTagOverride"] is False
    assert "consul" not in listed
    assert client.agent.service_definition(sid)["Service"] == name
    assert client.agent.service_definition(unique("ghost")) is None


def test_registered_service_syncs_to_the_catalog(client, services, unique):
    name = unique("web")
    sid = services(name, f"{name}-1", address="10.1.2.3", port=8080, tags=["v1"], meta={"team": "core"})

    (instance,) = wait_until(lambda: client.catalog.service(name)[1], SYNC_TIMEOUT_S, message="catalog sync")

    assert instance["Node"] == NODE_NAME
    assert instance["Address"] == HOST
    assert instance["ServiceID"] == sid
    assert instance["ServiceAddress"] == "10.1.2.3"
    assert instance["ServicePort"] == 8080
    assert instance["ServiceTags"] == ["v1"]
    assert instance["ServiceMeta"] == {"team": "core"}


def test_service_id_defaults_to_its_name(client, unique):
    name = unique("solo")
    try:
        assert client.agent.service.register(name) is True

        assert client.agent.services()[name]["ID"] == name
    finally:
        client.agent.service.deregister(name)


def test_deregistered_service_leaves_the_agent_and_the_catalog(client, services, unique):
    name = unique("web")
    sid = services(name, f"{name}-1", check=consul.Check.ttl("30s"))
    in_catalog(client, f"service:{sid}", "critical")

    assert client.agent.service.deregister(sid) is True

    assert sid not in client.agent.services()
    assert f"service:{sid}" not in client.agent.checks()
    wait_until(lambda: client.catalog.service(name)[1] == [], SYNC_TIMEOUT_S, message="service to leave catalog")
    assert client.health.checks(name)[1] == []


# --- TTL checks -------------------------------------------------------------------------------------------------


def test_service_ttl_check_starts_critical(client, services, unique):
    name = unique("web")
    sid = services(name, f"{name}-1", tags=["v1"], check=consul.Check.ttl("30s"))

    check = client.agent.checks()[f"service:{sid}"]

    assert check["Node"] == NODE_NAME
    assert check["CheckID"] == f"service:{sid}"
    assert check["Name"] == f"Service '{name}' check"
    assert check["Status"] == "critical"
    assert check["Output"] == ""
    assert check["Notes"] == ""
    assert check["ServiceID"] == sid
    assert check["ServiceName"] == name
    assert check["ServiceTags"] == ["v1"]
    assert check["Type"] == "ttl"
    synced = in_catalog(client, f"service:{sid}", "critical")
    assert synced["ServiceName"] == name


@pytest.mark.parametrize(
    ("update", "status", "note"),
    [("ttl_pass", "passing", "all good"), ("ttl_warn", "warning", "slow disk"), ("ttl_fail", "critical", "down")],
)
def test_ttl_update_sets_status_and_output_everywhere(client, services, unique, update, status, note):
    name = unique("web")
    sid = services(name, f"{name}-1", check=consul.Check.ttl("30s"))
    cid = f"service:{sid}"
    if status == "critical":  # Move off the initial critical first, so the failure is a real change.
        client.agent.check.ttl_pass(cid)
        in_catalog(client, cid, "passing")

    assert getattr(client.agent.check, update)(cid, notes=note) is True

    local = client.agent.checks()[cid]
    assert (local["Status"], local["Output"]) == (status, note)
    synced = wait_for_check(
        lambda: {c["CheckID"]: c for c in client.health.checks(name)[1]},
        cid,
        lambda c: (c["Status"], c["Output"]) == (status, note),
        f"to sync as {status}",
    )
    assert synced["Node"] == NODE_NAME
    assert (cid, NODE_NAME) in {(c["CheckID"], c["Node"]) for c in client.health.state(status)[1]}
    passing_instances = client.health.service(name, passing=True)[1]
    assert [e["Service"]["ID"] for e in passing_instances] == ([sid] if status == "passing" else [])


def test_ttl_lapses_to_critical_keeping_the_last_output(client, services, unique):
    name = unique("web")
    sid = services(name, f"{name}-1", check=consul.Check.ttl(f"{TTL_S:g}s"))
    cid = f"service:{sid}"

    client.agent.check.ttl_pass(cid, notes="alive")
    passed_at = time.monotonic()
    assert client.agent.checks()[cid]["Status"] == "passing"
    lapsed = wait_for_status(client.agent.checks, cid, "critical")

    assert time.monotonic() - passed_at >= TTL_S * 0.8
    assert lapsed["Output"] == "TTL expired (last output before timeout follows): alive"
    in_catalog(client, cid, "critical")


def test_a_service_with_two_checks_numbers_their_ids(client, services, unique):
    name = unique("web")
    sid = services(name, f"{name}-1", check=consul.Check.ttl("30s"), extra_checks=[consul.Check.ttl("30s")])

    local = client.agent.checks()

    assert {f"service:{sid}:1", f"service:{sid}:2"} <= set(local)
    assert f"service:{sid}" not in local
    assert local[f"service:{sid}:2"]["ServiceID"] == sid


# --- agent check register / deregister ---------------------------------------------------------------------------


def test_node_check_register_update_and_deregister(client, checks, unique):
    cid = checks("Disk space", consul.Check.ttl("30s"), unique("disk"), notes="df -h")

    local = client.agent.checks()[cid]
    assert local["Name"] == "Disk space"
    assert local["Notes"] == "df -h"
    assert local["Status"] == "critical"
    assert local["ServiceID"] == ""
    assert local["ServiceName"] == ""
    assert local["Type"] == "ttl"
    in_catalog(client, cid, "critical")

    client.agent.check.ttl_pass(cid, notes="plenty")
    assert in_catalog(client, cid, "passing")["Output"] == "plenty"

    assert client.agent.check.deregister(cid) is True
    assert cid not in client.agent.checks()
    wait_until_gone(lambda: catalog_checks(client), cid)


def test_check_id_defaults_to_its_name(client, unique):
    name = unique("memory")
    try:
        assert client.agent.check.register(name, check=consul.Check.ttl("30s")) is True

        assert client.agent.checks()[name]["Name"] == name
    finally:
        client.agent.check.deregister(name)


def test_check_attached_to_a_service(client, services, checks, unique):
    name = unique("web")
    sid = services(name, f"{name}-1", tags=["v1"])

    cid = checks("extra", consul.Check.ttl("30s"), unique("extra"), service_id=sid)

    local = client.agent.checks()[cid]
    assert local["ServiceID"] == sid
    assert local["ServiceName"] == name
    assert local["ServiceTags"] == ["v1"]
    wait_until(
        lambda: cid in {c["CheckID"] for c in client.health.checks(name)[1]},
        SYNC_TIMEOUT_S,
        message="service check to reach the catalog",
    )


def test_check_for_an_unknown_service_is_404(client, http, unique):
    cid, ghost = unique("extra"), unique("ghost")

    # py-consul's boolean callback lets 404 through and answers False.
    assert client.agent.check.register("extra", check=consul.Check.ttl("30s"), check_id=cid, service_id=ghost) is False

    assert cid not in client.agent.checks()
    response = http("PUT", "/v1/agent/check/register", json={"Name": "extra", "TTL": "30s", "ServiceID": ghost})
    assert response.status_code == 404
    assert response.text.rstrip() == f'ServiceID "{ghost}" does not exist'


# --- script, HTTP and TCP checks ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("exit_code", "status"), [(0, "passing"), (1, "warning"), (2, "critical")])
def test_script_check_status_follows_its_exit_code(script_senate, unique, exit_code, status):
    client = script_senate.client()
    script = consul.Check.script(["sh", "-c", f"echo out-{exit_code}; exit {exit_code}"], "1s")

    cid = unique(f"script-{exit_code}")
    assert client.agent.check.register("script", check=script, check_id=cid) is True

    ran = wait_for_first_run(client.agent.checks, cid)
    assert (ran["Status"], ran["Output"]) == (status, f"out-{exit_code}\n")
    assert ran["Type"] == "script"
    in_catalog(client, cid, status)


def test_script_check_is_refused_without_enable_script_checks(client, unique):
    cid = unique("script")

    with pytest.raises(consul.ConsulException) as raised:
        client.agent.check.register("script", check=consul.Check.script(["true"], "1s"), check_id=cid)

    assert str(raised.value).rstrip() == (
        # Consul answers 500; Senate gives the 4xx its issues ask for bad input, with Consul's text.
        "400 Scripts are disabled on this agent from remote calls; to enable, configure 'enable_script_checks' to true"
    )
    assert cid not in client.agent.checks()


@pytest.mark.parametrize(
    ("code", "status", "status_line"),
    [
        (200, "passing", "200 OK"),
        (429, "warning", "429 Too Many Requests"),
        (500, "critical", "500 Internal Server Error"),
    ],
)
def test_http_check_status_follows_the_response_code(client, checks, http_target, unique, code, status, status_line):
    url = f"{http_target}/status/{code}"

    cid = checks("http", consul.Check.http(url, "1s"), unique(f"http-{code}"))

    ran = wait_for_first_run(client.agent.checks, cid)
    assert (ran["Status"], ran["Output"]) == (status, f"HTTP GET {url}: {status_line} Output: answer {code}")
    assert ran["Type"] == "http"
    in_catalog(client, cid, status)


def test_tcp_check_on_an_open_port_passes(client, checks, listening_port, unique):
    cid = checks("tcp", consul.Check.tcp(HOST, listening_port, "1s"), unique("tcp-open"))

    ran = wait_for_first_run(client.agent.checks, cid)

    assert (ran["Status"], ran["Output"]) == ("passing", f"TCP connect {HOST}:{listening_port}: Success")
    assert ran["Type"] == "tcp"
    in_catalog(client, cid, "passing")


def test_tcp_check_on_a_closed_port_is_critical(client, checks, unique):
    (closed,) = free_ports(1)

    cid = checks("tcp", consul.Check.tcp(HOST, closed, "1s"), unique("tcp-closed"))

    ran = wait_for_first_run(client.agent.checks, cid)
    assert ran["Status"] == "critical"
    assert "connection refused" in ran["Output"]


# --- maintenance -------------------------------------------------------------------------------------------------


def test_node_maintenance_adds_and_removes_a_critical_check(start_senate, unique):
    client = start_senate().client()
    name = unique("web")
    assert client.agent.service.register(name) is True
    wait_until(lambda: client.health.service(name, passing=True)[1], SYNC_TIMEOUT_S, message="service to pass")

    assert client.agent.maintenance(True, reason="kernel upgrade") is True

    check = client.agent.checks()[NODE_MAINT_ID]
    assert check["Name"] == "Node Maintenance Mode"
    assert check["Notes"] == "kernel upgrade"
    assert check["Status"] == "critical"
    assert check["ServiceID"] == ""
    in_catalog(client, NODE_MAINT_ID, "critical")
    assert client.health.service(name, passing=True)[1] == []
    assert len(client.health.service(name)[1]) == 1

    assert client.agent.maintenance(False) is True

    assert NODE_MAINT_ID not in client.agent.checks()
    wait_until_gone(lambda: catalog_checks(client), NODE_MAINT_ID)
    assert len(client.health.service(name, passing=True)[1]) == 1


def test_node_maintenance_without_a_reason_uses_the_default_note(start_senate):
    client = start_senate().client()

    client.agent.maintenance(True)

    assert client.agent.checks()[NODE_MAINT_ID]["Notes"] == DEFAULT_NODE_REASON


@pytest.mark.parametrize(("on", "off"), [("1", "0"), ("TRUE", "FALSE"), ("t", "f")])
def test_maintenance_enable_accepts_every_go_boolean_spelling(start_senate, on, off):
    server = start_senate()
    client = server.client()

    assert requests.put(server.url(f"/v1/agent/maintenance?enable={on}"), timeout=10).status_code == 200
    assert NODE_MAINT_ID in client.agent.checks()
    assert requests.put(server.url(f"/v1/agent/maintenance?enable={off}"), timeout=10).status_code == 200
    assert NODE_MAINT_ID not in client.agent.checks()


def test_service_maintenance_adds_and_removes_a_critical_check(client, services, unique):
    name = unique("web")
    sid = services(name, f"{name}-1", tags=["v1"])
    maint_id = f"_service_maintenance:{sid}"
    wait_until(lambda: client.health.service(name, passing=True)[1], SYNC_TIMEOUT_S, message="service to pass")

    assert client.agent.service.maintenance(sid, True) is True

    check = client.agent.checks()[maint_id]
    assert check["Name"] == "Service Maintenance Mode"
    assert check["Notes"] == DEFAULT_SERVICE_REASON
    assert check["Status"] == "critical"
    assert check["ServiceID"] == sid
    assert check["ServiceName"] == name
    in_catalog(client, maint_id, "critical")
    assert client.health.service(name, passing=True)[1] == []

    assert client.agent.service.maintenance(sid, False) is True

    assert maint_id not in client.agent.checks()
    wait_until_gone(lambda: catalog_checks(client), maint_id)
    assert [e["Service"]["ID"] for e in client.health.service(name, passing=True)[1]] == [sid]


def test_service_maintenance_keeps_the_given_reason(client, services, unique):
    sid = services(unique("web"), unique("web-1"))

    client.agent.service.maintenance(sid, True, reason="deploying v2")

    assert client.agent.checks()[f"_service_maintenance:{sid}"]["Notes"] == "deploying v2"


def test_service_maintenance_of_an_unknown_service_is_404(client, http, unique):
    ghost = unique("ghost")

    assert client.agent.service.maintenance(ghost, True) is False

    response = http("PUT", f"/v1/agent/service/maintenance/{ghost}?enable=true")
    assert response.status_code == 404
    assert response.text.rstrip() == unknown_service_reason(ghost)


@pytest.mark.parametrize(
    ("query", "reason"), [("", "Missing value for enable"), ("?enable=maybe", 'Invalid value for enable: "maybe"')]
)
def test_maintenance_needs_a_boolean_enable(http, query, reason):
    response = http("PUT", f"/v1/agent/maintenance{query}")

    assert response.status_code == 400
    assert response.text.rstrip() == reason


# --- blocking queries and sessions tied to agent checks ----------------------------------------------------------


def test_health_blocking_query_is_released_by_a_ttl_pass(senate, client, services, unique):
    name = unique("web")
    sid = services(name, f"{name}-1", check=consul.Check.ttl("30s"))
    cid = f"service:{sid}"
    in_catalog(client, cid, "critical")
    index, _ = client.health.service(name)
    watcher = senate.client()
    writer = threading.Timer(WRITE_DELAY_S, lambda: senate.client().agent.check.ttl_pass(cid))

    start = time.monotonic()
    writer.start()
    status = "critical"
    while status != "passing" and time.monotonic() - start < 5:
        index, (entry,) = watcher.health.service(name, index=index, wait="10s")
        status = {c["CheckID"]: c["Status"] for c in entry["Checks"]}[cid]
    elapsed = time.monotonic() - start
    writer.join()

    assert status == "passing"
    assert WRITE_DELAY_S * 0.5 <= elapsed < 5


def test_session_cannot_be_created_on_a_critical_check(client, services, unique):
    sid = services(unique("web"), unique("web-1"), check=consul.Check.ttl("30s"))
    cid = f"service:{sid}"
    in_catalog(client, cid, "critical")

    with pytest.raises(consul.ConsulException) as raised:
        client.session.create(checks=["serfHealth", cid])

    # Consul answers 500; Senate answers bad input with a 4xx, keeping Consul's text.
    assert str(raised.value).rstrip() == f"400 Check '{cid}' is in critical state"


def test_failing_ttl_check_invalidates_its_session(client, services, prefix, unique):
    sid = services(unique("web"), unique("web-1"), check=consul.Check.ttl("30s"))
    cid = f"service:{sid}"
    client.agent.check.ttl_pass(cid)
    in_catalog(client, cid, "passing")
    session_id = client.session.create(checks=["serfHealth", cid], lock_delay=0)
    key = f"{prefix}/leader"
    assert client.kv.put(key, "me", acquire=session_id) is True

    client.agent.check.ttl_warn(cid)
    in_catalog(client, cid, "warning")
    assert client.session.info(session_id)[1] is not None

    client.agent.check.ttl_fail(cid)

    wait_until(lambda: client.session.info(session_id)[1] is None, SYNC_TIMEOUT_S, message="session invalidation")
    _, entry = client.kv.get(key)
    assert entry["Value"] == b"me"
    assert entry.get("Session") in (None, "")


# --- durability ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("crash", [False, True], ids=["sigterm", "sigkill"])
def test_agent_registrations_survive_a_restart(durable_senate, unique, crash):
    client = durable_senate.client()
    name, gone = unique("web"), unique("gone")
    sid = f"{name}-1"
    cid = f"service:{sid}"
    ttl = consul.Check.ttl("60s")
    assert client.agent.service.register(name, service_id=sid, port=8080, tags=["v1"], check=ttl) is True
    assert client.agent.check.register("disk", check=ttl, check_id=unique("disk")) is True
    assert client.agent.service.register(gone) is True
    assert client.agent.service.deregister(gone) is True
    client.agent.check.ttl_pass(cid, notes="before restart")
    in_catalog(client, cid, "passing")

    durable_senate.restart(kill=crash)
    client = durable_senate.client()

    listed = client.agent.services()
    assert set(listed) == {sid}
    assert (listed[sid]["Service"], listed[sid]["Port"], listed[sid]["Tags"]) == (name, 8080, ["v1"])
    local = client.agent.checks()
    assert set(local) == {cid, unique("disk")}
    assert (local[cid]["Status"], local[cid]["Output"]) == ("passing", "before restart")
    in_catalog(client, cid, "passing")
    assert client.agent.check.ttl_warn(cid, notes="after restart") is True
    in_catalog(client, cid, "warning")


# --- bad input -------------------------------------------------------------------------------------------------------


def test_service_without_a_name_is_rejected(client):
    before = client.agent.services()

    with pytest.raises(BadRequest) as raised:
        client.agent.service.register("")

    assert str(raised.value).rstrip() == "400 Missing service name"
    assert client.agent.services() == before


def test_check_without_a_name_is_rejected(client, unique):
    cid = unique("nameless")

    with pytest.raises(BadRequest) as raised:
        client.agent.check.register("", check=consul.Check.ttl("10s"), check_id=cid)

    assert str(raised.value).rstrip() == "400 Missing check name"
    assert cid not in client.agent.checks()


def test_check_without_a_type_is_rejected(http):
    response = http("PUT", "/v1/agent/check/register", json={"Name": "typeless"})

    assert response.status_code == 400
    # Consul's current text ("TTL must be > 0 for TTL checks") hides the real problem; Senate names it.
    assert response.text.rstrip() == "Invalid check: Must provide TTL or Script/Args/HTTP/TCP and Interval"


@pytest.mark.parametrize("update", ["ttl_pass", "ttl_warn", "ttl_fail"])
def test_ttl_update_of_an_unknown_check_is_404(client, http, unique, update):
    ghost = unique("ghost")

    # py-consul's boolean callback lets 404 through and answers False.
    assert getattr(client.agent.check, update)(ghost) is False

    endpoint = update.removeprefix("ttl_")
    response = http("PUT", f"/v1/agent/check/{endpoint}/{ghost}")
    assert response.status_code == 404
    assert response.text.rstrip() == unknown_check_reason(ghost)


def test_ttl_update_of_a_non_ttl_check_is_an_error(client, checks, unique):
    (closed,) = free_ports(1)
    cid = checks("tcp", consul.Check.tcp(HOST, closed, "30s"), unique("tcp"))

    with pytest.raises(consul.ConsulException) as raised:
        client.agent.check.ttl_pass(cid)

    # Consul answers 500; Senate answers bad input with a 4xx, keeping Consul's text.
    assert str(raised.value).rstrip() == f'400 CheckID "{cid}" does not have associated TTL'


def test_deregister_unknown_service_or_check_is_404(client, http, unique):
    ghost = unique("ghost")

    assert client.agent.service.deregister(ghost) is False
    assert client.agent.check.deregister(ghost) is False

    service_response = http("PUT", f"/v1/agent/service/deregister/{ghost}")
    assert (service_response.status_code, service_response.text.rstrip()) == (404, unknown_service_reason(ghost))
    check_response = http("PUT", f"/v1/agent/check/deregister/{ghost}")
    assert (check_response.status_code, check_response.text.rstrip()) == (404, unknown_check_reason(ghost))
