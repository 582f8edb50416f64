"""The ops statistics against a real server with a state made on purpose."""

import hashlib
import os
import threading

import pandas as pd
import psycopg
import pytest
from sqlalchemy import text

from db.core import migrate
from db.core.engine import make_engine, sqlalchemy_url
from db.core.errors import PermissionDenied
from db.ops import activity, common, explain, health, schema, stats, tuning
from tests.conftest import acting, count, create_database, make_project, make_user
from tests.waiting import wait_until


@pytest.fixture
def ops_user(conn):
    return make_user(conn, roles=("ops",))


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
    duplicate = _check(checks, "Duplicate indexes")
    assert duplicate.status == "warning" and "ops_dup_a (covered by ops_dup_ab)" in duplicate.detail


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


def test_a_statistics_query_blocked_by_a_lock_times_out_with_a_message(
    database_url, ops_user, conn, monkeypatch
):
    monkeypatch.setattr(common, "LOCK_TIMEOUT_MS", 300)
    with acting(conn, None):
        conn.exec_driver_sql("lock table projects.projects in access exclusive mode")
        with pytest.raises(common.OpsTimeout, match="holds a lock"):
            _other_connection_reads(database_url, ops_user)


def _other_connection_reads(database_url, ops_user):
    from db.core.engine import system_transaction

    engine = make_engine(sqlalchemy_url(database_url))
    try:
        with system_transaction(engine=engine) as other:  # the user above is not committed
            stats.table_stats(other)
    finally:
        engine.dispose()


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


# Explain


def test_explain_runs_each_screen_query_as_a_member_and_reads_its_plan(conn, ops_user):
    owner = make_user(conn)
    project = make_project(conn, owner=owner)
    audit_rows = count(conn, "select count(*) from audit.audit_log")
    # Tables this small are cheaper to scan whole; make the planner show the indexes it would use.
    conn.exec_driver_sql("set local enable_seqscan = off")
    with acting(conn, ops_user):
        sample = explain.explain_sample(conn, project_id=project.id)
        explained = explain.explain_screens(conn, sample)
        after = conn.execute(text("select current_setting('prosync.actor_id')")).scalar_one()
    assert (sample.project_id, sample.user_id, sample.login) == (project.id, owner.id, owner.login)
    assert {e.screen for e in explained} == {
        "Onboarding",
        "Access",
        "Documents",
        "Audit trail",
        "Review",
        "Tags",
    }
    assert all(e.statements for e in explained), "every screen query sent at least one statement"
    by_query = {e.query: e for e in explained}
    documents = by_query["first page of a project's active documents (active_documents)"].main
    assert "active_documents" in documents.sql and documents.plan.splitlines()[0].startswith("Limit")
    # Which of the two fits is the planner's call on a table this small; either way the plan names it.
    assert {"idx_documents_project_date", "documents_uploaded_idx"} & set(documents.indexes)
    read, total = documents.partitions["documents.documents"]
    assert 1 <= read <= total
    trail = by_query["a project's last 30 days, 100 rows (audit_trail_by_project)"].main
    read, total = trail.partitions["audit.audit_log"]
    assert read < total, "partitions older than 30 days are pruned"
    permission = by_query["permission check (can_view)"].main
    assert permission.rows == 1, "ran as the project's owner, who may view it"
    assert after == str(ops_user.id), "the ops user acts again once the screens' queries ran"
    assert count(conn, "select count(*) from audit.audit_log") == audit_rows


def test_explain_is_for_ops_only(conn):
    owner = make_user(conn)
    project = make_project(conn, owner=owner)
    with acting(conn, owner), pytest.raises(PermissionDenied):
        explain.explain_sample(conn, project_id=project.id)


# Activity


def test_activity_shows_a_query_waiting_on_a_lock_and_who_holds_it(database_url, conn, ops_user):
    holder = psycopg.connect(database_url)
    holder.execute("lock table projects.tag_reference in access exclusive mode")
    holder_pid = holder.info.backend_pid
    waiter = threading.Thread(target=_read_tags, args=(database_url,))
    waiter.start()
    seen = None

    def lock_wait_seen():
        nonlocal seen
        with acting(conn, ops_user):
            seen = activity.activity(conn)
        return (seen.wait_event_type == "Lock").any()

    try:
        wait_until(lock_wait_seen, timeout=5, what="the reader to show waiting on the lock")
        waiting = seen[seen.wait_event_type == "Lock"]
    finally:
        holder.rollback()
        holder.close()
        waiter.join(10)
    assert len(waiting) == 1
    assert waiting.iloc[0].blocked_by == str(holder_pid)
    assert "tag_reference" in waiting.iloc[0].query
    assert seen.is_this_screen.sum() == 1


def _read_tags(database_url):
    with psycopg.connect(database_url) as other:
        other.execute("select count(*) from projects.tag_reference")


