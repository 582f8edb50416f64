"""One engine per process, and the one way to write: `transaction(actor_id=...)`."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import lru_cache
from typing import TypeVar

import psycopg
from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import URL, make_url

from db.core import embedded
from db.core.settings import Settings, get_settings
from db.core.sql import domain_errors
from db.core.types import TokenGrant

log = logging.getLogger(__name__)
T = TypeVar("T")


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
    return make_engine(
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


# --- What a connection knows about its unit of work ---------------------------------------------
# The acting user, whether the command line is acting, and remembered answers live in the
# connection's `info` under these keys; only the functions below read or write them.
_ACTOR, _SYSTEM, _MEMO, _TOKEN = "prosync.actor_id", "prosync.system", "prosync.memo", "prosync.token"

# Remembered answers (`remembered`) are read from these tables: a statement that writes one of them
# forgets them all (see `_forget_unless_read`).
_MEMO_READS_FROM = ("project_access", "projects.projects", "users.users", "user_system_role", "access_role")


def set_actor(conn: Connection, actor_id: int | None) -> None:
    """Name the acting user for the rest of this transaction; triggers audit with it."""
    conn.execute(
        text("select set_config('prosync.actor_id', :actor, true)"),
        {"actor": "" if actor_id is None else str(int(actor_id))},
    )
    conn.info[_ACTOR] = actor_id
    conn.info.pop(_MEMO, None)  # remembered answers were for the previous actor


def current_actor(conn: Connection) -> int | None:
    """The user set on this connection's transaction by `set_actor`."""
    return conn.info.get(_ACTOR)


def set_token(conn: Connection, token: TokenGrant | None) -> None:
    """Name the API token the actor acts through for the rest of this transaction: the data-access
    checks narrow the actor to its projects and scopes, and so does the database
    (`prosync.token_id`: row-level security, the audit log's context)."""
    if token is not None and token.user_id != conn.info.get(_ACTOR):
        raise ValueError("a token acts only for its own user")
    conn.execute(
        text("select set_config('prosync.token_id', :token, true)"),
        {"token": "" if token is None else str(int(token.id))},
    )
    conn.info[_TOKEN] = token
    conn.info.pop(_MEMO, None)


def _set_actor_and_token(
    conn: Connection, actor_id: int | None, token: TokenGrant | None, *, read_only: bool = False
) -> None:
    """`set_actor`, `set_token` when a token acts, and the transaction made read-only when asked:
    one statement for all (round trips saved on every screen read and API request)."""
    if token is not None and token.user_id != actor_id:
        raise ValueError("a token acts only for its own user")
    settings = ["set_config('prosync.actor_id', :actor, true)"]
    if token is not None:
        settings.append("set_config('prosync.token_id', :token, true)")
    if read_only:  # the first statement of the transaction, so nothing has written before it
        settings.insert(0, "set_config('transaction_read_only', 'on', true)")
    conn.execute(
        text("select " + ", ".join(settings)),
        {
            "actor": "" if actor_id is None else str(int(actor_id)),
            "token": str(int(token.id)) if token else "",
        },
    )
    conn.info[_ACTOR], conn.info[_TOKEN] = actor_id, token
    conn.info.pop(_MEMO, None)


def current_token(conn: Connection) -> TokenGrant | None:
    """The API token set on this connection's transaction by `set_token`, if any."""
    return conn.info.get(_TOKEN)


def restore_actor(conn: Connection, actor_id: int | None) -> None:
    """Note `actor_id` as the acting user again without a statement: the database's setting went
    back with a savepoint's rollback (or will, with the caller's)."""
    conn.info[_ACTOR] = actor_id
    conn.info.pop(_MEMO, None)


def is_system(conn: Connection) -> bool:
    """True inside `system_transaction`: an operator at the command line, not a signed-in user."""
    return bool(conn.info.get(_SYSTEM))


def set_system(conn: Connection, system: bool) -> None:
    """Mark (or unmark) the rest of this unit of work as the command line's."""
    if system:
        conn.info[_SYSTEM] = True
    else:
        conn.info.pop(_SYSTEM, None)
    conn.info.pop(_MEMO, None)


@contextmanager
def as_system(conn: Connection) -> Iterator[Connection]:
    """The block reads as the command line (the owner's connection, across projects); the mark is
    put back as it was afterwards, since a connection's info outlives its checkout."""
    before = is_system(conn)
    try:
        set_system(conn, True)
        yield conn
    finally:
        set_system(conn, before)


