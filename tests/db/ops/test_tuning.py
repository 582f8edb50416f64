"""db/ops/tuning.py: the server settings that matter (the server's values, not a session's), the
background writer's figures, maintenance in progress and the vacuum queue with each table's own
thresholds."""

import threading

import psycopg
import pytest
from sqlalchemy import text

from db.core.engine import make_engine, sqlalchemy_url
from db.ops import tuning
from tests.conftest import acting, create_database
from tests.waiting import wait_until


def test_settings_that_matter_show_the_server_value_and_whether_it_was_changed(conn, ops_user):
    conn.exec_driver_sql("set local work_mem = '7MB'")  # a session's own setting is not the server's
    with acting(conn, ops_user):
        settings = tuning.server_settings(conn).set_index("name")
    assert set(tuning.SETTINGS_THAT_MATTER) <= set(settings.index)
    assert {"autovacuum_naptime", "autovacuum_vacuum_scale_factor"} <= set(settings.index)
    naptime_unit = conn.execute(
        text("select unit from pg_settings where name = 'autovacuum_naptime'")
    ).scalar()
    assert settings.loc["work_mem", "value"] == settings.loc["work_mem", "default_value"] == "4MB"
    assert settings.loc["lock_timeout", "value"] == "0", "not the 2 s the ops screen sets for itself"
    assert settings.loc["autovacuum_naptime", "value"] == "1min" and naptime_unit == "s"
    assert settings.loc["shared_buffers", "value"].endswith(("MB", "GB", "kB"))
    preload = settings.loc["shared_preload_libraries"]
    assert (
        "pg_stat_statements" in preload.value and preload.changed and not settings.loc["work_mem", "changed"]
    )


def test_raw_setting_numbers_read_in_their_largest_unit():
    assert tuning._with_unit("16384", "8kB") == "128MB"
    assert tuning._with_unit("524288", "8kB") == "4GB"
    assert tuning._with_unit("300", "s") == "5min"
    assert tuning._with_unit("2000", "ms") == "2s"
    assert tuning._with_unit("1500", "ms") == "1500ms"
    assert tuning._with_unit("0", "ms") == "0", "as SHOW prints it"
    assert tuning._with_unit("-1", "kB") == "-1" and tuning._with_unit("on", None) == "on"


def test_writer_stats_follow_the_server_version_and_count_a_checkpoint(server_url, conn, ops_user):
    with acting(conn, ops_user):
        before = tuning.writer_stats(conn)
    version = conn.execute(text("select current_setting('server_version_num')::int")).scalar_one()
    expected = "pg_stat_checkpointer, pg_stat_bgwriter" if version >= 170000 else "pg_stat_bgwriter"
    assert before.source == expected
    assert set(before.figures) >= {"checkpoints_timed", "checkpoints_requested", "buffers_allocated"}
    with psycopg.connect(server_url, autocommit=True) as other:
        other.execute("checkpoint")

    def counted():
        with acting(conn, ops_user):
            after = tuning.writer_stats(conn)
        return after.figures["checkpoints_requested"] > before.figures["checkpoints_requested"] and after

    after = wait_until(counted, timeout=5, what="the checkpoint to be counted")
    assert after.figures["checkpoints_requested"] == before.figures["checkpoints_requested"] + 1


@pytest.fixture(scope="module")
def scratch_url(server_url):
    """A database of its own, for tables other connections must see committed."""
    return create_database(server_url, "prosync_ops_scratch")


def _as_system(url, function):
    from db.core.engine import system_transaction

    engine = make_engine(sqlalchemy_url(url))
    try:
        with system_transaction(engine=engine) as other:
            return function(other)
    finally:
        engine.dispose()


def test_an_index_build_waiting_for_writers_shows_in_maintenance_progress(scratch_url):
    with psycopg.connect(scratch_url, autocommit=True) as setup:
        setup.execute("drop table if exists build_probe; create table build_probe (a int)")
    writer = psycopg.connect(scratch_url)
    writer.execute("insert into build_probe values (1)")  # an open transaction that wrote
    builder = threading.Thread(target=_build_index, args=(scratch_url,))
    builder.start()
    progress = None

    def building():
        # The build shows "initializing" for a moment before it starts to wait: a loaded machine
        # can catch it there, so wait for the phase this test is about.
        nonlocal progress
        progress = _as_system(scratch_url, tuning.maintenance_progress)
        return len(progress) and progress.iloc[0].phase.startswith("waiting for writers")

    try:
        wait_until(building, timeout=10, what="the index build to wait for writers in maintenance progress")
    finally:
        writer.rollback()
        writer.close()
        builder.join(20)
    row = progress.iloc[0]
    assert (row.operation, row.relation) == ("create index", "build_probe")
    assert row.phase.startswith("waiting for writers") and not row.automatic
    assert _as_system(scratch_url, tuning.maintenance_progress).empty, "nothing runs once the build ended"


def _build_index(url):
    with psycopg.connect(url, autocommit=True) as other:
        other.execute("create index concurrently build_probe_a on build_probe (a)")


def test_the_vacuum_queue_uses_the_table_own_thresholds(scratch_url):
    with psycopg.connect(scratch_url, autocommit=True) as setup:
        setup.execute(
            "drop table if exists vacuum_probe;"
            " create table vacuum_probe (a int) with (autovacuum_enabled = off,"
            " autovacuum_vacuum_threshold = 10, autovacuum_vacuum_scale_factor = 0);"
            " insert into vacuum_probe select generate_series(1, 100);"
            " delete from vacuum_probe where a <= 60"
        )
        setup.execute("select pg_stat_force_next_flush()")
    queue = None

    def counted():
        nonlocal queue
        queue = _as_system(scratch_url, tuning.vacuum_queue).set_index("table_name")
        return "vacuum_probe" in queue.index and queue.loc["vacuum_probe", "dead_rows"] == 60

    wait_until(counted, timeout=5, what="vacuum_probe's 60 dead rows in the vacuum queue")
    probe = queue.loc["vacuum_probe"]
    assert probe.dead_rows == 60 and probe.vacuum_threshold == 10
    assert probe.dead_percent_of_threshold == 600.0 and probe.vacuum_due
    assert not probe.autovacuum_on, "autovacuum_enabled = off is read from the table's options"
