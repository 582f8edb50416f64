"""Each screen's first complete render in Chromium (Debian's, through Playwright) against a
`prosync serve` on the benchmark's database, and the server's memory after visiting them all."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from db.tools.processes import free_port, wait_until_up

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]  # fmt: skip
TABLE = '[data-testid="stDataFrame"]:visible'

# Who opens the screen, its title, its address, and what shows it is complete (its main table, or
# what the screen shows first where it has none).
SCREENS = (
    ("lead@example.com", "Onboarding", "", TABLE),
    ("lead@example.com", "Documents", "documents", TABLE),
    ("lead@example.com", "Upload", "upload", '[data-testid="stFileUploader"]:visible'),
    ("lead@example.com", "Review", "review", TABLE),
    ("lead@example.com", "Audit trail", "audit_trail", TABLE),
    ("lead@example.com", "Tags", "tags", '[data-testid="stMultiSelect"]:visible'),  # its first tab's form
    ("lead@example.com", "Access management", "access", TABLE),
    ("ops@example.com", "Ops", "ops", "text=Transaction ID wraparound"),  # the Overview tab's last check
    ("admin@example.com", "Users and sessions", "users", TABLE),
)


def available() -> str | None:
    """Why the browser part cannot run here, or None."""
    try:
        import playwright  # noqa: F401
    except ImportError:
        return "Playwright is not installed (`pip install -e .[test]`)"
    if not Path(CHROMIUM).exists():
        return f"{CHROMIUM} is missing (`apt-get install chromium`)"
    return None


# The benchmark's servers run no text indexer: its documents have their text already, and one
# reading the benchmark's own uploads would take CPU from what is being measured.
QUIET = {"PROSYNC_TEXT_INDEX_SECONDS": "0"}


def start_server(
    env: dict[str, str] | None = None, *, cwd: str | None = None
) -> tuple[str, subprocess.Popen]:
    """`prosync serve` on a free loopback port with this process's settings and `env` over them,
    started in `cwd`; its output goes to a temporary file, whose end is in the error if it does not
    come up."""
    port = free_port()
    log = tempfile.TemporaryFile()
    process = subprocess.Popen(
        [sys.executable, "-m", "db.tools.cli", "serve", "--port", str(port)],
        env={**os.environ, **(env or {})},
        cwd=cwd,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    if not wait_until_up(url + "/_stcore/health", seconds=120):
        process.kill()
        log.seek(0)
        raise RuntimeError("prosync serve did not come up: " + log.read().decode(errors="replace")[-2000:])
    return url, process


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


def _complete(page, title: str, marker: str) -> None:
    page.get_by_role("heading", name=title, exact=True).first.wait_for(timeout=60000)
    page.locator(marker).first.wait_for(state="visible", timeout=60000)
    page.wait_for_function("!document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=60000)


def measure(
    password: str, *, runs: int = 3, progress: Callable[[str], None] = lambda line: None
) -> tuple[dict[str, list[float]], float]:
    """Seconds from navigation to each screen's main table shown (the first visit warms the
    server's caches and is dropped), and the server's RSS in MB after every screen was visited."""
    from playwright.sync_api import sync_playwright

    url, process = start_server(QUIET)
    timings: dict[str, list[float]] = {}
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            pages = {}
            for who, title, path, marker in SCREENS:
                if who not in pages:
                    context = browser.new_context(viewport={"width": 1400, "height": 1000})
                    page = context.new_page()
                    page.goto(url + "/")
                    page.get_by_label("Email").fill(who)
                    page.get_by_label("Password").fill(password)
                    page.get_by_role("button", name="Sign in").click()
                    page.get_by_role("heading", name="Onboarding").wait_for(timeout=60000)
                    pages[who] = page
                page = pages[who]
                samples = []
                for attempt in range(runs + 1):
                    started = time.perf_counter()
                    page.goto(f"{url}/{path}")
                    _complete(page, title, marker)
                    if attempt:
                        samples.append(time.perf_counter() - started)
                timings[title] = samples
                progress(f"{title:<20} first render median {statistics.median(samples):.2f} s")
            browser.close()
        memory = rss_mb(process.pid)
    finally:
        process.terminate()
        process.wait(30)
    return timings, memory
