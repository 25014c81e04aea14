"""KV store behaviour through py-consul (and raw HTTP where py-consul has no call), as Consul documents it."""

from __future__ import annotations

from urllib.parse import quote

import consul
import pytest
import requests

MAX_VALUE_BYTES = 512 * 1024  # Consul's default kv_max_value_size (raft's suggested max entry size).
MAX_FLAGS = 2**64 - 1


def modify_index(client, key: str) -> int:
    _, entry = client.kv.get(key)
    return entry["ModifyIndex"]


def test_put_get_str_roundtrip(client, prefix):
    key = f"{prefix}/greeting"
    assert client.kv.put(key, "hello") is True

    index, entry = client.kv.get(key)

    assert entry["Key"] == key
    assert entry["Value"] == b"hello"
    assert entry["Flags"] == 0
    assert entry["LockIndex"] == 0
    assert "Session" not in entry or entry["Session"] in (None, "")
    assert entry["CreateIndex"] == entry["ModifyIndex"] > 0
    assert int(index) >= entry["ModifyIndex"]


def test_put_get_binary_roundtrip(client, prefix):
    key = f"{prefix}/blob"
    value = bytes(range(256)) * 4  # every byte value, not valid UTF-8

    assert client.kv.put(key, value) is True

    _, entry = client.kv.get(key)
    assert entry["Value"] == value


def test_put_without_body_stores_empty_value(client, prefix):
    key = f"{prefix}/dir-marker"
    assert client.kv.put(key, None) is True

    _, entry = client.kv.get(key)
    assert entry["Key"] == key
    assert entry["Value"] in (None, b"")


def test_overwrite_keeps_create_index_and_advances_modify_index(client, prefix):
    key = f"{prefix}/counter"
    client.kv.put(key, "1")
    _, first = client.kv.get(key)

    client.kv.put(key, "2")
    _, second = client.kv.get(key)

    assert second["Value"] == b"2"
    assert second["CreateIndex"] == first["CreateIndex"]
    assert second["ModifyIndex"] > first["ModifyIndex"]


@pytest.mark.parametrize("flags", [0, 42, MAX_FLAGS])
def test_flags_roundtrip(client, prefix, flags):
    key = f"{prefix}/flagged"
    assert client.kv.put(key, "v", flags=flags) is True

    _, entry = client.kv.get(key)
    assert entry["Flags"] == flags


def test_flags_reset_to_zero_when_omitted(client, prefix):
    key = f"{prefix}/flagged"
    client.kv.put(key, "v", flags=7)
    client.kv.put(key, "w")

    _, entry = client.kv.get(key)
    assert entry["Flags"] == 0


def test_cas_zero_creates_only_when_absent(client, prefix):
    key = f"{prefix}/cas-create"

    assert client.kv.put(key, "first", cas=0) is True
    assert client.kv.put(key, "second", cas=0) is False

    _, entry = client.kv.get(key)
    assert entry["Value"] == b"first"


def test_cas_with_stale_index_fails_and_current_index_succeeds(client, prefix):
    key = f"{prefix}/cas-update"
    client.kv.put(key, "v1")
    stale = modify_index(client, key)
    client.kv.put(key, "v2")
    current = modify_index(client, key)

    assert client.kv.put(key, "from-stale", cas=stale) is False
    assert modify_index(client, key) == current

    assert client.kv.put(key, "from-current", cas=current) is True
    _, entry = client.kv.get(key)
    assert entry["Value"] == b"from-current"
    assert entry["ModifyIndex"] > current


def test_cas_nonzero_on_missing_key_fails(client, prefix):
    key = f"{prefix}/cas-missing"
    assert client.kv.put(key, "v", cas=12345) is False
    assert client.kv.get(key)[1] is None


def test_recurse_returns_every_key_under_prefix_sorted(client, prefix):
    keys = [f"{prefix}/dir/b", f"{prefix}/dir/a", f"{prefix}/dir/sub/c", f"{prefix}/dirt"]
    for number, key in enumerate(keys):
        client.kv.put(key, str(number))

    index, entries = client.kv.get(f"{prefix}/dir/", recurse=True)

    assert [entry["Key"] for entry in entries] == sorted(keys[:3])
    assert {entry["Key"]: entry["Value"] for entry in entries}[f"{prefix}/dir/sub/c"] == b"2"
    assert int(index) >= max(entry["ModifyIndex"] for entry in entries)


def test_recurse_prefix_is_a_plain_string_prefix(client, prefix):
    client.kv.put(f"{prefix}/dir/a", "1")
    client.kv.put(f"{prefix}/dirt", "2")

    _, entries = client.kv.get(f"{prefix}/dir", recurse=True)

    assert [entry["Key"] for entry in entries] == [f"{prefix}/dir/a", f"{prefix}/dirt"]


def test_recurse_on_missing_prefix_is_none(client, prefix):
    index, entries = client.kv.get(f"{prefix}/nothing-here/", recurse=True)
    assert entries is None
    assert int(index) > 0


def test_keys_listing_with_and_without_separator(client, prefix):
    root = f"{prefix}/tree/"
    for leaf in ["a", "b/c", "b/d", "e/", "e/f/g"]:
        client.kv.put(root + leaf, "x")

    _, shallow = client.kv.get(root, keys=True, separator="/")
    _, deep = client.kv.get(root, keys=True)

    assert shallow == [root + "a", root + "b/", root + "e/"]
    assert deep == [root + leaf for leaf in ["a", "b/c", "b/d", "e/", "e/f/g"]]


def test_keys_listing_of_missing_prefix_is_none(client, prefix):
    _, listing = client.kv.get(f"{prefix}/absent/", keys=True)
    assert listing is None


