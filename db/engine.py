"""One engine per process, and the one way to write: `transaction(actor_id=...)`."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache

from sqlalchemy import Connection, Engine, create_engine, text
from sqlalchemy.engine import URL, make_url

from db import embedded
from db._sql import domain_errors
from db.settings import Settings, get_settings

log = logging.getLogger(__name__)


def sqlalchemy_url(url: str) -> str:
    """Accept the plain libpq `postgresql://` form and choose the psycopg 3 driver."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres", "postgresql+psycopg"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    else:
        raise ValueError(f"DATABASE_URL must be a postgresql:// URL, not {parsed.drivername}://")
    return parsed.render_as_string(hide_password=False)


APP_ROLE = "prosync_app"  # made by migration 0013, with prosync_owner and prosync_readonly


def url_as(url: str, user: str) -> str:
    """`url` for another login, without the password (URL.set ignores a None password)."""
    parsed = make_url(url)
    return URL.create(
        parsed.drivername, username=user, host=parsed.host, port=parsed.port, database=parsed.database,
        query=parsed.query,
    ).render_as_string(hide_password=False)  # fmt: skip


def database_url(settings: Settings | None = None) -> str:
    """The owner's URL, for migrations and the command line: DATABASE_URL, or the embedded server's
    (starting it if needed)."""
    settings = settings or get_settings()
    if settings.database_url:
        return settings.database_url
    return embedded.ensure_server(settings.pgdata)


def app_database_url(settings: Settings | None = None) -> str:
    """The URL the running application connects with, as the least-privileged prosync_app role:
    DATABASE_APP_URL, or the owner's URL with the user changed to prosync_app and no password (the
    embedded server lets local connections in; elsewhere libpq's ~/.pgpass or PGPASSWORD may
    supply one)."""
    settings = settings or get_settings()
    if settings.database_app_url:
        return settings.database_app_url
    return url_as(database_url(settings), APP_ROLE)


@lru_cache(maxsize=4)
def _engine_for(url: str) -> Engine:
    return create_engine(
        sqlalchemy_url(url),
        pool_pre_ping=True,
        pool_size=5,
        max_overflow=10,
        # No server-side prepared statements: after five runs PostgreSQL may switch a prepared
        # statement to a generic plan, and the screens' optional filters (`:x is null or col = :x`)
        # need the plan made for the actual values (partition pruning, the right index).
        connect_args={"application_name": "prosync", "prepare_threshold": None},
    )


def get_engine(settings: Settings | None = None) -> Engine:
    """The application's engine: the configured database as prosync_app, whose rows the database's
    row-level security limits to the acting user's projects."""
    return _engine_for(app_database_url(settings))


def get_owner_engine(settings: Settings | None = None) -> Engine:
    """The owner's engine, for the command line (`system_transaction`), backups and benchmarks."""
    return _engine_for(database_url(settings))


def read_database_url(settings: Settings | None = None) -> str | None:
    """DATABASE_READ_URL as the read-only screens connect to it: as given when it names one of the
    two limited roles, else with the user changed to prosync_app and no password (so pointing it at
    a replica with the owner's login does not lift row-level security); None without a replica."""
    settings = settings or get_settings()
    if not settings.database_read_url:
        return None
    url = make_url(settings.database_read_url)
    if url.username in (APP_ROLE, "prosync_readonly"):
        return settings.database_read_url
    return url_as(settings.database_read_url, APP_ROLE)


def get_read_engine(settings: Settings | None = None) -> Engine:
    """The engine for read-only screens: DATABASE_READ_URL's replica when set, else the primary."""
    url = read_database_url(settings)
    return _engine_for(url) if url else get_engine(settings)


def set_actor(conn: Connection, actor_id: int | None) -> None:
    """Name the acting user for the rest of this transaction; triggers audit with it."""
    conn.execute(
        text("select set_config('prosync.actor_id', :actor, true)"),
        {"actor": "" if actor_id is None else str(int(actor_id))},
    )
    conn.info["actor_id"] = actor_id
    conn.info.pop("access_memo", None)  # db.access's remembered answers were for the previous actor


def current_actor(conn: Connection) -> int | None:
    """The user set on this connection's transaction by `set_actor`."""
    return conn.info.get("actor_id")


def is_system(conn: Connection) -> bool:
    """True inside `system_transaction`: an operator at the command line, not a signed-in user."""
    return bool(conn.info.get("system"))


def _forget(conn: Connection, *keys: str) -> None:
    """Drop per-unit-of-work notes from the pooled connection (a lost connection took them along)."""
    if not conn.invalidated:
        for key in keys:
            conn.info.pop(key, None)


@contextmanager
def transaction(*, actor_id: int | None, engine: Engine | None = None) -> Iterator[Connection]:
    """One unit of work: begin, set the actor, commit on success, roll back on any error.

    Constraints checked at commit (deferred ones) raise the same domain errors as immediate ones.
    """
    with domain_errors(), (engine or get_engine()).begin() as conn:
        set_actor(conn, actor_id)
        try:
            yield conn
        finally:
            _forget(conn, "actor_id")


@contextmanager
def system_transaction(*, engine: Engine | None = None) -> Iterator[Connection]:
    """A unit of work for the command line (migrations, demo, `prosync user create`).

    The audit actor is null, as for any write made outside the application; permission checks
    pass because whoever runs the command already holds the owner's credentials (the default
    engine), which row-level security does not limit.
    """
    with domain_errors(), (engine or get_owner_engine()).begin() as conn:
        set_actor(conn, None)
        conn.info["system"] = True
        try:
            yield conn
        finally:
            _forget(conn, "system", "actor_id")


@contextmanager
def read_only(*, actor_id: int | None, engine: Engine | None = None) -> Iterator[Connection]:
    """A read-only transaction for screens that only read (on the replica when there is one)."""
    with (engine or get_read_engine()).connect() as conn:
        with conn.begin():
            conn.execute(text("set transaction read only"))
            set_actor(conn, actor_id)
            try:
                yield conn
            finally:
                _forget(conn, "actor_id")
