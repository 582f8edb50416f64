"""Database health for ops: health checks, tables, indexes, queries — all from the live catalogs.

Every function checks the ops (or admin) role, and runs under a short statement and lock timeout so
the screen stays usable while a migration holds a lock: a timeout becomes a clear OpsTimeout.
Works on PostgreSQL 15 to 18.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import pandas as pd
from sqlalchemy import Connection, text
from sqlalchemy.exc import DBAPIError

from db import access
from db.errors import ProSyncError

STATEMENT_TIMEOUT_MS = 5000
LOCK_TIMEOUT_MS = 2000
# The three indexes the seed names; the screen marks them.
NAMED_INDEXES = (
    "idx_documents_project_date",
    "idx_documents_ingest_checksum",
    "idx_project_access_user_role",
)
LONG_QUERY_SECONDS = 300
IDLE_IN_TRANSACTION_SECONDS = 60
MIN_BLOCKS_FOR_HIT_RATE = 10_000


class OpsTimeout(ProSyncError):
    """A statistics query took too long (a lock held by a migration, usually)."""


@dataclass(frozen=True)
class Check:
    name: str
    status: str  # ok, warning, critical
    value: str
    detail: str = ""


@contextmanager
def _guarded(conn: Connection) -> Iterator[Connection]:
    """Require ops, cap the statement and lock waits, and turn a timeout into a message."""
    access.require_ops(conn)
    conn.execute(text(f"set local statement_timeout = {STATEMENT_TIMEOUT_MS}"))
    conn.execute(text(f"set local lock_timeout = {LOCK_TIMEOUT_MS}"))
    try:
        yield conn
    except Exception as error:  # pandas wraps driver errors in its own DatabaseError
        if _sqlstate(error) in ("57014", "55P03"):  # query_canceled (statement timeout), lock_not_available
            raise OpsTimeout(
                "The statistics query gave up after a few seconds: something (a migration, a VACUUM "
                "FULL) holds a lock on a table it reads. Try again in a moment."
            ) from error
        raise


def _sqlstate(error: BaseException | None) -> str | None:
    """The SQLSTATE behind an error, looking through the exceptions that wrap it."""
    while error is not None:
        if isinstance(error, DBAPIError):
            return getattr(error.orig, "sqlstate", None)
        if getattr(error, "sqlstate", None):
            return error.sqlstate
        error = error.__cause__ or error.__context__
    return None


def _frame(conn: Connection, sql: str, **params) -> pd.DataFrame:
    return pd.read_sql(text(sql), conn, params=params)


def _status(value: float, warning: float, critical: float, *, higher_is_worse: bool = True) -> str:
    if higher_is_worse:
        return "critical" if value >= critical else "warning" if value >= warning else "ok"
    return "critical" if value <= critical else "warning" if value <= warning else "ok"


INDEX_SQL = """
with ix as (
    select i.indexrelid, i.indrelid, i.indkey::text as keys, i.indisunique, i.indisprimary,
           i.indisvalid, i.indpred is not null as partial, i.indexprs is not null as expressions,
           am.amname, c.relname as index_name, n.nspname as schema_name, t.relname as table_name,
           t.relkind as table_kind, c.relkind as index_kind,
           pg_get_indexdef(i.indexrelid) as definition
    from pg_index i
    join pg_class c on c.oid = i.indexrelid
    join pg_class t on t.oid = i.indrelid
    join pg_namespace n on n.oid = c.relnamespace
    join pg_am am on am.oid = c.relam
    where n.nspname not in ('pg_catalog', 'information_schema') and n.nspname !~ '^pg_toast'
)
select ix.schema_name, ix.table_name, ix.index_name, ix.definition, ix.amname as method,
       ix.indisunique as is_unique, ix.indisprimary as is_primary, ix.indisvalid as is_valid,
       ix.index_kind = 'I' as is_partitioned,
       pg_relation_size(ix.indexrelid) as size_bytes,
       coalesce(s.idx_scan, 0) as scans, coalesce(s.idx_tup_read, 0) as tuples_read,
       coalesce(s.idx_tup_fetch, 0) as tuples_fetched,
       exists (select 1 from pg_constraint k where k.conindid = ix.indexrelid) as backs_constraint,
       (select d.index_name from ix d
         where d.indrelid = ix.indrelid and d.indexrelid <> ix.indexrelid and d.amname = ix.amname
           and not ix.partial and not d.partial and not ix.expressions and not d.expressions
           and (d.keys = ix.keys or d.keys like ix.keys || ' %')
           and not (d.keys = ix.keys and d.indexrelid > ix.indexrelid)
           and not (ix.indisunique and not d.indisunique)
         order by d.index_name limit 1) as covered_by
