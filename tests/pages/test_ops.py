"""The ops screen (pages/ops.py) in AppTest: every tab renders real figures for ops; others are refused."""

import pytest

from dashboard.ui import md
from db.core import migrate
from db.core.engine import system_transaction
from db.domain import users
from db.ops import explain
from tests.conftest import TEST_PASSWORD, _settings_pointing_at, create_database
from tests.pages.helpers import run_page

TABS = [
    "Overview", "Tables", "Indexes", "Partitions", "Queries", "Explain", "Activity",
    "Settings and maintenance", "Schema",
]  # fmt: skip


def _metrics(at) -> dict:
    return {m.label: m.value for m in at.metric}


def test_ops_sees_every_tab_with_figures(demo_env):
    at = run_page("ops", "ops@example.com")
    assert not at.exception
    assert [t.label for t in at.tabs] == TABS
    metrics = _metrics(at)
    assert int(metrics["Checks passing"]) + int(metrics["Warnings"]) + int(metrics["Critical"]) == 15
    assert not at.dataframe, "only the open tab runs its queries"


def test_tables_indexes_partitions_and_queries_tabs(demo_env):
    tables = run_page("ops", "ops@example.com", query={"tab": "Tables"})
    assert {"documents", "audit_log", "projects"} <= set(tables.dataframe[0].value.table_name)
    indexes = run_page("ops", "ops@example.com", query={"tab": "Indexes"})
    assert int(_metrics(indexes)["Indexes"]) > 50
    assert any("drop index concurrently" in c.value for c in indexes.code)
    parts = run_page("ops", "ops@example.com", query={"tab": "Partitions"})
    assert {"documents.documents", "audit.audit_log"} <= set(parts.dataframe[0].value.parent_table)
    assert not [b for b in parts.button if b.label == "Run partition maintenance"], "admins only"
    queries = run_page("ops", "ops@example.com", query={"tab": "Queries"})
    assert not queries.info and len(queries.dataframe[0].value) > 0
    for at in (tables, indexes, parts, queries):
        assert not at.exception and not at.warning


def test_explain_tab_shows_the_plan_of_each_screen_query(demo_env):
    at = run_page("ops", "ops@example.com", query={"tab": "Explain"})
    assert not at.exception and not at.warning
    summary = at.dataframe[0].value
    assert len(summary) == 11 and set(summary.screen) >= {"Documents", "Audit trail", "Review", "Onboarding"}
    documents = summary[summary["query"].str.startswith("first page")].iloc[0]
    assert "idx_documents_project_date" in documents.indexes
    assert "documents.documents" in documents.partitions_read
    assert any(c.language == "text" and "Limit" in c.value for c in at.code), "plans are shown"
    with system_transaction() as conn:
        sample = explain.explain_sample(conn)
    caption = at.caption[0].value
    assert f"as **{md(sample.login)}**" in caption and md(sample.project_name) in caption


def test_explain_tab_records_the_look_before_it_shows_the_project(demo_env, monkeypatch):
    """Found: the tab showed the busiest project's name and its top member before it recorded the
    ops user's look past membership; when the record cannot be written, nothing of it is shown."""
    from db.core.errors import PermissionDenied

    def refuse(conn, sample):
        raise PermissionDenied("The audit log refused the record.")

    monkeypatch.setattr(explain, "record_explain", refuse)
    at = run_page("ops", "ops@example.com", query={"tab": "Explain"})
    with system_transaction() as conn:
        sample = explain.explain_sample(conn)
    shown = " ".join(e.value for e in [*at.caption, *at.markdown, *at.error, *at.warning, *at.info])
    assert "refused the record" in shown
    assert md(sample.project_name) not in shown and md(sample.login) not in shown
    assert not at.dataframe


