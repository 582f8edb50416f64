"""db/ops/health.py: the health checks and their status: rows in a DEFAULT partition, a missing
upcoming partition, a long-running query from another connection. (Duplicate indexes: the index
statistics in test_stats.py.)"""

import threading

from sqlalchemy import text

from db.core import migrate
from db.core.engine import make_engine, sqlalchemy_url
from db.ops import health
from tests.conftest import acting, create_database
from tests.waiting import wait_until


def _check(checks, name):
    return next(c for c in checks if c.name == name)


def test_a_row_in_a_default_partition_and_a_missing_partition_are_flagged(conn, ops_user):
    with acting(conn, ops_user):
        checks = health.health_checks(conn)
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
        checks = health.health_checks(conn)
    stray = _check(checks, "Rows in DEFAULT partitions")
    assert stray.status == "warning" and "audit.audit_log: 1" in stray.value
    missing = _check(checks, "Upcoming partitions")
    assert missing.status == "critical" and "audit.audit_log from" in missing.detail


def test_a_long_running_query_from_another_connection_is_reported(server_url, conn, ops_user, monkeypatch):
    monkeypatch.setattr(health, "LONG_QUERY_SECONDS", 1)
    url = create_database(server_url, "prosync_ops_long")
    migrate.upgrade(url=url)
    engine = make_engine(sqlalchemy_url(url))
    # The query under test: it must run past the 1-second threshold, so it really takes seconds.
    sleeper = threading.Thread(
        target=lambda: engine.connect().execute(text("select pg_sleep(4)")), daemon=True
    )
    sleeper.start()
    from db.core.engine import system_transaction

    def reported():
        with system_transaction(engine=engine) as other:
            checks = health.health_checks(other)
        return checks if _check(checks, "Long-running queries").status == "warning" else None

    checks = wait_until(reported, timeout=10, what="the 4-second query to be reported as long-running")
    sleeper.join(10)
    engine.dispose()
    long_running = _check(checks, "Long-running queries")
    assert long_running.status == "warning" and "pg_sleep" in long_running.detail


def test_documents_only_the_command_line_reads_are_reported_to_ops(conn, ops_user):
    from tests.conftest import approve_staged, make_project, make_staged, make_user

    owner = make_user(conn)
    project = make_project(conn, owner=owner)
    staged = make_staged(conn, project=project, uploader=owner)
    with acting(conn, None):
        approve_staged(conn, ingest_id=staged.id)  # by the command line: no dashboard reads its text
    with acting(conn, ops_user):
        waiting = _check(health.health_checks(conn), "Documents waiting for their text")
    assert waiting.status == "warning" and "prosync reindex-text" in waiting.detail
    # (a member who is not ops is refused the counts: tests/db/test_privileges.py, as prosync_app's login)
