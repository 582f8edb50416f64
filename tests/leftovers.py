"""`make leftovers`: the processes `make test` or `make bench` started and left running, if any.

Matches PostgreSQL servers whose data folder is in this checkout or in pytest's temporary folders,
PostgreSQL 15 clusters made by tests/other_server.py, and Streamlit or `prosync` processes started
from this checkout. Prints them and exits 1; prints nothing and exits 0 when there are none."""

from __future__ import annotations

import getpass
import os
import sys
import tempfile
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
TEMPORARY = Path(tempfile.gettempdir())


def ours(command: list[str]) -> bool:
    line = " ".join(command)
    if not command:
        return False
    marks = (
        str(ROOT / ".prosync"),  # the demo's and the benchmark's data folders (.prosync, .prosync-bench)
        str(TEMPORARY / f"pytest-of-{getpass.getuser()}"),
        str(TEMPORARY / "prosync-pg-"),
    )
    if "postgres" in Path(command[0]).name and any(mark in line for mark in marks):
        return True
    started_here = str(ROOT) in line or line.startswith(str(ROOT / ".venv"))
    return started_here and any(word in line for word in ("streamlit", "db.tools.cli", "bin/prosync"))


def leftovers() -> list[str]:
    found = []
    for process in psutil.process_iter(["pid", "cmdline"]):
        if process.info["pid"] == os.getpid():
            continue
        command = process.info["cmdline"] or []
        if ours(command):
            found.append(f"{process.info['pid']}: {' '.join(command)[:200]}")
    return found


def main() -> int:
    found = leftovers()
    for line in found:
        print(f"left running: {line}", file=sys.stderr)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