def test_activity_tab_shows_connections_and_sessions(demo_env):
    at = run_page("ops", "ops@example.com", query={"tab": "Activity"})
    assert not at.exception and not at.warning
    metrics = _metrics(at)
    assert int(metrics["Connections to this database"]) >= 1
    assert {"Active sessions", "Expired", "Revoked"} <= set(metrics)
    connections = at.dataframe[0].value
    me = connections[connections.is_this_screen].iloc[0]
    assert me.state == "active" and "pg_stat_activity" in me["query"]


def test_settings_tab_shows_settings_writer_and_vacuum_queue(demo_env):
    at = run_page("ops", "ops@example.com", query={"tab": "Settings and maintenance"})
    # The one warning this tab may rightly give on the test server: the suite creates databases,
    # and each CREATE DATABASE requests a checkpoint, so requested ones can outnumber timed ones.
    assert not at.exception
    assert all("checkpoints were requested rather than timed" in w.value for w in at.warning)
    settings = at.dataframe[0].value.set_index("name")
    assert "pg_stat_statements" in settings.loc["shared_preload_libraries", "value"]
    assert {"Checkpoints timed", "Checkpoints requested"} <= set(_metrics(at))
    assert [s.value for s in at.subheader] == [
        "Background writer and checkpointer", "Maintenance running now", "Autovacuum queue"
    ]  # fmt: skip
    queue = at.dataframe[-1].value
    assert {"documents", "audit_log"} & set(queue.table_name.str.split("_p20").str[0])


def test_schema_tab_shows_versions_roles_constraints_views_and_the_diagram(demo_env):
    at = run_page("ops", "ops@example.com", query={"tab": "Schema"})
    assert not at.exception and not at.warning
    metrics = _metrics(at)
    assert metrics["Database at revision"] == metrics["This ProSync's head"] == migrate.head_revision()
    graphs = at.get("graphviz_chart")
    assert len(graphs) == 1 and "cluster_documents" in graphs[0].proto.spec
    assert any("CREATE" not in c.value and "SELECT" in c.value for c in at.code), "view definitions"
    changes = next(d.value for d in at.dataframe if "statement" in d.value.columns)
    # Every migration run ends by applying the roles, recorded as a schema change of its own.
    assert "system.apply_roles()" in set(changes.object), set(changes.object)
    assert any("call system.apply_roles()" in str(statement) for statement in changes.statement)
    assert not any("not being recorded" in w.value for w in at.warning)


def test_admin_gets_the_maintenance_and_reset_buttons(demo_env):
    partitions = run_page("ops", "admin@example.com", query={"tab": "Partitions"})
    queries = run_page("ops", "admin@example.com", query={"tab": "Queries"})
    assert not partitions.exception and not queries.exception
    assert "Run partition maintenance" in {b.label for b in partitions.button}
    assert "Reset query statistics" in {b.label for b in queries.button}


def test_the_screen_is_refused_to_a_project_member(demo_env):
    at = run_page("ops", "lead@example.com")
    assert at.error[0].value == "The ops screen is for users with the ops or admin role."
    assert not at.tabs


@pytest.fixture(scope="module")
def plain_url(plain_server_url):
    """ProSync's schema on a server without pg_stat_statements preloaded, with one ops user."""
    url = create_database(plain_server_url, "prosync")
    migrate.upgrade(url=url)
    from db.core.engine import make_engine, sqlalchemy_url

    engine = make_engine(sqlalchemy_url(url))
    with system_transaction(engine=engine) as conn:
        users.create_user(
            conn, login="ops@example.com", display_name="Ops", password=TEST_PASSWORD, system_roles=("ops",)
        )
    engine.dispose()
    return url


def test_queries_tab_explains_a_server_without_pg_stat_statements(plain_url, monkeypatch):
    with _settings_pointing_at(plain_url, monkeypatch):
        at = run_page("ops", "ops@example.com", query={"tab": "Queries"})
    assert not at.exception and not at.dataframe
    assert "not loaded" in at.info[0].value and "shared_preload_libraries" in at.info[0].value
