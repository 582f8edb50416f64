"""The access screen (pages/access.py) in AppTest: grant, change and revoke a membership, never
above one's own role; a viewer sees the members but no forms."""

from dashboard.ui import md
from tests.pages.helpers import by_label, run_page, scalar


def test_lead_grants_changes_and_revokes_access(demo_rw_env):
    project = scalar("select id from projects.projects where name = 'Data Platform'")
    li = scalar("select id from users.users where login = 'li@example.com'")
    at = run_page("access", "lead@example.com", query={"project": str(project)})
    at.text_input(key="grant-email").input("LI@example.com")
    at.selectbox(key="grant-role").set_value("viewer")
    by_label(at.button, "Grant access").click()
    at.run()
    assert not at.error
    role = "select role from projects.project_access where project_id = :p and user_id = :u"
    assert scalar(role, p=project, u=li) == "viewer"
    at = run_page("access", "lead@example.com", query={"project": str(project)})
    at.selectbox(key="change-member").set_value(li)
    at.selectbox(key="change-role").set_value("contributor")
    by_label(at.button, "Change role").click()
    at.run()
    assert scalar(role, p=project, u=li) == "contributor"
    at = run_page("access", "lead@example.com", query={"project": str(project)})
    at.selectbox(key="revoke-member").set_value(li)
    at.checkbox(key="revoke-confirm").check()
    by_label(at.button, "Remove member").click()
    at.run()
    assert scalar("select count(*) from projects.project_access where project_id = :p and user_id = :u",
                  p=project, u=li) == 0  # fmt: skip


def test_a_maintainer_cannot_grant_owner_and_an_unknown_email_is_refused(demo_rw_env):
    project = scalar("select id from projects.projects where name = 'Annual Budget'")  # lead: maintainer
    at = run_page("access", "lead@example.com", query={"project": str(project)})
    assert "owner" not in at.selectbox(key="grant-role").options
    at.text_input(key="grant-email").input("nobody@example.com")
    by_label(at.button, "Grant access").click()
    at.run()
    assert at.error[0].value == md("There is no active user with this e-mail address.")


def test_viewer_sees_members_but_no_forms(demo_env):
    at = run_page("access", "viewer@example.com")
    assert len(at.dataframe[0].value) >= 5
    assert not [b for b in at.button if b.label in ("Grant access", "Change role", "Remove member")]


def test_an_owner_transfers_ownership_to_a_member_after_confirming(demo_rw_env):
    from db.core.engine import system_transaction, transaction
    from db.domain import access, projects, users

    with system_transaction() as conn:
        lead = users.find_user_by_login(conn, login="lead@example.com")
        heir = users.find_user_by_login(conn, login="reviewer@example.com")
    with transaction(actor_id=lead.id) as conn:
        project = projects.create_project(conn, name="Handover")
        access.grant_access(conn, project_id=project.id, user_id=heir.id, role="reviewer")
    owner = "select owner_id from projects.projects where id = :p"
    at = run_page("access", "lead@example.com", query={"project": str(project.id)})
    at.selectbox(key="transfer-to").set_value(heir.id)
    by_label(at.button, "Transfer ownership").click()
    at.run()
    assert "Tick the box" in at.warning[0].value and scalar(owner, p=project.id) == lead.id
    at.checkbox(key="transfer-confirm").check()
    by_label(at.button, "Transfer ownership").click()
    at.run()
    assert not at.error and not at.exception
    assert scalar(owner, p=project.id) == heir.id
    role = "select role from projects.project_access where project_id = :p and user_id = :u"
    assert (
        scalar(role, p=project.id, u=heir.id) == "owner" and scalar(role, p=project.id, u=lead.id) == "owner"
    )
    assert (
        scalar(
            "select count(*) from audit.audit_log where schema_name = 'projects' and table_name = 'projects'"
            " and action = 'update'"
            " and actor_id = :a and new_values->>'owner_id' = :o",
            a=lead.id,
            o=str(heir.id),
        )
        == 1
    ), "the transfer is audited as the lead's"


def test_a_maintainer_is_not_offered_the_transfer(demo_env):
    project = scalar("select id from projects.projects where name = 'Annual Budget'")  # lead: maintainer
    at = run_page("access", "lead@example.com", query={"project": str(project)})
    assert not at.exception and "Transfer ownership" not in [b.label for b in at.button]
