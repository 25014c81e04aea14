"""Gathers the log tails of every Senate and Patroni process of a test, and fails with them attached."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import NoReturn

MAX_LINE_CHARS = 400


def shorten(text: str, lines: int) -> str:
    """The last `lines` lines of `text`, each cut to MAX_LINE_CHARS (Senate's Raft state dumps are long)."""
    return "\n".join(line[:MAX_LINE_CHARS] for line in text.splitlines()[-lines:])


class Logs:
    """Named sources of log text; `fail` and `wait_for` raise AssertionErrors that carry all their tails."""

    def __init__(self) -> None:
        self.sources: dict[str, Callable[[], str]] = {}

    def watch(self, name: str, tail: Callable[[], str]) -> None:
        self.sources[name] = tail

    def report(self) -> str:
        sections = []
        for name, tail in self.sources.items():
            try:
                text = tail()
            except Exception as error:  # a report must never hide the failure it explains
                text = f"<could not read: {error!r}>"
            sections.append(f"----- {name} -----\n{text}")
        return "\n".join(sections)

    def fail(self, message: str) -> NoReturn:
        raise AssertionError(f"{message}\n\n{self.report()}")

    def wait_for(self, predicate: Callable[[], object], timeout: float, what: str, interval: float = 0.5):
        """Poll `predicate` until it returns something truthy (returned), or fail after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            result = predicate()
            if result:
                return result
            if time.monotonic() >= deadline:
                self.fail(f"timed out after {timeout:.0f}s waiting for {what}")
            time.sleep(interval)
