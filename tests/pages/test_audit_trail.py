"""The audit trail screen (pages/audit_trail.py) in AppTest: a project's trail and its filters."""

from tests.pages.helpers import by_label, run_page, scalar


def test_audit_trail_filters_and_shows_the_trail(demo_env):
    apollo = scalar("select id from projects.projects where name = 'Apollo Onboarding'")
    at = run_page("audit_trail", "lead@example.com", query={"project": str(apollo)})
    trail = at.dataframe[0].value
    assert len(trail) > 0 and set(trail["action"]) >= {"insert"}
    by_label(at.selectbox, "Action").set_value("soft_delete")
    at.run()
    assert set(at.dataframe[0].value["action"]) == {"soft_delete"}
    by_label(at.selectbox, "Table").set_value("project_tag")
    at.run()
    assert at.info[0].value == "No audit events match these filters."
