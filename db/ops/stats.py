"""Table, index and query statistics from the live catalogs and pg_stat_statements."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
from sqlalchemy import Connection, text

from db.domain import access
from db.ops.common import (
    guarded,
    query_frame,
)

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
           -- a unique index is covered only by a unique one on the same keys: one on more keys
           -- enforces less (the registry's primary key (id) beside its unique (id, project_id))
           and not (ix.indisunique and not (d.indisunique and d.keys = ix.keys))
         order by d.index_name limit 1) as covered_by
from ix
left join pg_stat_user_indexes s on s.indexrelid = ix.indexrelid
order by ix.schema_name, ix.table_name, ix.index_name
"""

# The three indexes the seed names; the screen marks them.
NAMED_INDEXES = (
    "idx_documents_project_date",
    "idx_documents_ingest_checksum",
    "idx_project_access_user_role",
)


def index_stats(conn: Connection) -> pd.DataFrame:
    """Every index: size, scans, tuples; unused (with a DROP statement), covered by another, invalid."""
    with guarded(conn):
        frame = query_frame(conn, INDEX_SQL)
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
    with guarded(conn):
        return query_frame(conn, TABLE_SQL)


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
    with guarded(conn):
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
        frame = query_frame(
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