def test_delete_single_key(client, prefix):
    key = f"{prefix}/doomed"
    neighbour = f"{prefix}/doomed-not"
    client.kv.put(key, "x")
    client.kv.put(neighbour, "y")

    assert client.kv.delete(key) is True

    assert client.kv.get(key)[1] is None
    assert client.kv.get(neighbour)[1]["Value"] == b"y"


def test_delete_missing_key_is_true(client, prefix):
    assert client.kv.delete(f"{prefix}/never-existed") is True


def test_delete_recurse_removes_only_the_prefix(client, prefix):
    for key in ["tree/a", "tree/b/c", "tree/b/d", "treehouse"]:
        client.kv.put(f"{prefix}/{key}", "x")

    assert client.kv.delete(f"{prefix}/tree/", recurse=True) is True

    assert client.kv.get(f"{prefix}/tree/", recurse=True)[1] is None
    assert client.kv.get(f"{prefix}/treehouse")[1]["Value"] == b"x"


def test_delete_cas(client, prefix):
    key = f"{prefix}/cas-delete"
    client.kv.put(key, "v1")
    stale = modify_index(client, key)
    client.kv.put(key, "v2")
    current = modify_index(client, key)

    assert client.kv.delete(key, cas=stale) is False
    assert client.kv.get(key)[1]["Value"] == b"v2"

    assert client.kv.delete(key, cas=current) is True
    assert client.kv.get(key)[1] is None


def test_indexes_increase_monotonically(client, prefix):
    key = f"{prefix}/mono"
    seen = []
    for round_number in range(5):
        client.kv.put(key, str(round_number))
        index, entry = client.kv.get(key)
        seen.append((int(index), entry["ModifyIndex"]))

    header_indexes = [header for header, _ in seen]
    modify_indexes = [modify for _, modify in seen]
    assert header_indexes == sorted(set(header_indexes))
    assert modify_indexes == sorted(set(modify_indexes))


def test_index_advances_on_delete(client, prefix):
    key = f"{prefix}/tombstone"
    client.kv.put(key, "x")
    before, _ = client.kv.get(f"{prefix}/", recurse=True)

    client.kv.delete(key)

    after, _ = client.kv.get(f"{prefix}/", recurse=True)
    assert int(after) > int(before)


# Consul 1.21.5 briefly rejected such keys; 1.21.6+/1.22 allow any character again except path traversal and
# leading/trailing spaces (hashicorp/consul#22822, CVE-2025-11392 fix), so these are valid Consul keys.
ODD_KEYS = [
    "with space/inner key",
    "unicode/ключ/日本語/ümlaut",
    "deep/a/b/c/d/e/f",
    "punct/100%-done",
    "punct/q?x=1&y=2#frag",
    "punct/plus+star*colon:semi;",
]


@pytest.mark.parametrize("suffix", ODD_KEYS)
def test_odd_keys_are_percent_encoded_and_roundtrip(client, senate, prefix, suffix):
    key = f"{prefix}/{suffix}"
    value = f"value of {suffix}".encode()

    assert client.kv.put(key, value) is True

    _, entry = client.kv.get(key)
    assert entry["Key"] == key
    assert entry["Value"] == value
    _, listing = client.kv.get(f"{prefix}/", keys=True)
    assert listing == [key]
    raw = requests.get(senate.url("/v1/kv/" + quote(key, safe="/")), params={"raw": ""}, timeout=10)
    assert raw.status_code == 200
    assert raw.content == value


def test_raw_get_returns_the_bare_value(client, senate, prefix):
    key = f"{prefix}/raw"
    value = b'{"not": "wrapped"}\x00\xff'
    client.kv.put(key, value)

    response = requests.get(senate.url(f"/v1/kv/{key}?raw"), timeout=10)

    assert response.status_code == 200
    assert response.content == value


def test_missing_key_is_none_and_http_404(client, senate, prefix):
    key = f"{prefix}/missing"

    index, entry = client.kv.get(key)

    assert entry is None
    assert int(index) > 0
    assert requests.get(senate.url(f"/v1/kv/{key}"), timeout=10).status_code == 404
    assert requests.get(senate.url(f"/v1/kv/{key}?raw"), timeout=10).status_code == 404


def test_value_of_exactly_max_size_is_accepted(client, prefix):
    key = f"{prefix}/big"
    value = bytes([7]) * MAX_VALUE_BYTES

    assert client.kv.put(key, value) is True

    _, entry = client.kv.get(key)
    assert entry["Value"] == value


def test_value_over_max_size_is_rejected_and_not_written(client, prefix):
    # Consul: 413 "Request body(524289 bytes) too large, max size: 524288 bytes. See ..." (agent/kvs_endpoint.go).
    fresh_key = f"{prefix}/too-big"
    existing_key = f"{prefix}/kept"
    client.kv.put(existing_key, "small")
    before = modify_index(client, existing_key)
    oversized = b"x" * (MAX_VALUE_BYTES + 1)

    for key in (fresh_key, existing_key):
        with pytest.raises(consul.ConsulException) as raised:
            client.kv.put(key, oversized)
        assert str(raised.value).startswith("413")
        assert str(MAX_VALUE_BYTES) in str(raised.value)  # the message names the limit

    assert client.kv.get(fresh_key)[1] is None
    _, kept = client.kv.get(existing_key)
    assert kept["Value"] == b"small"
    assert kept["ModifyIndex"] == before


def test_fresh_store_lists_no_keys(start_senate):
    # Consul answers an empty key listing of the root with 200 [] (not 404), but a recurse of it with 404.
    fresh = start_senate().client()

    assert fresh.kv.get("", keys=True)[1] == []
    assert fresh.kv.get("", recurse=True)[1] is None
    fresh.kv.put("only", "one")
    assert fresh.kv.get("", keys=True)[1] == ["only"]