from ix
left join pg_stat_user_indexes s on s.indexrelid = ix.indexrelid
order by ix.schema_name, ix.table_name, ix.index_name
"""


def index_stats(conn: Connection) -> pd.DataFrame:
    """Every index: size, scans, tuples; unused (with a DROP statement), covered by another, invalid."""
    with _guarded(conn):
        frame = _frame(conn, INDEX_SQL)
    frame["named_in_seed"] = frame.index_name.isin(NAMED_INDEXES)
    # Unused: never scanned, not enforcing a constraint, not a partitioned parent (its scans are
    # counted on the partitions' indexes).
    frame["unused"] = (frame.scans == 0) & ~frame.backs_constraint & ~frame.is_partitioned & ~frame.is_unique
    frame["drop_statement"] = [
        f'drop index concurrently "{s}"."{i}";' if unused else ""
        for s, i, unused in zip(frame.schema_name, frame.index_name, frame.unused, strict=True)
    ]
    return frame


TABLE_SQL = """
select n.nspname as schema_name, c.relname as table_name, c.relkind = 'p' as is_partitioned,
       (select p.relname from pg_inherits h join pg_class p on p.oid = h.inhparent
         where h.inhrelid = c.oid limit 1) as partition_of,
       greatest(c.reltuples, 0)::bigint as estimated_rows,
       pg_total_relation_size(c.oid) as total_bytes, pg_relation_size(c.oid) as table_bytes,
       pg_indexes_size(c.oid) as index_bytes,
       coalesce(pg_relation_size(c.reltoastrelid), 0) as toast_bytes,
       s.seq_scan, s.idx_scan, s.n_tup_ins as inserts, s.n_tup_upd as updates, s.n_tup_del as deletes,
       s.n_tup_hot_upd as hot_updates, s.n_live_tup as live_rows, s.n_dead_tup as dead_rows,
       s.last_vacuum, s.last_autovacuum, s.last_analyze, s.last_autoanalyze,
       array_to_string(c.reloptions, ', ') as reloptions
from pg_class c
join pg_namespace n on n.oid = c.relnamespace
left join pg_stat_user_tables s on s.relid = c.oid
where c.relkind in ('r', 'p') and n.nspname not in ('pg_catalog', 'information_schema')
  and n.nspname !~ '^pg_toast'
order by n.nspname, c.relname
"""


def table_stats(conn: Connection) -> pd.DataFrame:
    """Every table and partition: rows, sizes, scans, writes, dead rows, vacuum and analyze times, options."""
    with _guarded(conn):
        return _frame(conn, TABLE_SQL)


def rolled_up(tables: pd.DataFrame) -> pd.DataFrame:
    """Tables with each partitioned table's partitions summed into it (partitions left out)."""
    numeric = [
        *("estimated_rows", "total_bytes", "table_bytes", "index_bytes", "toast_bytes", "seq_scan"),
        *("idx_scan", "inserts", "updates", "deletes", "hot_updates", "live_rows", "dead_rows"),
    ]
    parts = tables[tables.partition_of.notna()]
    sums = parts.groupby(["schema_name", "partition_of"])[numeric].sum(min_count=1)
    top = tables[tables.partition_of.isna()].copy()
    for (schema, parent), values in sums.iterrows():
        mask = (top.schema_name == schema) & (top.table_name == parent)
        for column in numeric:
            top.loc[mask, column] = top.loc[mask, column].fillna(0) + values[column]
    top["partitions"] = [
        int((parts.schema_name.eq(s) & parts.partition_of.eq(t)).sum())
        for s, t in zip(top.schema_name, top.table_name, strict=True)
    ]
    return top.reset_index(drop=True)


@dataclass(frozen=True)
class QueryStats:
    available: bool
    message: str
    frame: pd.DataFrame


