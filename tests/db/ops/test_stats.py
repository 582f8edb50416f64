"""db/ops/stats.py: index and table statistics (unused and duplicate indexes, partitions rolled up
into their table) and the top queries from pg_stat_statements, or a plain reason why not; for ops
and admins only."""

import pandas as pd
import pytest

from db.core.engine import make_engine, sqlalchemy_url
from db.core.errors import PermissionDenied
from db.ops import health, stats
from tests.conftest import acting, make_user


def _check(checks, name):
    return next(c for c in checks if c.name == name)


def test_only_ops_and_admins_read_statistics(conn):
    with acting(conn, make_user(conn)), pytest.raises(PermissionDenied):
        stats.index_stats(conn)


def test_an_unused_index_is_reported_with_its_drop_statement(conn, ops_user):
    with acting(conn, None):
        conn.exec_driver_sql("create table public.ops_probe (id int primary key, a int, b int)")
        conn.exec_driver_sql("create index ops_probe_a_idx on public.ops_probe (a)")
    with acting(conn, ops_user):
        indexes = stats.index_stats(conn)
    row = indexes[indexes.index_name == "ops_probe_a_idx"].iloc[0]
    assert row.unused and row.scans == 0
    assert row.drop_statement == 'drop index concurrently "public"."ops_probe_a_idx";'
    pkey = indexes[indexes.index_name == "ops_probe_pkey"].iloc[0]
    assert not pkey.unused, "an index that enforces a constraint is never called unused"
    named = set(indexes[indexes.named_in_seed].index_name)
    assert named == set(stats.NAMED_INDEXES)


def test_a_duplicate_index_is_reported_as_covered_by_the_wider_one(conn, ops_user):
    with acting(conn, None):
        conn.exec_driver_sql("create table public.ops_dup (a int, b int)")
        conn.exec_driver_sql("create index ops_dup_a on public.ops_dup (a)")
        conn.exec_driver_sql("create index ops_dup_ab on public.ops_dup (a, b)")
        conn.exec_driver_sql("create index ops_dup_b on public.ops_dup (b)")
    with acting(conn, ops_user):
        indexes = stats.index_stats(conn).set_index("index_name")
        checks = health.health_checks(conn)
    assert indexes.loc["ops_dup_a", "covered_by"] == "ops_dup_ab"
    assert pd.isna(indexes.loc["ops_dup_ab", "covered_by"])
    assert pd.isna(indexes.loc["ops_dup_b", "covered_by"])
    # A unique index is not covered by a unique one on more keys, which enforces less: the registry's
    # primary key (id) beside its unique (id, project_id) of revision 0023.
    assert pd.isna(indexes.loc["document_registry_pkey", "covered_by"])
    duplicate = _check(checks, "Duplicate indexes")
    assert duplicate.status == "warning" and "ops_dup_a (covered by ops_dup_ab)" in duplicate.detail


def test_tables_roll_partitions_up_into_their_parent(conn, ops_user):
    with acting(conn, ops_user):
        tables = stats.table_stats(conn)
    top = stats.rolled_up(tables)
    documents = top[(top.schema_name == "documents") & (top.table_name == "documents")].iloc[0]
    parts = tables[(tables.schema_name == "documents") & (tables.partition_of == "documents")]
    assert documents.partitions == len(parts) > 4
    assert documents.total_bytes == parts.total_bytes.sum()
    assert parts.reloptions.dropna().str.contains("fillfactor=90").sum() >= len(parts) - 1  # all but DEFAULT
    assert not top.partition_of.notna().any()


def test_queries_come_from_pg_stat_statements_or_say_why_not(conn, ops_user):
    with acting(conn, ops_user):
        queries = stats.top_queries(conn, order_by="calls", limit=10)
    assert queries.available, queries.message
    assert len(queries.frame) > 0 and list(queries.frame.calls) == sorted(queries.frame.calls, reverse=True)
    with acting(conn, None):
        conn.exec_driver_sql("drop extension pg_stat_statements")
    with acting(conn, ops_user):
        missing = stats.top_queries(conn)
    assert not missing.available and "create extension pg_stat_statements" in missing.message


@pytest.mark.embedded_only
def test_queries_say_plainly_when_pg_stat_statements_is_not_loaded(plain_server_url):
    from db.core.engine import system_transaction

    engine = make_engine(sqlalchemy_url(plain_server_url))
    try:
        with system_transaction(engine=engine) as other:
            queries = stats.top_queries(other)
    finally:
        engine.dispose()
    assert not queries.available and queries.frame.empty
    assert "not loaded" in queries.message and "shared_preload_libraries" in queries.message
