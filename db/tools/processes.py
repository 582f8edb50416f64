"""Processes the tools start and wait for: a free loopback port, a server that answers."""

from __future__ import annotations

import time
from pathlib import Path


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


ROOT = Path(__file__).resolve().parents[2]


def api_argv(host: str, port: int, workers: int = 1) -> list[str]:
    """uvicorn for the API alone (dashboard/api/app.py's `standalone`, named, never imported here),
    in `workers` processes. X-Forwarded-For is believed only from PROSYNC_TRUSTED_PROXIES, by
    ProSync itself."""
    return [
        "uvicorn", "dashboard.api.app:standalone", "--app-dir", str(ROOT),
        "--host", host, "--port", str(port), "--no-proxy-headers", "--no-server-header",
        "--timeout-graceful-shutdown", "20", "--workers", str(max(1, workers)),
    ]  # fmt: skip