def test_sessions_are_counted_as_active_expired_and_revoked_by_browser(conn, ops_user):
    firefox = "Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0"
    chrome = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/142.0 Safari/537.36"
    with acting(conn, ops_user):
        before = activity.session_summary(conn, idle_minutes=60).counts
    user = make_user(conn)
    sessions = [
        ("now() - interval '1 hour'", "now() + interval '1 day'", "now()", None, firefox),  # active
        (
            "now() - interval '3 hours'",
            "now() + interval '1 day'",
            "now() - interval '2 hours'",
            None,
            firefox,
        ),
        ("now() - interval '2 days'", "now() - interval '1 day'", "now() - interval '1 day'", None, chrome),
        ("now() - interval '1 hour'", "now() + interval '1 day'", "now()", "signed out", chrome),
    ]
    for created, expires, active, reason, agent in sessions:
        conn.execute(
            text(
                "insert into auth.sessions (user_id, token_hash, created_at, expires_at, last_active_at,"
                f" revoked_at, revoke_reason, user_agent) values (:u, :h, {created}, {expires}, {active},"
                " case when cast(:r as text) is null then null else now() end, :r, :a)"
            ),
            {"u": user.id, "h": hashlib.sha256(os.urandom(16)).digest(), "r": reason, "a": agent},
        )
    with acting(conn, ops_user):
        summary = activity.session_summary(conn, idle_minutes=60)
    assert summary.counts["active"] == before["active"] + 1
    assert summary.counts["expired"] == before["expired"] + 2, "past its lifetime, or idle too long"
    assert summary.counts["revoked"] == before["revoked"] + 1
    agents = summary.by_agent.set_index(["agent", "state"]).sessions
    assert agents["Firefox on Linux", "active"] >= 1 and agents["Chrome on Windows", "revoked"] >= 1
    mine = summary.active[summary.active.login == user.login]
    assert len(mine) == 1 and mine.iloc[0].agent == "Firefox on Linux"
    assert not {"token_hash", "id"} & set(summary.active.columns), "no token material on the screen"


def test_user_agents_read_as_browser_and_system():
    assert activity.agent_family(None) == "unknown"
    assert activity.agent_family("curl/8.5.0") == "curl"
    edge = "Mozilla/5.0 (Windows NT 10.0) AppleWebKit/537.36 Chrome/142.0 Safari/537.36 Edg/142.0"
    assert activity.agent_family(edge) == "Edge on Windows"
    safari = (
        "Mozilla/5.0 (iPhone; CPU iPhone OS 18_0 like Mac OS X) AppleWebKit/605 Version/18.0 Safari/604.1"
    )
    assert activity.agent_family(safari) == "Safari on iOS"


# Settings and maintenance


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
        nonlocal progress
        progress = _as_system(scratch_url, tuning.maintenance_progress)
        return len(progress)

    try:
        wait_until(building, timeout=5, what="the index build to show in maintenance progress")
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


# Schema


def test_schema_state_names_the_revision_and_every_step(conn, ops_user):
    with acting(conn, ops_user):
        state = schema.schema_state(conn)
    assert state.current == state.head == migrate.head_revision()
    upgrades = state.history[state.history.direction == "upgrade"]
    assert state.head in set(upgrades.version)


def test_roles_memberships_constraints_and_views_come_from_the_catalog(conn, ops_user):
    with acting(conn, None):
        conn.exec_driver_sql("create role ops_probe_group nologin")
        conn.exec_driver_sql("create role ops_probe_member login")
        conn.exec_driver_sql("grant ops_probe_group to ops_probe_member")
        conn.exec_driver_sql(
            "create table public.ops_parent (id int primary key);"
            " create table public.ops_child (id int primary key, parent_id int not null"
            "  constraint ops_child_parent_fk references public.ops_parent (id),"
            "  constraint ops_child_positive check (id > 0));"
            " create materialized view public.ops_matview as select count(*) from public.ops_child"
        )
    with acting(conn, ops_user):
        roles = schema.database_roles(conn).set_index("role")
        members = schema.role_memberships(conn)
        found = schema.constraints(conn)
        defined = schema.views(conn).set_index("view_name")
        graph = schema.schema_graph(conn)
    assert roles.loc["ops_probe_member", "can_login"] and roles.loc["ops_probe_member", "member_of"] == (
        "ops_probe_group"
    )
    assert ((members.role == "ops_probe_group") & (members.member == "ops_probe_member")).sum() == 1
    child = found[found.table_name == "ops_child"].set_index("constraint_name")
    assert child.loc["ops_child_parent_fk", "kind"] == "foreign key"
    assert child.loc["ops_child_positive", "definition"] == "CHECK ((id > 0))"
    assert "primary key" in set(child.kind)
    assert not found.table_name.str.contains("_default$|_p20", regex=True).any(), "no partition copies"
    assert {"active_documents", "pending_documents", "onboarding_project_summary"} <= set(defined.index)
    assert defined.loc["ops_matview", "kind"] == "materialized view"
    assert "public.ops_child" in graph.tables and "documents.documents" in graph.tables
    assert not any(t.endswith("_default") for t in graph.tables), "partitions fold into their table"
    fk = next(r for r in graph.relations if r.name == "ops_child_parent_fk")
    assert (fk.table, fk.columns, fk.ref_table, fk.ref_columns) == (
        "public.ops_child",
        ("parent_id",),
        "public.ops_parent",
        ("id",),
    )
    assert any(
        r.table == "documents.documents" and r.ref_table == "projects.projects" for r in graph.relations
    )


def test_the_er_diagram_draws_tables_keys_and_arrows(conn, ops_user):
    from dashboard.er_diagram import to_dot, to_mermaid

    with acting(conn, ops_user):
        graph = schema.schema_graph(conn)
    dot = to_dot(graph, schemas=["projects", "users"])
    assert dot.startswith("digraph") and 'subgraph "cluster_projects"' in dot
    assert '"projects.projects":c_owner_id -> "users.users":c_id' in dot
    assert "documents.documents" not in dot, "only the schemas asked for"
    assert "display_name" not in dot and "display_name" in to_dot(graph, schemas=["users"], all_columns=True)
    mermaid = to_mermaid(graph)
    assert mermaid.startswith("erDiagram") and "projects__projects ||--o{ documents__documents" in mermaid
