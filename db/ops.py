"""Database health for ops: health checks, tables, indexes, queries — all from the live catalogs.

Every function checks the ops (or admin) role, and runs under a short statement and lock timeout so
the screen stays usable while a migration holds a lock: a timeout becomes a clear OpsTimeout.
Works on PostgreSQL 15 to 18.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pandas as pd
from sqlalchemy import Connection, TextClause, text
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
    # Statistics are read from a snapshot kept until the transaction ends: start from a fresh one.
    conn.execute(text("select pg_stat_clear_snapshot()"))
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
    return pd.read_sql_query(text(sql), conn, params=params)


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


# --- Explain: the screens' own queries, as ProSync runs them -------------------------------------


@dataclass(frozen=True)
class Sample:
    """What the explained screen queries run for: the busiest live project and its top member."""

    project_id: int
    project_name: str
    documents: int
    user_id: int
    login: str
    search: str  # a piece of one of its document names, for the name search


@dataclass(frozen=True)
class Statement:
    """One statement a screen query issued, with what EXPLAIN (ANALYZE, BUFFERS) found."""

    sql: str
    plan: str  # the plan tree as text
    execution_ms: float
    planning_ms: float
    rows: int
    indexes: tuple[str, ...]
    seq_scans: tuple[str, ...]
    partitions: dict[str, tuple[int, int]]  # partitioned table: (partitions read, partitions it has)
    shared_hit: int
    shared_read: int


@dataclass(frozen=True)
class Explained:
    screen: str
    query: str
    statements: tuple[Statement, ...]

    @property
    def main(self) -> Statement:
        """The statement that fetches what the screen shows: the last one (the ones before it check
        the user's roles and permissions)."""
        return self.statements[-1]


def _screen_queries():
    from db import audit, documents, projects, staging, tags

    month_ago = datetime.now(UTC) - timedelta(days=30)
    return (
        ("Onboarding", "project summary (onboarding_project_summary)",
         lambda c, s: projects.onboarding_summary(c)),
        ("Onboarding", "uploads per week, 26 weeks", lambda c, s: documents.uploads_per_week(c, weeks=26)),
        ("Onboarding", "project history, last 20 changes",
         lambda c, s: projects.project_history(c, project_id=s.project_id, limit=20)),
        ("Access", "members of a project", lambda c, s: access.list_members(c, project_id=s.project_id)),
        ("Access", "permission check (can_view)",
         lambda c, s: access.require_permission(c, project_id=s.project_id, permission="can_view")),
        ("Documents", "first page of a project's active documents (active_documents)",
         lambda c, s: documents.list_active_documents(c, project_id=s.project_id)),
        ("Documents", "name search in every visible project",
         lambda c, s: documents.list_active_documents(c, name_contains=s.search)),
        ("Audit trail", "a project's last 30 days, 100 rows (audit_trail_by_project)",
         lambda c, s: audit.audit_trail(c, project_id=s.project_id, since=month_ago, limit=100)),
        ("Review", "review queue, first page (pending_documents)", lambda c, s: staging.list_pending(c)),
        ("Review", "rejected files, first page (rejected_documents)", lambda c, s: staging.list_rejected(c)),
        ("Tags", "tag usage", lambda c, s: tags.tag_usage(c)),
    )  # fmt: skip


def explain_sample(conn: Connection, *, project_id: int | None = None) -> Sample | None:
    """The project the Explain tab runs the screens' queries for (the one with most documents unless
    named), and its highest-ranked active member; None when there is no such project.

    The busiest project comes from the planner's statistics (pg_stats' most common values of
    documents.project_id) rather than a count over every document, which takes seconds at scale."""
    with _guarded(conn):
        ranked = [] if project_id is not None else _busiest_projects(conn)
        # Past row-level security, for ops and admins only (the database checks): see
        # system.explain_sample in migration 0013. The page records each use (record_explain).
        row = conn.execute(
            text("select * from system.explain_sample(cast(:only as bigint), cast(:ranked as bigint[]))"),
            {"only": project_id, "ranked": ranked},
        ).one_or_none()
    if row is None:
        return None
    stem = (row.document_name or "report").rsplit(".", 1)[0]
    return Sample(row.project_id, row.project_name, row.documents, row.user_id, row.login, stem[:4])


def record_explain(conn: Connection, sample: Sample) -> None:
    """Write the Explain tab's look past membership into the sample project's audit trail: who ran
    the screens' queries as which member. A write: call it in a transaction, before explaining."""
    access.require_ops(conn)
    conn.execute(
        text("select audit.record_bypass('explain', :p, :u)"), {"p": sample.project_id, "u": sample.user_id}
    )


def _busiest_projects(conn: Connection) -> list[int]:
    """The projects holding the most documents, most first: the planner's most common values when
    the table was analyzed, else none."""
    common = conn.execute(
        text(
            "select most_common_vals::text::bigint[] from pg_stats where schemaname = 'documents'"
            " and tablename = 'documents' and attname = 'project_id' and inherited"
        )
    ).scalar_one_or_none()
    return common or []  # never analyzed: system.explain_sample counts the registry itself


def explain_screens(conn: Connection, sample: Sample) -> list[Explained]:
    """Run each screen's data-access function as the sample member would, capture the statements it
    sends, and EXPLAIN (ANALYZE, BUFFERS) each one. Read-only: all of it is rolled back."""
    results = []
    with _guarded(conn):
        partitions_of = _partition_counts(conn)
        for screen, label, function in _screen_queries():
            savepoint = conn.begin_nested()
            try:
                with _as_member(conn, sample.user_id):
                    explained = explain_call(conn, lambda c, f=function: f(c, sample), partitions_of)
            finally:
                savepoint.rollback()
            results.append(Explained(screen, label, explained))
    return results


def explain_call(
    conn: Connection, call: Callable[[Connection], object], partitions_of: dict | None = None
) -> tuple[Statement, ...]:
    """Run `call(conn)` (a data-access function, as the acting user), capture the SELECTs it sends,
    and EXPLAIN (ANALYZE, BUFFERS) each: the same statements run twice, so use it on reads only."""
    partitions_of = partitions_of if partitions_of is not None else _partition_counts(conn)
    totals = {parent: siblings for parent, siblings in partitions_of.values() if siblings}
    with _captured(conn) as statements:
        call(conn)
    return tuple(_explain(conn, sql, params, partitions_of, totals) for sql, params in statements)


@contextmanager
def _as_member(conn: Connection, user_id: int) -> Iterator[None]:
    """Act as `user_id` for the rest of the block (the screen's permission checks and filters)."""
    from db.engine import current_actor, set_actor

    previous, system = current_actor(conn), conn.info.pop("system", None)
    set_actor(conn, user_id)
    try:
        yield
    finally:
        # The database side (the transaction-local setting) goes back with the caller's savepoint.
        conn.info["actor_id"] = previous
        if system:
            conn.info["system"] = system


@contextmanager
def _captured(conn: Connection) -> Iterator[list[tuple[str, object]]]:
    """The SELECT statements sent on `conn` inside the block, with their parameters."""
    from sqlalchemy import event

    seen: list[tuple[str, object]] = []

    def listener(_conn, _cursor, statement, parameters, context, _executemany):
        compiled = getattr(context, "compiled", None)
        if compiled is not None and not isinstance(compiled.statement, TextClause):
            return  # SQLAlchemy's own catalog reflection, not a query of the screen
        head = statement.lstrip()[:10].lower()
        if head.startswith(("select", "with")) and "set_config(" not in statement:
            seen.append((statement, parameters))

    event.listen(conn, "before_cursor_execute", listener)
    try:
        yield seen
    finally:
        event.remove(conn, "before_cursor_execute", listener)


def _partition_counts(conn: Connection) -> dict[str, tuple[str, int]]:
    """Each partition (qualified) → (its parent, how many partitions the parent has); and each
    partition's index (by name, as EXPLAIN names it) → (the partitioned index it belongs to, 0)."""
    rows = conn.execute(
        text(
            "select case when p.relkind = 'p' then cn.nspname || '.' || c.relname"
            " else c.relname end as child,"
            " case when p.relkind = 'p' then pn.nspname || '.' || p.relname else p.relname end as parent,"
            " case when p.relkind = 'p' then count(*) over (partition by p.oid) else 0 end as siblings"
            " from pg_inherits i join pg_class c on c.oid = i.inhrelid"
            " join pg_namespace cn on cn.oid = c.relnamespace"
            " join pg_class p on p.oid = i.inhparent join pg_namespace pn on pn.oid = p.relnamespace"
            " where p.relkind in ('p', 'I')"
        )
    ).all()
    return {r.child: (r.parent, r.siblings) for r in rows}


def _explain(
    conn: Connection, sql: str, params, partitions_of: dict[str, tuple[str, int]], totals: dict[str, int]
) -> Statement:
    raw = conn.exec_driver_sql("explain (analyze, buffers, verbose, format json) " + sql, params).scalar_one()
    top = (raw if isinstance(raw, list) else json.loads(raw))[0]
    plan = top["Plan"]
    nodes = list(_walk(plan))
    # A partition's index is shown as the partitioned index it belongs to: one name, not one per period.
    used = {n["Index Name"] for n in nodes if "Index Name" in n}
    indexes = sorted({partitions_of.get(name, (name,))[0] for name in used})
    read = [f"{n['Schema']}.{n['Relation Name']}" for n in nodes if "Relation Name" in n and "Schema" in n]
    seq_scans = sorted({f"{n['Schema']}.{n['Relation Name']}" for n in nodes if n["Node Type"] == "Seq Scan"})
    touched: dict[str, set[str]] = {}
    for relation in read:
        if relation in partitions_of:
            touched.setdefault(partitions_of[relation][0], set()).add(relation)
    return Statement(
        sql=sql,
        plan="\n".join(_plan_lines(plan)),
        execution_ms=float(top.get("Execution Time", 0.0)),
        planning_ms=float(top.get("Planning Time", 0.0)),
        rows=int(plan.get("Actual Rows", 0)),
        indexes=tuple(indexes),
        seq_scans=tuple(seq_scans),
        partitions={parent: (len(parts), totals[parent]) for parent, parts in sorted(touched.items())},
        shared_hit=int(plan.get("Shared Hit Blocks", 0)),
        shared_read=int(plan.get("Shared Read Blocks", 0)),
    )


def _walk(node: dict) -> Iterator[dict]:
    yield node
    for child in node.get("Plans", ()):
        yield from _walk(child)


_DETAILS = ("Index Cond", "Recheck Cond", "Hash Cond", "Merge Cond", "Join Filter", "Filter", "Sort Key")


def _plan_lines(node: dict, depth: int = 0) -> Iterator[str]:
    """EXPLAIN's JSON as an indented tree, one node a line, like its text format but shorter."""
    label = node["Node Type"]
    if "Index Name" in node:
        label += f" using {node['Index Name']}"
    if "Relation Name" in node:
        label += f" on {node.get('Schema', '')}.{node['Relation Name']}".replace(" .", " ")
    if node.get("Actual Loops", 1) == 0:
        label += " (never executed)"
    else:
        label += (
            f"  (rows={node.get('Actual Rows', 0)} loops={node.get('Actual Loops', 1)}"
            f" time={node.get('Actual Total Time', 0.0):.3f} ms)"
        )
    pad = "   " * depth
    yield pad + ("-> " if depth else "") + label
    for key in _DETAILS:
        if key in node:
            value = ", ".join(node[key]) if isinstance(node[key], list) else node[key]
            yield f"{pad}      {key}: {value}"
    if "Subplans Removed" in node:
        yield f"{pad}      Subplans Removed: {node['Subplans Removed']}"
    for child in node.get("Plans", ()):
        yield from _plan_lines(child, depth + 1)


# --- Activity: the server's connections and ProSync's own sessions -------------------------------


def activity(conn: Connection) -> pd.DataFrame:
    """pg_stat_activity for this database: state, waits, durations, who blocks whom."""
    with _guarded(conn):
        return _frame(
            conn,
            "select pid, usename as role, application_name, host(client_addr) as client, backend_type,"
            " state, wait_event_type, wait_event,"
            " greatest(extract(epoch from clock_timestamp() - query_start), 0)::float as query_seconds,"
            " greatest(extract(epoch from clock_timestamp() - xact_start), 0)::float as transaction_seconds,"
            " greatest(extract(epoch from clock_timestamp() - state_change), 0)::float as in_state_seconds,"
            " query_start, xact_start, backend_start,"
            " array_to_string(pg_blocking_pids(pid), ', ') as blocked_by,"
            " pid = pg_backend_pid() as is_this_screen, left(query, 2000) as query"
            " from pg_stat_activity where datname = current_database()"
            " order by state = 'active' desc, query_start nulls last, pid",
        )


@dataclass(frozen=True)
class SessionSummary:
    counts: dict[str, int]  # active, expired, revoked
    by_agent: pd.DataFrame  # agent, state, sessions, last_active_at
    active: pd.DataFrame  # the open sessions, newest activity first (never a token or its hash)


SESSION_STATE_SQL = """
case when s.revoked_at is not null and s.revoke_reason = 'expired' then 'expired'
     when s.revoked_at is not null then 'revoked'
     when s.expires_at <= now() or s.last_active_at + make_interval(mins => :idle) <= now() then 'expired'
     else 'active' end
"""


def session_summary(conn: Connection, *, idle_minutes: int | None = None, limit: int = 500) -> SessionSummary:
    """ProSync's sign-in sessions (auth.sessions): how many are active, expired and revoked, by
    browser, and the active ones with their user, address and last activity."""
    from db.settings import get_settings

    idle = idle_minutes or get_settings().session_idle_minutes
    with _guarded(conn):
        grouped = _frame(
            conn,
            f"select s.user_agent, {SESSION_STATE_SQL} as state, count(*) as sessions,"
            " max(s.last_active_at) as last_active_at from auth.sessions s group by 1, 2",
            idle=idle,
        )
        active = _frame(
            conn,
            "select u.login, s.created_at, s.last_active_at, s.expires_at, host(s.ip_address) as ip_address,"
            " s.user_agent from auth.sessions s join users.users u on u.id = s.user_id"
            f" where {SESSION_STATE_SQL} = 'active' order by s.last_active_at desc limit :limit",
            idle=idle,
            limit=limit,
        )
    counts = {
        state: int(grouped.sessions[grouped.state == state].sum())
        for state in ("active", "expired", "revoked")
    }
    grouped["agent"] = [agent_family(a) for a in grouped.user_agent]
    by_agent = (
        grouped.groupby(["agent", "state"], as_index=False)
        .agg(sessions=("sessions", "sum"), last_active_at=("last_active_at", "max"))
        .sort_values(["sessions", "agent"], ascending=[False, True], ignore_index=True)
    )
    active["agent"] = [agent_family(a) for a in active.user_agent]
    return SessionSummary(counts, by_agent, active)


_BROWSERS = (
    ("Edg/", "Edge"), ("OPR/", "Opera"), ("HeadlessChrome/", "Headless Chrome"), ("Chromium/", "Chromium"),
    ("Chrome/", "Chrome"), ("Firefox/", "Firefox"), ("Safari/", "Safari"), ("curl/", "curl"),
    ("python-requests/", "Python requests"), ("python-httpx/", "Python httpx"),
)  # fmt: skip
_SYSTEMS = (
    ("Windows", "Windows"), ("Android", "Android"), ("iPhone", "iOS"), ("iPad", "iOS"),
    ("Mac OS X", "macOS"), ("CrOS", "ChromeOS"), ("Linux", "Linux"),
)  # fmt: skip


def agent_family(user_agent: str | None) -> str:
    """A user agent string as a browser and system, such as "Firefox on Linux"."""
    if not user_agent:
        return "unknown"
    browser = next((name for token, name in _BROWSERS if token in user_agent), "other")
    system = next((name for token, name in _SYSTEMS if token in user_agent), None)
    return f"{browser} on {system}" if system else browser


# --- Settings and maintenance ---------------------------------------------------------------------

# The settings that shape how this model performs: memory for sorts and index builds, parallel
# scans over partitions, vacuum of the append-heavy audit and document tables, and the preloaded
# pg_stat_statements. Every autovacuum_* setting is added to these.
SETTINGS_THAT_MATTER = (
    "shared_buffers", "effective_cache_size", "work_mem", "maintenance_work_mem",
    "autovacuum_work_mem", "max_connections", "max_parallel_workers_per_gather",
    "max_parallel_workers", "max_worker_processes", "max_parallel_maintenance_workers",
    "shared_preload_libraries", "random_page_cost", "effective_io_concurrency",
    "default_statistics_target", "enable_partition_pruning", "enable_partitionwise_aggregate",
    "enable_partitionwise_join", "checkpoint_timeout", "max_wal_size", "min_wal_size",
    "wal_level", "track_io_timing", "statement_timeout", "lock_timeout",
    "idle_in_transaction_session_timeout", "log_min_duration_statement", "jit",
)  # fmt: skip


def server_settings(conn: Connection) -> pd.DataFrame:
    """The pg_settings that matter for this model: the server's value (not this screen's own
    timeouts), its default, whether it was changed, where, and whether it waits for a restart."""
    with _guarded(conn):
        frame = _frame(
            conn,
            "select name, reset_val, boot_val, unit, reset_val is distinct from boot_val as changed,"
            " sourcefile || ':' || sourceline as set_in, pending_restart, context, short_desc"
            " from pg_settings where name = any(:names) or name like 'autovacuum%'"
            " order by name like 'autovacuum%', name",
            names=list(SETTINGS_THAT_MATTER),
        )
    frame.insert(1, "value", [_with_unit(v, u) for v, u in zip(frame.reset_val, frame.unit, strict=True)])
    frame.insert(
        2, "default_value", [_with_unit(v, u) for v, u in zip(frame.boot_val, frame.unit, strict=True)]
    )
    return frame.drop(columns=["reset_val", "boot_val", "unit"])


_MEMORY = {"B": 1, "kB": 1024, "8kB": 8192, "MB": 1024**2, "16MB": 16 * 1024**2}
_TIME = {"ms": 1, "s": 1000, "min": 60_000}


def _with_unit(raw: str | None, unit: str | None) -> str | None:
    """A raw pg_settings number in the largest unit that divides it, as SHOW prints it (4GB, 5min)."""
    if raw is None or unit not in {**_MEMORY, **_TIME} or not raw.lstrip("-").isdigit() or int(raw) < 0:
        return raw
    if int(raw) == 0:
        return "0"
    if unit in _MEMORY:
        amount, steps = (
            int(raw) * _MEMORY[unit],
            (("TB", 1024**4), ("GB", 1024**3), ("MB", 1024**2), ("kB", 1024)),
        )
        fallback = "B"
    else:
        amount, steps = (
            int(raw) * _TIME[unit],
            (("d", 86_400_000), ("h", 3_600_000), ("min", 60_000), ("s", 1000)),
        )
        fallback = "ms"
    for name, size in steps:
        if amount % size == 0:
            return f"{amount // size}{name}"
    return f"{amount}{fallback}"


@dataclass(frozen=True)
class WriterStats:
    source: str  # the catalog views read
    figures: dict[str, object]
    advice: str


def writer_stats(conn: Connection) -> WriterStats:
    """The background writer and checkpointer, from pg_stat_checkpointer + pg_stat_bgwriter (PostgreSQL
    17 on) or pg_stat_bgwriter alone (15 and 16), under the same names."""
    with _guarded(conn):
        split = conn.execute(
            text("select to_regclass('pg_catalog.pg_stat_checkpointer') is not null")
        ).scalar()
        if split:
            source = "pg_stat_checkpointer, pg_stat_bgwriter"
            row = conn.execute(
                text(
                    "select c.num_timed as checkpoints_timed, c.num_requested as checkpoints_requested,"
                    " c.write_time as checkpoint_write_ms, c.sync_time as checkpoint_sync_ms,"
                    " c.buffers_written as buffers_written_by_checkpoints,"
                    " b.buffers_clean as buffers_written_by_bgwriter,"
                    " b.maxwritten_clean as bgwriter_stopped_at_limit, b.buffers_alloc as buffers_allocated,"
                    " null::bigint as buffers_written_by_backends,"
                    " c.stats_reset as checkpointer_reset, b.stats_reset as bgwriter_reset"
                    " from pg_stat_checkpointer c, pg_stat_bgwriter b"
                )
            ).one()
        else:
            source = "pg_stat_bgwriter"
            row = conn.execute(
                text(
                    "select checkpoints_timed, checkpoints_req as checkpoints_requested,"
                    " checkpoint_write_time as checkpoint_write_ms,"
                    " checkpoint_sync_time as checkpoint_sync_ms,"
                    " buffers_checkpoint as buffers_written_by_checkpoints,"
                    " buffers_clean as buffers_written_by_bgwriter,"
                    " maxwritten_clean as bgwriter_stopped_at_limit, buffers_alloc as buffers_allocated,"
                    " buffers_backend as buffers_written_by_backends,"
                    " stats_reset as checkpointer_reset, stats_reset as bgwriter_reset"
                    " from pg_stat_bgwriter"
                )
            ).one()
    figures = dict(row._mapping)
    timed, requested = figures["checkpoints_timed"] or 0, figures["checkpoints_requested"] or 0
    advice = ""
    if requested > timed and requested >= 10:
        advice = (
            f"{requested:,} of {timed + requested:,} checkpoints were requested rather than timed: WAL fills "
            "max_wal_size before checkpoint_timeout; a larger max_wal_size spreads the writes."
        )
    return WriterStats(source, figures, advice)


def maintenance_progress(conn: Connection) -> pd.DataFrame:
    """VACUUM (auto or manual), ANALYZE, CREATE INDEX and CLUSTER/VACUUM FULL running now, with phase
    and how far along (pg_stat_progress_*)."""
    with _guarded(conn):
        return _frame(
            conn,
            "with progress as ("
            "  select 'vacuum' as operation, pid, relid, phase,"
            "   100.0 * heap_blks_scanned / nullif(heap_blks_total, 0) as percent_done"
            "   from pg_stat_progress_vacuum where datname = current_database()"
            "  union all select 'analyze', pid, relid, phase,"
            "   100.0 * sample_blks_scanned / nullif(sample_blks_total, 0)"
            "   from pg_stat_progress_analyze where datname = current_database()"
            "  union all select 'create index', pid, relid, phase,"
            "   100.0 * blocks_done / nullif(blocks_total, 0)"
            "   from pg_stat_progress_create_index where datname = current_database()"
            "  union all select lower(command), pid, relid, phase,"
            "   100.0 * heap_blks_scanned / nullif(heap_blks_total, 0)"
            "   from pg_stat_progress_cluster where datname = current_database())"
            " select p.operation, p.pid, p.relid::regclass::text as relation, p.phase,"
            " round(p.percent_done, 1)::float as percent_done,"
            " a.backend_type = 'autovacuum worker' as automatic,"
            " extract(epoch from now() - a.xact_start)::float as running_seconds, left(a.query, 300) as query"
            " from progress p left join pg_stat_activity a on a.pid = p.pid"
            " order by running_seconds desc nulls last",
        )


VACUUM_QUEUE_SQL = """
with t as (
    select n.nspname as schema_name, c.relname as table_name, greatest(c.reltuples, 0) as reltuples,
           s.n_dead_tup, s.n_ins_since_vacuum, s.n_mod_since_analyze,
           s.last_autovacuum, s.last_autoanalyze,
           current_setting('autovacuum') = 'on'
               and (select option_value from pg_options_to_table(c.reloptions)
                    where option_name = 'autovacuum_enabled')::boolean is distinct from false
               as autovacuum_on,
           {base}
    from pg_class c
    join pg_namespace n on n.oid = c.relnamespace
    join pg_stat_user_tables s on s.relid = c.oid
    where c.relkind = 'r'
)
select schema_name, table_name, autovacuum_on, n_dead_tup as dead_rows,
       vacuum_threshold::bigint as vacuum_threshold,
       round((100.0 * n_dead_tup / nullif(vacuum_threshold, 0))::numeric, 1)::float
           as dead_percent_of_threshold,
       n_ins_since_vacuum as inserted_since_vacuum, insert_threshold::bigint as insert_threshold,
       n_mod_since_analyze as changed_since_analyze, analyze_threshold::bigint as analyze_threshold,
       n_dead_tup > vacuum_threshold or n_ins_since_vacuum > insert_threshold as vacuum_due,
       n_mod_since_analyze > analyze_threshold as analyze_due,
       last_autovacuum, last_autoanalyze
from (
    select t.*,
           case when max_threshold > 0 then least(vt + vs * reltuples, max_threshold)
                else vt + vs * reltuples end as vacuum_threshold,
           it + is_ * reltuples as insert_threshold,
           at + as_ * reltuples as analyze_threshold
    from t
) x
order by greatest(n_dead_tup / nullif(vacuum_threshold, 0), 0) desc nulls last, schema_name, table_name
"""


def _option(name: str, alias: str, cast: str) -> str:
    """A table's autovacuum reloption, or the server's setting (missing_ok for newer settings)."""
    return (
        f"coalesce((select option_value from pg_options_to_table(c.reloptions) where option_name = '{name}'),"
        f" current_setting('{name}', true), '-1')::{cast} as {alias}"
    )


def vacuum_queue(conn: Connection) -> pd.DataFrame:
    """Each table's distance to its next autovacuum and autoanalyze: dead rows against the threshold
    autovacuum uses (the table's own reloptions first, then the server's settings)."""
    base = ", ".join(
        _option(*option)
        for option in (
            ("autovacuum_vacuum_threshold", "vt", "float"),
            ("autovacuum_vacuum_scale_factor", "vs", "float"),
            ("autovacuum_vacuum_max_threshold", "max_threshold", "float"),  # PostgreSQL 18 on
            ("autovacuum_vacuum_insert_threshold", "it", "float"),
            ("autovacuum_vacuum_insert_scale_factor", "is_", "float"),
            ("autovacuum_analyze_threshold", "at", "float"),
            ("autovacuum_analyze_scale_factor", "as_", "float"),
        )
    )
    with _guarded(conn):
        return _frame(conn, VACUUM_QUEUE_SQL.format(base=base))


# --- Schema: versions, roles, constraints, views, and the ER diagram ------------------------------


@dataclass(frozen=True)
class SchemaState:
    current: str | None  # the revision recorded in alembic_version
    head: str  # the newest revision this ProSync ships
    history: pd.DataFrame  # system.schema_version, newest first


def schema_state(conn: Connection) -> SchemaState:
    """Where the schema is: Alembic's current and head revisions and every step ever applied."""
    from db import migrate, schema

    with _guarded(conn):
        return SchemaState(
            migrate.current_revision(conn), migrate.head_revision(), schema.schema_versions(conn)
        )


def database_roles(conn: Connection) -> pd.DataFrame:
    """The server's roles (pg_roles) with their attributes and what they are members of; PostgreSQL's
    predefined pg_* roles only where someone was granted them."""
    with _guarded(conn):
        return _frame(
            conn,
            "select r.rolname as role, r.rolcanlogin as can_login, r.rolsuper as superuser,"
            " r.rolcreaterole as create_role, r.rolcreatedb as create_db, r.rolreplication as replication,"
            " r.rolbypassrls as bypass_rls, r.rolinherit as inherits, r.rolconnlimit as connection_limit,"
            " r.rolvaliduntil as valid_until,"
            " (select string_agg(g.rolname, ', ' order by g.rolname) from pg_auth_members m"
            "   join pg_roles g on g.oid = m.roleid where m.member = r.oid) as member_of"
            " from pg_roles r"
            " where r.rolname !~ '^pg_' or exists (select 1 from pg_auth_members m join pg_roles x"
            "   on x.oid = m.member where m.roleid = r.oid and x.rolname !~ '^pg_')"
            " order by r.rolname ~ '^pg_', r.rolname",
        )


def role_memberships(conn: Connection) -> pd.DataFrame:
    """Who is a member of which role (pg_auth_members), leaving out PostgreSQL's own predefined tree."""
    with _guarded(conn):
        return _frame(
            conn,
            "select g.rolname as role, u.rolname as member, m.admin_option, w.rolname as granted_by"
            " from pg_auth_members m join pg_roles g on g.oid = m.roleid"
            " join pg_roles u on u.oid = m.member left join pg_roles w on w.oid = m.grantor"
            " where u.rolname !~ '^pg_' order by 1, 2",
        )


@dataclass(frozen=True)
class SchemaChanges:
    recorded: bool  # the event triggers are installed and enabled
    events: pd.DataFrame  # the newest DDL rows of the audit log


def schema_changes(conn: Connection, *, limit: int = 200) -> SchemaChanges:
    """The newest schema changes the event triggers recorded (who, what, when), and whether they
    record at all (a server that refused event triggers to the migrating role does not)."""
    with _guarded(conn):
        enabled = conn.execute(
            text(
                "select count(*) from pg_event_trigger"
                " where evtname in ('prosync_ddl_end', 'prosync_sql_drop') and evtenabled <> 'D'"
            )
        ).scalar_one()
        events = _frame(
            conn,
            'select a."timestamp" as changed_at, coalesce(u.login, a.db_user) as who,'
            " coalesce(a.new_values, a.old_values)->>'command' as command, a.table_name as object_type,"
            " a.record_id as object, a.context->>'statement' as statement"
            " from audit.audit_log a left join users.users u on u.id = a.actor_id"
            " where a.action = 'ddl' order by a.\"timestamp\" desc, a.id desc limit :limit",
            limit=limit,
        )
    return SchemaChanges(recorded=enabled == 2, events=events)


CONSTRAINT_KINDS = {
    "p": "primary key", "f": "foreign key", "u": "unique", "c": "check", "x": "exclusion",
    "t": "constraint trigger", "n": "not null",
}  # fmt: skip


def constraints(conn: Connection) -> pd.DataFrame:
    """Every constraint of ProSync's tables (pg_constraint), once per table: partitions' inherited
    copies are left out."""
    with _guarded(conn):
        frame = _frame(
            conn,
            "select n.nspname as schema_name, c.relname as table_name, k.conname as constraint_name,"
            " k.contype as kind, pg_get_constraintdef(k.oid) as definition, k.convalidated as validated,"
            " k.condeferrable as deferrable, k.condeferred as initially_deferred"
            " from pg_constraint k join pg_class c on c.oid = k.conrelid"
            " join pg_namespace n on n.oid = c.relnamespace"
            " where n.nspname not in ('pg_catalog', 'information_schema') and n.nspname !~ '^pg_toast'"
            " and k.conparentid = 0 and not c.relispartition"
            " order by 1, 2, k.contype, 3",
        )
    frame["kind"] = frame.kind.map(lambda k: CONSTRAINT_KINDS.get(k, k))
    return frame


def views(conn: Connection) -> pd.DataFrame:
    """Views and materialized views (pg_views, pg_matviews) with their definitions; security_invoker
    says whether the querying user's rights (and row-level policies) apply through the view."""
    with _guarded(conn):
        return _frame(
            conn,
            "select v.schemaname as schema_name, v.viewname as view_name, 'view' as kind,"
            " coalesce((select option_value::boolean from pg_options_to_table(c.reloptions)"
            "   where option_name = 'security_invoker'), false) as security_invoker,"
            " null::boolean as populated, v.definition"
            " from pg_views v join pg_class c on c.relname = v.viewname"
            " join pg_namespace n on n.oid = c.relnamespace and n.nspname = v.schemaname"
            " where v.schemaname not in ('pg_catalog', 'information_schema')"
            " union all"
            " select m.schemaname, m.matviewname, 'materialized view', false, m.ispopulated, m.definition"
            " from pg_matviews m"
            " order by 1, 2",
        )


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    nullable: bool
    primary_key: bool
    foreign_key: bool


@dataclass(frozen=True)
class Relation:
    """A foreign key: `columns` of `table` point at `ref_columns` of `ref_table`."""

    name: str
    table: str
    columns: tuple[str, ...]
    ref_table: str
    ref_columns: tuple[str, ...]


@dataclass(frozen=True)
class SchemaGraph:
    tables: dict[str, tuple[Column, ...]]  # "schema.table" → columns in order
    relations: tuple[Relation, ...]


def schema_graph(conn: Connection) -> SchemaGraph:
    """Tables, columns, keys and foreign keys of ProSync's schemas, from the live catalog (partitions
    are folded into their partitioned table)."""
    with _guarded(conn):
        columns = conn.execute(
            text(
                "select n.nspname || '.' || c.relname as table_name, a.attname as name,"
                " format_type(a.atttypid, a.atttypmod) as type, not a.attnotnull as nullable,"
                " exists (select 1 from pg_constraint k where k.conrelid = c.oid and k.contype = 'p'"
                "   and a.attnum = any(k.conkey)) as primary_key,"
                " exists (select 1 from pg_constraint k where k.conrelid = c.oid and k.contype = 'f'"
                "   and a.attnum = any(k.conkey)) as foreign_key"
                " from pg_class c join pg_namespace n on n.oid = c.relnamespace"
                " join pg_attribute a on a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped"
                " where c.relkind in ('r', 'p') and not c.relispartition"
                " and n.nspname not in ('pg_catalog', 'information_schema') and n.nspname !~ '^pg_toast'"
                " order by 1, a.attnum"
            )
        ).all()
        keys = conn.execute(
            text(
                "select k.conname as name, n.nspname || '.' || c.relname as table_name,"
                " rn.nspname || '.' || r.relname as ref_table,"
                " array(select a.attname from unnest(k.conkey) with ordinality u(n, i) join pg_attribute a"
                "   on a.attrelid = k.conrelid and a.attnum = u.n order by u.i) as columns,"
                " array(select a.attname from unnest(k.confkey) with ordinality u(n, i) join pg_attribute a"
                "   on a.attrelid = k.confrelid and a.attnum = u.n order by u.i) as ref_columns"
                " from pg_constraint k join pg_class c on c.oid = k.conrelid"
                " join pg_namespace n on n.oid = c.relnamespace"
                " join pg_class r on r.oid = k.confrelid join pg_namespace rn on rn.oid = r.relnamespace"
                " where k.contype = 'f' and k.conparentid = 0 and not c.relispartition"
                " and n.nspname not in ('pg_catalog', 'information_schema')"
                " order by 2, 1"
            )
        ).all()
    tables: dict[str, list[Column]] = {}
    for row in columns:
        tables.setdefault(row.table_name, []).append(
            Column(row.name, row.type, row.nullable, row.primary_key, row.foreign_key)
        )
    relations = tuple(
        Relation(k.name, k.table_name, tuple(k.columns), k.ref_table, tuple(k.ref_columns)) for k in keys
    )
    return SchemaGraph({t: tuple(c) for t, c in tables.items()}, relations)
