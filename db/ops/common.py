"""What every ops read shares: the ops-role check, short statement and lock timeouts, and the
message a timeout becomes. Works on PostgreSQL 15 to 18."""

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import pandas as pd
from sqlalchemy import Connection, text
from sqlalchemy.exc import DBAPIError

from db.core.errors import ProSyncError
from db.domain import access

STATEMENT_TIMEOUT_MS = 5000
LOCK_TIMEOUT_MS = 2000


class OpsTimeout(ProSyncError):
    """A statistics query took too long (a lock held by a migration, usually)."""


@dataclass(frozen=True)
class Check:
    name: str
    status: str  # ok, warning, critical
    value: str
    detail: str = ""


@contextmanager
def guarded(conn: Connection) -> Iterator[Connection]:
    """Require ops, cap the statement and lock waits, and turn a timeout into a message."""
    access.require_ops(conn)
    conn.execute(text(f"set local statement_timeout = {STATEMENT_TIMEOUT_MS}"))
    conn.execute(text(f"set local lock_timeout = {LOCK_TIMEOUT_MS}"))
    # Statistics are read from a snapshot kept until the transaction ends: start from a fresh one.
    conn.execute(text("select pg_stat_clear_snapshot()"))
    try:
        yield conn
    except Exception as error:  # pandas wraps driver errors in its own DatabaseError
        if sqlstate(error) in ("57014", "55P03"):  # query_canceled (statement timeout), lock_not_available
            raise OpsTimeout(
                "The statistics query gave up after a few seconds: something (a migration, a VACUUM "
                "FULL) holds a lock on a table it reads. Try again in a moment."
            ) from error
        raise


def sqlstate(error: BaseException | None) -> str | None:
    """The SQLSTATE behind an error, looking through the exceptions that wrap it."""
    while error is not None:
        if isinstance(error, DBAPIError):
            return getattr(error.orig, "sqlstate", None)
        if getattr(error, "sqlstate", None):
            return error.sqlstate
        error = error.__cause__ or error.__context__
    return None


def query_frame(conn: Connection, sql: str, **params) -> pd.DataFrame:
    return pd.read_sql_query(text(sql), conn, params=params)


def status_of(value: float, warning: float, critical: float, *, higher_is_worse: bool = True) -> str:
    if higher_is_worse:
        return "critical" if value >= critical else "warning" if value >= warning else "ok"
    return "critical" if value <= critical else "warning" if value <= warning else "ok"
