"""tests/waiting.py: a poll returns as soon as its condition holds, and fails saying what never came."""

import time

import pytest

from tests.waiting import wait_until


def test_wait_until_returns_the_first_truthy_value_without_waiting_longer():
    calls = iter([0, None, "ready", "later"])
    started = time.monotonic()
    assert wait_until(lambda: next(calls), timeout=5, interval=0.01, what="readiness") == "ready"
    assert time.monotonic() - started < 1


def test_wait_until_fails_naming_what_never_happened_and_the_last_value():
    with pytest.raises(AssertionError, match=r"waited 0.2 s for the replica to catch up; last seen: 0"):
        wait_until(lambda: 0, timeout=0.2, interval=0.01, what="the replica to catch up")
