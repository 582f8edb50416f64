"""A throwaway PostgreSQL cluster from another installation's binaries (Debian's PostgreSQL 15 in
`make test`), so the database tests also run on the oldest supported version."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

# As the embedded server is configured (db/core/embedded.py), minus what only PostgreSQL 18 knows.
CONF = """
listen_addresses = ''
shared_preload_libraries = 'pg_stat_statements'
pg_stat_statements.track = top
track_io_timing = on
track_functions = pl
max_connections = 100
"""


@contextmanager
def cluster(bindir: Path) -> Iterator[str]:
    """initdb, start on a Unix socket only, yield the URL of its `postgres` database, stop and remove.

    initdb refuses to run as root: as root the cluster belongs to the `postgres` system user."""
    user = "postgres" if os.geteuid() == 0 else None
    root = Path(tempfile.mkdtemp(prefix="prosync-pg-"))
    root.chmod(0o755)
    data, sockets = root / "data", root / "sockets"
    for path in (data, sockets):
        path.mkdir(mode=0o700)
        if user:
            shutil.chown(path, user, user)
    log = root / "log"
    log.touch()
    if user:
        shutil.chown(log, user, user)

    def run(*args: str) -> None:
        done = subprocess.run(args, user=user, capture_output=True, text=True, timeout=180)
        if done.returncode:
            raise RuntimeError(
                f"{' '.join(args)} failed:\n{done.stdout}{done.stderr}{log.read_text()[-2000:]}"
            )

    try:
        run(
            str(bindir / "initdb"),
            "-D",
            str(data),
            "-A",
            "trust",
            "-U",
            "postgres",
            "--no-sync",
            "-E",
            "UTF8",
        )
        with (data / "postgresql.conf").open("a") as fh:
            fh.write(CONF)
        run(str(bindir / "pg_ctl"), "-w", "-D", str(data), "-o", f"-k {sockets}", "-l", str(log), "start")
        try:
            yield f"postgresql://postgres@/postgres?host={sockets}"
        finally:
            run(str(bindir / "pg_ctl"), "-w", "-D", str(data), "-m", "fast", "stop")
    finally:
        shutil.rmtree(root, ignore_errors=True)
