"""The ops screen in AppTest: every tab renders real figures for ops; others are refused."""

from tests.pages.helpers import run_page


def test_ops_sees_every_tab_with_figures(demo_env):
    at = run_page("ops", "ops@example.com")
    assert not at.exception
    assert [t.label for t in at.tabs] == ["Overview", "Tables", "Indexes", "Partitions", "Queries"]
    metrics = {m.label: m.value for m in at.metric}
    assert int(metrics["Checks passing"]) + int(metrics["Warnings"]) + int(metrics["Critical"]) == 14
    assert int(metrics["Indexes"]) > 50
    tables = at.dataframe[0].value
    assert {"documents", "audit_log", "projects"} <= set(tables.table_name)
    assert any("drop index concurrently" in c.value for c in at.code)
    assert not at.info or all("pg_stat_statements" not in i.value for i in at.info)
    assert not [b for b in at.button if b.label == "Run partition maintenance"], "admins only"


def test_admin_gets_the_maintenance_and_reset_buttons(demo_env):
    at = run_page("ops", "admin@example.com")
    assert not at.exception
    labels = {b.label for b in at.button}
    assert {"Run partition maintenance", "Reset query statistics"} <= labels


def test_the_screen_is_refused_to_a_project_member(demo_env):
    at = run_page("ops", "lead@example.com")
    assert at.error[0].value == "The ops screen is for users with the ops or admin role."
    assert not at.tabs