@contextmanager
def acting_as(conn: Connection, user_id: int) -> Iterator[Connection]:
    """Act as `user_id` for the block (its permission checks, filters and audit), then as before:
    the database's transaction-local setting too, unless the block left the transaction failed (then
    the caller rolls back to its savepoint, which takes the setting back with it)."""
    previous, system = current_actor(conn), is_system(conn)
    try:
        set_system(conn, False)
        set_actor(conn, user_id)
        yield conn
    finally:
        if conn.in_transaction() and not transaction_failed(conn):
            set_actor(conn, previous)
        else:
            restore_actor(conn, previous)
        set_system(conn, system)


def transaction_failed(conn: Connection) -> bool:
    """Whether the transaction is aborted (only a rollback is accepted now)."""
    status = conn.connection.driver_connection.info.transaction_status
    return status == psycopg.pq.TransactionStatus.INERROR


def clear_unit(conn: Connection) -> None:
    """Forget everything noted about the unit of work that ended (a lost connection took it along)."""
    if not conn.invalidated:
        for key in (_ACTOR, _SYSTEM, _MEMO, _TOKEN):
            conn.info.pop(key, None)


def remembered(conn: Connection, key: tuple, ask: Callable[[], T]) -> T:
    """`ask()`'s answer, remembered on the connection until a statement writes a table it is read
    from (`_MEMO_READS_FROM`), the actor changes, or a transaction ends or a savepoint rolls back."""
    memo = conn.info.setdefault(_MEMO, {})
    if key not in memo:
        memo[key] = ask()
    return memo[key]


def remember(conn: Connection, key: tuple, value: object) -> None:
    """Note an answer found in bulk, as `remembered` would have noted it when asked one at a time."""
    conn.info.setdefault(_MEMO, {})[key] = value


def _forget(conn: Connection, *_args) -> None:
    if not conn.invalidated:
        conn.info.pop(_MEMO, None)


def _forget_unless_read(conn: Connection, _cursor, statement: str, *_args) -> None:
    if _MEMO not in conn.info or statement.lstrip()[:6].lower() == "select":
        return
    lowered = statement.lower()
    # A data-modifying statement names the table it writes (triggers never write these tables), and
    # a procedure call or DDL might write anything.
    if any(name in lowered for name in _MEMO_READS_FROM) or not lowered.lstrip().startswith(
        ("insert", "update", "delete", "savepoint", "release")
    ):
        _forget(conn)


def watch(engine: Engine) -> Engine:
    """Install the hooks that keep `remembered` answers true on this engine's connections."""
    event.listen(engine, "before_cursor_execute", _forget_unless_read)
    for end in ("begin", "commit", "rollback", "rollback_savepoint", "rollback_twophase"):
        event.listen(engine, end, _forget)
    return engine


def make_engine(url: str, **options) -> Engine:
    """A SQLAlchemy engine for a ProSync database (every engine the code makes comes from here)."""
    return watch(create_engine(url, **options))


@contextmanager
def transaction(
    *, actor_id: int | None, engine: Engine | None = None, token: TokenGrant | None = None
) -> Iterator[Connection]:
    """One unit of work: begin, set the actor (and the API token it acts through), commit on
    success, roll back on any error.

    Constraints checked at commit (deferred ones) raise the same domain errors as immediate ones.
    """
    with domain_errors(), (engine or get_engine()).begin() as conn:
        _set_actor_and_token(conn, actor_id, token)
        try:
            yield conn
        finally:
            clear_unit(conn)


@contextmanager
def system_transaction(*, engine: Engine | None = None) -> Iterator[Connection]:
    """A unit of work for the command line (migrations, demo, `prosync user create`).

    The audit actor is null, as for any write made outside the application; permission checks
    pass because whoever runs the command already holds the owner's credentials (the default
    engine), which row-level security does not limit.
    """
    with domain_errors(), (engine or get_owner_engine()).begin() as conn:
        set_actor(conn, None)
        set_system(conn, True)
        try:
            yield conn
        finally:
            clear_unit(conn)


@contextmanager
def read_only(
    *, actor_id: int | None, engine: Engine | None = None, token: TokenGrant | None = None
) -> Iterator[Connection]:
    """A read-only transaction for screens that only read (on the replica when there is one)."""
    with domain_errors(), (engine or get_read_engine()).connect() as conn:
        with conn.begin():
            _set_actor_and_token(conn, actor_id, token, read_only=True)
            try:
                yield conn
            finally:
                clear_unit(conn)
