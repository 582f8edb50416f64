"""The ops statistics against a real server with a state made on purpose."""

import threading
import time

import pandas as pd
import pytest
from sqlalchemy import create_engine, text

from db import migrate, ops
from db.engine import sqlalchemy_url
from db.errors import PermissionDenied
from tests.conftest import acting, create_database, make_user


@pytest.fixture
def ops_user(conn):
    return make_user(conn, roles=("ops",))


def _check(checks, name):
    return next(c for c in checks if c.name == name)


def test_only_ops_and_admins_read_statistics(conn):
    with acting(conn, make_user(conn)), pytest.raises(PermissionDenied):
        ops.index_stats(conn)


def test_an_unused_index_is_reported_with_its_drop_statement(conn, ops_user):
    with acting(conn, None):
        conn.exec_driver_sql("create table public.ops_probe (id int primary key, a int, b int)")
        conn.exec_driver_sql("create index ops_probe_a_idx on public.ops_probe (a)")
    with acting(conn, ops_user):
        indexes = ops.index_stats(conn)
    row = indexes[indexes.index_name == "ops_probe_a_idx"].iloc[0]
    assert row.unused and row.scans == 0
    assert row.drop_statement == 'drop index concurrently "public"."ops_probe_a_idx";'
    pkey = indexes[indexes.index_name == "ops_probe_pkey"].iloc[0]
    assert not pkey.unused, "an index that enforces a constraint is never called unused"
    named = set(indexes[indexes.named_in_seed].index_name)
    assert named == set(ops.NAMED_INDEXES)


def test_a_duplicate_index_is_reported_as_covered_by_the_wider_one(conn, ops_user):
    with acting(conn, None):
        conn.exec_driver_sql("create table public.ops_dup (a int, b int)")
        conn.exec_driver_sql("create index ops_dup_a on public.ops_dup (a)")
        conn.exec_driver_sql("create index ops_dup_ab on public.ops_dup (a, b)")
        conn.exec_driver_sql("create index ops_dup_b on public.ops_dup (b)")
    with acting(conn, ops_user):
        indexes = ops.index_stats(conn).set_index("index_name")
        checks = ops.health_checks(conn)
    assert indexes.loc["ops_dup_a", "covered_by"] == "ops_dup_ab"
    assert pd.isna(indexes.loc["ops_dup_ab", "covered_by"])
    assert pd.isna(indexes.loc["ops_dup_b", "covered_by"])
    duplicate = _check(checks, "Duplicate indexes")
    assert duplicate.status == "warning" and "ops_dup_a (covered by ops_dup_ab)" in duplicate.detail


def test_a_row_in_a_default_partition_and_a_missing_partition_are_flagged(conn, ops_user):
    with acting(conn, ops_user):
        checks = ops.health_checks(conn)
    assert _check(checks, "Rows in DEFAULT partitions").status == "ok"
    assert _check(checks, "Upcoming partitions").status == "ok"
    with acting(conn, None):
        conn.exec_driver_sql(
            'insert into audit.audit_log ("timestamp", action, schema_name, table_name)'
            " values ('1990-01-01', 'insert', 'x', 'y')"
        )
        upcoming = conn.exec_driver_sql(
            "select partition_name from system.partitions where parent_table = 'audit.audit_log'"
            " and range_from = system.period_start('month', now()) + interval '1 month'"
        ).scalar_one()
        conn.exec_driver_sql(f"alter table audit.audit_log detach partition {upcoming}")
    with acting(conn, ops_user):
        checks = ops.health_checks(conn)
    stray = _check(checks, "Rows in DEFAULT partitions")
    assert stray.status == "warning" and "audit.audit_log: 1" in stray.value
    missing = _check(checks, "Upcoming partitions")
    assert missing.status == "critical" and "audit.audit_log from" in missing.detail


def test_tables_roll_partitions_up_into_their_parent(conn, ops_user):
    with acting(conn, ops_user):
        tables = ops.table_stats(conn)
    top = ops.rolled_up(tables)
    documents = top[(top.schema_name == "documents") & (top.table_name == "documents")].iloc[0]
    parts = tables[(tables.schema_name == "documents") & (tables.partition_of == "documents")]
    assert documents.partitions == len(parts) > 4
    assert documents.total_bytes == parts.total_bytes.sum()
    assert parts.reloptions.dropna().str.contains("fillfactor=90").sum() >= len(parts) - 1  # all but DEFAULT
    assert not top.partition_of.notna().any()


def test_a_long_running_query_from_another_connection_is_reported(server_url, conn, ops_user, monkeypatch):
    monkeypatch.setattr(ops, "LONG_QUERY_SECONDS", 1)
    url = create_database(server_url, "prosync_ops_long")
    migrate.upgrade(url=url)
    engine = create_engine(sqlalchemy_url(url))
    sleeper = threading.Thread(
        target=lambda: engine.connect().execute(text("select pg_sleep(4)")), daemon=True
    )
    sleeper.start()
    time.sleep(2)
    from db.engine import system_transaction

    with system_transaction(engine=engine) as other:
        checks = ops.health_checks(other)
    sleeper.join(10)
    engine.dispose()
    long_running = _check(checks, "Long-running queries")
    assert long_running.status == "warning" and "pg_sleep" in long_running.detail


def test_queries_come_from_pg_stat_statements_or_say_why_not(conn, ops_user):
    with acting(conn, ops_user):
        stats = ops.top_queries(conn, order_by="calls", limit=10)
    assert stats.available, stats.message
    assert len(stats.frame) > 0 and list(stats.frame.calls) == sorted(stats.frame.calls, reverse=True)
    with acting(conn, None):
        conn.exec_driver_sql("drop extension pg_stat_statements")
    with acting(conn, ops_user):
        missing = ops.top_queries(conn)
    assert not missing.available and "create extension pg_stat_statements" in missing.message


def test_a_statistics_query_blocked_by_a_lock_times_out_with_a_message(
    database_url, ops_user, conn, monkeypatch
):
    monkeypatch.setattr(ops, "LOCK_TIMEOUT_MS", 300)
    with acting(conn, None):
        conn.exec_driver_sql("lock table projects.projects in access exclusive mode")
        with pytest.raises(ops.OpsTimeout, match="holds a lock"):
            _other_connection_reads(database_url, ops_user)


def _other_connection_reads(database_url, ops_user):
    from db.engine import system_transaction

    engine = create_engine(sqlalchemy_url(database_url))
    try:
        with system_transaction(engine=engine) as other:  # the user above is not committed
            ops.table_stats(other)
    finally:
        engine.dispose()
