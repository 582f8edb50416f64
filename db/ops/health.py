"""The health overview: each check with a status, its figure and what to look at."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import Connection, text

from db.core.settings import get_settings
from db.domain import partitions
from db.ops.common import (
    Check,
    guarded,
    status_of,
)
from db.ops.stats import index_stats

LONG_QUERY_SECONDS = 300
IDLE_IN_TRANSACTION_SECONDS = 60
MIN_BLOCKS_FOR_HIT_RATE = 10_000


def _check_rows(conn: Connection, sql: str, **params) -> list:
    return conn.execute(text(sql), params).all()


def health_checks(conn: Connection) -> list[Check]:
    """The overview: each check with a status, its figure and what to look at."""

    checks: list[Check] = []
    with guarded(conn):
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
        checks.append(Check("Connections", status_of(ratio, 0.7, 0.9), f"{used} of {allowed} ({ratio:.0%})"))
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
                status = status_of(rate, 0.99, 0.95, higher_is_worse=False)
                checks.append(Check(label, status, f"{rate:.2%}", "below 99%: shared_buffers may be small"))
        age = conn.execute(
            text("select age(datfrozenxid) from pg_database where datname = current_database()")
        )
        xid_age = age.scalar_one()
        share = xid_age / 2_147_483_647
        checks.append(
            Check(
                "Transaction ID wraparound",
                status_of(share, 0.4, 0.75),
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
                status_of(worst, 0.5, 0.9),
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
    with guarded(conn):
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
    checks.append(_text_backlog(conn))
    checks.append(
        Check(
            "Tables autovacuum has not visited",
            "warning" if never else "ok",
            str(len(never)),
            ", ".join(r.name for r in never[:5]),
        )
    )
    return checks


TEXT_WAIT_MINUTES = 10


def _text_backlog(conn: Connection) -> Check:
    """Documents waiting for their text (search inside files): a warning when some wait for the
    command line, or the dashboards' indexers have left one waiting more than TEXT_WAIT_MINUTES."""
    row = conn.execute(text("select * from documents.text_backlog()")).one()
    detail = []
    if row.for_the_command_line:
        detail.append(
            f"{row.for_the_command_line:,} wait for `prosync reindex-text` (made before revision 0023 or by"
            " the command line, or failed five times)"
        )
    indexing = get_settings().text_index_seconds > 0  # with 0, `prosync reindex-text` from cron reads them
    if (
        indexing
        and row.oldest is not None
        and datetime.now(UTC) - row.oldest > timedelta(minutes=TEXT_WAIT_MINUTES)
    ):
        detail.append(f"one has waited more than {TEXT_WAIT_MINUTES} min: is a dashboard process running?")
    return Check(
        "Documents waiting for their text",
        "warning" if detail else "ok",
        f"{row.waiting:,}",
        "; ".join(detail),
    )


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