def top_queries(conn: Connection, *, order_by: str = "total_ms", limit: int = 50) -> QueryStats:
    """pg_stat_statements' top queries of this database, or why they cannot be shown."""
    if order_by not in ("total_ms", "mean_ms", "calls", "rows"):
        raise ValueError(f"unknown order {order_by}")
    with _guarded(conn):
        installed = conn.execute(
            text("select extversion from pg_extension where extname = 'pg_stat_statements'")
        ).scalar_one_or_none()
        loaded = "pg_stat_statements" in (
            conn.execute(text("select current_setting('shared_preload_libraries')")).scalar_one() or ""
        )
        if not loaded:
            return QueryStats(
                False,
                "pg_stat_statements is not loaded on this server: add it to shared_preload_libraries "
                "and restart PostgreSQL (the embedded server does this itself).",
                pd.DataFrame(),
            )
        if installed is None:
            return QueryStats(
                False,
                "pg_stat_statements is loaded but not installed in this database: run "
                "`create extension pg_stat_statements` as a superuser (prosync db upgrade tries).",
                pd.DataFrame(),
            )
        frame = _frame(
            conn,
            "select s.queryid::text as query_id, s.calls, s.total_exec_time as total_ms,"
            " s.mean_exec_time as mean_ms, s.max_exec_time as max_ms, s.rows,"
            " s.shared_blks_hit, s.shared_blks_read, r.rolname as role, s.query"
            " from pg_stat_statements s left join pg_roles r on r.oid = s.userid"
            " where s.dbid = (select oid from pg_database where datname = current_database())"
            f" order by {order_by} desc limit :limit",
            limit=limit,
        )
    return QueryStats(True, "", frame)


def reset_query_stats(conn: Connection) -> None:
    """Forget pg_stat_statements' figures (admins only)."""
    access.require_admin(conn)
    conn.execute(text("select pg_stat_statements_reset()"))


def _check_rows(conn: Connection, sql: str, **params) -> list:
    return conn.execute(text(sql), params).all()


