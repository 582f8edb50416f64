"""Processes the tools start and wait for: a free loopback port, a server that answers."""

from __future__ import annotations

import time


def free_port() -> int:
    """A loopback port that nothing listens on right now."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until_up(url: str, *, seconds: float) -> bool:
    """Whether `url` answered within `seconds` (asked every 0.2 s)."""
    import urllib.request

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url, timeout=2)
            return True
        except OSError:
            time.sleep(0.2)
    return False
