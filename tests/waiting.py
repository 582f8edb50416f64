"""Waiting in tests for something to happen: poll for it, never sleep a fixed time."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def wait_until(condition: Callable[[], T], *, timeout: float = 10.0, interval: float = 0.05, what: str) -> T:
    """Call `condition` until it returns something truthy, and return that; after `timeout`
    seconds, fail with an AssertionError saying what never happened (and the last value seen).
    `what` names the awaited event: "the write to reach the replica"."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"waited {timeout:g} s for {what}; last seen: {value!r}")
        time.sleep(interval)
