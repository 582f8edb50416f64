"""Settings and maintenance: the server settings that shape this model, writer statistics,
vacuum and index-build progress, and the autovacuum queue."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
from sqlalchemy import Connection, text

from db.ops.common import (
    guarded,
    query_frame,
)

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
    with guarded(conn):
        frame = query_frame(
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
    with guarded(conn):
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
    with guarded(conn):
        return query_frame(
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
    with guarded(conn):
        return query_frame(conn, VACUUM_QUEUE_SQL.format(base=base))