def health_checks(conn: Connection) -> list[Check]:
    """The overview: each check with a status, its figure and what to look at."""
    from db import partitions

    checks: list[Check] = []
    with _guarded(conn):
        long_running = _check_rows(
            conn,
            "select pid, now() - query_start as running, left(query, 80) as query from pg_stat_activity"
            " where datname = current_database() and state = 'active' and pid <> pg_backend_pid()"
            " and backend_type = 'client backend' and now() - query_start > make_interval(secs => :s)"
            " order by running desc",
            s=LONG_QUERY_SECONDS,
        )
        checks.append(
            Check(
                "Long-running queries",
                "warning" if long_running else "ok",
                f"{len(long_running)} over {LONG_QUERY_SECONDS // 60} min",
                "; ".join(f"pid {r.pid}: {r.running} {r.query}" for r in long_running[:3]),
            )
        )
        idle = _check_rows(
            conn,
            "select pid, now() - state_change as idle from pg_stat_activity"
            " where datname = current_database() and state like 'idle in transaction%'"
            " and now() - state_change > make_interval(secs => :s)",
            s=IDLE_IN_TRANSACTION_SECONDS,
        )
        checks.append(
            Check(
                "Idle in transaction",
                "warning" if idle else "ok",
                f"{len(idle)} over {IDLE_IN_TRANSACTION_SECONDS} s",
                "; ".join(f"pid {r.pid} idle {r.idle}" for r in idle[:3]),
            )
        )
        used, allowed = conn.execute(
            text(
                "select (select count(*) from pg_stat_activity where backend_type = 'client backend'),"
                " current_setting('max_connections')::int"
            )
        ).one()
        ratio = used / allowed
        checks.append(Check("Connections", _status(ratio, 0.7, 0.9), f"{used} of {allowed} ({ratio:.0%})"))
        heap, heap_blocks, index, index_blocks = conn.execute(
            text(
                "select sum(heap_blks_hit)::float / nullif(sum(heap_blks_hit) + sum(heap_blks_read), 0),"
                " sum(heap_blks_hit) + sum(heap_blks_read),"
                " (select sum(idx_blks_hit)::float / nullif(sum(idx_blks_hit) + sum(idx_blks_read), 0)"
                "  from pg_statio_user_indexes),"
                " (select sum(idx_blks_hit) + sum(idx_blks_read) from pg_statio_user_indexes)"
                " from pg_statio_user_tables"
            )
        ).one()
        for label, rate, blocks in (
            ("Table cache hit rate", heap, heap_blocks),
            ("Index cache hit rate", index, index_blocks),
        ):
            if rate is None or blocks < MIN_BLOCKS_FOR_HIT_RATE:
                # A new database reads everything from disk once; judge only after real use.
                shown = (
                    "no reads yet"
                    if rate is None
                    else f"{rate:.2%} over {int(blocks):,} blocks: too few to judge"
                )
                checks.append(Check(label, "ok", shown))
            else:
                status = _status(rate, 0.99, 0.95, higher_is_worse=False)
                checks.append(Check(label, status, f"{rate:.2%}", "below 99%: shared_buffers may be small"))
        age = conn.execute(
            text("select age(datfrozenxid) from pg_database where datname = current_database()")
        )
        xid_age = age.scalar_one()
        share = xid_age / 2_147_483_647
        checks.append(
            Check(
                "Transaction ID wraparound",
                _status(share, 0.4, 0.75),
                f"{xid_age:,} ({share:.1%} of the way)",
                "autovacuum freezes old rows; a high share means it cannot keep up",
            )
        )
        sequences = _check_rows(
            conn,
            "select schemaname || '.' || sequencename as name, last_value::float / max_value as used"
            " from pg_sequences where last_value is not null and last_value::float / max_value > 0.5"
            " order by used desc",
        )
        worst = max((r.used for r in sequences), default=0.0)
        checks.append(
            Check(
                "Sequences near overflow",
                _status(worst, 0.5, 0.9),
                f"{len(sequences)} over half used" if sequences else "none over half used",
                "; ".join(f"{r.name} {r.used:.0%}" for r in sequences[:3]),
            )
        )
        invalid_indexes = _check_rows(
            conn,
            "select c.relname from pg_index i join pg_class c on c.oid = i.indexrelid where not i.indisvalid",
        )
        checks.append(
            Check(
                "Invalid indexes",
                "critical" if invalid_indexes else "ok",
                str(len(invalid_indexes)),
                ", ".join(r.relname for r in invalid_indexes[:5]) + (" (a failed CREATE INDEX CONCURRENTLY)"
                                                                      if invalid_indexes else ""),
            )
        )  # fmt: skip
        invalid_constraints = _check_rows(
            conn,
            "select conname from pg_constraint k join pg_namespace n on n.oid = k.connamespace"
            " where not k.convalidated and n.nspname not in ('pg_catalog', 'information_schema')",
        )
        checks.append(
            Check(
                "Constraints not validated",
                "warning" if invalid_constraints else "ok",
                str(len(invalid_constraints)),
                ", ".join(r.conname for r in invalid_constraints[:5]),
            )
        )
    indexes = index_stats(conn)
    duplicates = indexes[indexes.covered_by.notna()]
    checks.append(
        Check(
            "Duplicate indexes",
            "warning" if len(duplicates) else "ok",
            str(len(duplicates)),
            ", ".join(
                f"{i} (covered by {c})"
                for i, c in zip(duplicates.index_name, duplicates.covered_by, strict=True)
            )[:300],
        )
    )
    unused = indexes[indexes.unused]
    checks.append(
        Check(
            "Unused indexes",
            "warning" if len(unused) else "ok",
            f"{len(unused)} ({int(unused.size_bytes.sum()):,} bytes)",
            "never scanned since statistics were reset; see the Indexes tab for DROP statements",
        )
    )
    with _guarded(conn):
        stray = partitions.default_partition_rows(conn)
        missing = _missing_partitions(conn)
        never = _check_rows(
            conn,
            "select schemaname || '.' || relname as name from pg_stat_user_tables"
            " where last_vacuum is null and last_autovacuum is null and n_live_tup + n_dead_tup > 1000"
            " order by n_live_tup + n_dead_tup desc",
        )
    checks.append(
        Check(
            "Rows in DEFAULT partitions",
            "warning" if any(stray.values()) else "ok",
            ", ".join(f"{table}: {n:,}" for table, n in stray.items()),
            "rows outside every period partition: `prosync partitions maintain` moves them",
        )
    )
    checks.append(
        Check(
            "Upcoming partitions",
            "critical" if missing else "ok",
            f"{len(missing)} missing" if missing else "all made ahead",
            ", ".join(missing[:5]),
        )
    )
    checks.append(
        Check(
            "Tables autovacuum has not visited",
            "warning" if never else "ok",
            str(len(never)),
            ", ".join(r.name for r in never[:5]),
        )
    )
    return checks


def _missing_partitions(conn: Connection, ahead: int = 2) -> list[str]:
    """The next `ahead` periods of each partitioned table that have no partition yet."""
    rows = conn.execute(
        text(
            "select pp.parent_table, gs as starts"
            " from system.partition_policy pp,"
            " generate_series(system.period_start(pp.period, now()),"
            "   system.period_start(pp.period, now()) + system.period_step(pp.period) * :ahead,"
            "   system.period_step(pp.period)) gs"
            " where not exists (select 1 from system.partitions p where p.parent_table = pp.parent_table"
            "   and not p.is_default and p.range_from = gs)"
            " order by 1, 2"
        ),
        {"ahead": ahead},
    ).all()
    return [f"{r.parent_table} from {r.starts:%Y-%m-%d}" for r in rows]
