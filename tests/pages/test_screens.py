"""Audit trail, tags, access management and users: every page renders for every role, and each
form's success and failure paths behave (checked in the database)."""

import pytest

from dashboard.ui import md
from tests.pages.helpers import by_label, run_page, scalar

LOGINS = ("admin@example.com", "ops@example.com", "lead@example.com", "reviewer@example.com",
          "contributor@example.com", "viewer@example.com")  # fmt: skip


@pytest.mark.parametrize(
    "page",
    [
        "onboarding",
        "documents",
        "upload",
        "review",
        "audit_trail",
        "tags",
        "access",
        "users",
        "ops",
        "account",
    ],
)
@pytest.mark.parametrize("login", LOGINS)
def test_every_page_renders_for_every_role(demo_env, page, login):
    at = run_page(page, login)
    assert not at.exception


def test_users_screen_refuses_non_admins(demo_env):
    at = run_page("users", "lead@example.com")
    assert at.error[0].value == "Only an administrator can manage users."
    assert not at.dataframe


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


def test_contributor_tags_a_project_and_a_viewer_cannot(demo_rw_env):
    viewer = run_page("tags", "viewer@example.com")
    assert "do not let you tag" in viewer.info[0].value
    at = run_page("tags", "contributor@example.com")
    project = scalar("select id from projects.projects where name = 'Billing Revamp'")
    finance = scalar("select id from projects.tag_reference where name = 'Finance'")
    at.selectbox(key="tag-project").set_value(project)
    at.run()
    at.multiselect[0].select(finance)
    by_label(at.button, "Save tags").click()
    at.run()
    assert not at.error
    assert scalar("select count(*) from projects.project_tag where project_id = :p and tag_id = :t",
                  p=project, t=finance) == 1  # fmt: skip


def test_only_administrators_are_offered_the_catalogue_forms(demo_env):
    at = run_page("tags", "lead@example.com")  # owns projects, but the catalogue is everyone's
    assert not [b for b in at.button if b.label in ("Create tag", "Save tag")]
    assert any("administrators curate" in c.value for c in at.caption)


def test_a_bad_tag_category_is_refused_with_its_rule(demo_rw_env):
    before = scalar("select count(*) from projects.tag_reference")
    at = run_page("tags", "admin@example.com")
    at.text_input(key="tag-name").input("Q4")
    at.text_input(key="tag-category").input("Not A Slug!")
    by_label(at.button, "Create tag").click()
    at.run()
    assert "category is 1 to 40 lowercase letters" in at.error[0].value
    assert scalar("select count(*) from projects.tag_reference") == before


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


def test_admin_creates_a_user_and_a_weak_password_is_refused(demo_rw_env):
    at = run_page("users", "admin@example.com")
    at.text_input(key="new-user-email").input("nina@example.com")
    at.text_input(key="new-user-name").input("Nina New")
    at.text_input(key="new-user-password").input("short")
    by_label(at.button, "Create user").click()
    at.run()
    assert "at least 10" in at.error[0].value
    assert scalar("select count(*) from users.users where login = 'nina@example.com'") == 0
    at.text_input(key="new-user-email").input("nina@example.com")
    at.text_input(key="new-user-name").input("Nina New")
    at.text_input(key="new-user-password").input("a-fine-long-passphrase")
    by_label(at.button, "Create user").click()
    at.run()
    assert not at.error
    assert scalar("select count(*) from users.users where login = 'nina@example.com'") == 1


def test_admin_deactivates_a_user_which_ends_their_sessions(demo_rw_env):
    from db.core.engine import system_transaction
    from db.domain import sessions

    user_id = scalar("select id from users.users where login = 'sam@example.com'")
    with system_transaction() as conn:
        new = sessions.create_session(conn, user_id=user_id)
    at = run_page("users", "admin@example.com")
    at.selectbox(key="manage-user").set_value(user_id)
    at.run()
    assert by_label(at.button, "Deactivate").disabled  # not without confirmation
    at.checkbox(key="manage-confirm").check()
    at.run()
    by_label(at.button, "Deactivate").click()
    at.run()
    assert not at.error
    assert scalar(
        "select revoked_at is not null from auth.sessions where id = cast(:s as uuid)", s=new.session.id
    )
    assert scalar("select not is_active from users.users where id = :u", u=user_id)


def test_finding_users_narrows_the_table_and_the_managed_user(demo_env):
    at = run_page("users", "admin@example.com")
    everyone = len(at.dataframe[0].value)
    at.text_input(key="user-search").input("REVIEW")  # e-mail or name, any case
    at.run()
    assert not at.exception
    assert list(at.dataframe[0].value["E-mail"]) == ["reviewer@example.com"] and everyone > 1
    assert at.selectbox(key="manage-user").options == ["reviewer@example.com"]
    at.text_input(key="user-search").input("nobody-like-this")
    at.run()
    assert "No user matches" in at.info[0].value and not at.exception


def _sessions_of(login: str, n: int) -> list:
    from db.core.engine import system_transaction
    from db.domain import sessions

    user_id = scalar("select id from users.users where login = :l", l=login)
    with system_transaction() as conn:
        return [sessions.create_session(conn, user_id=user_id, user_agent=f"browser {i}") for i in range(n)]


def _revoked(new) -> bool:
    return scalar(
        "select revoked_at is not null from auth.sessions where id = cast(:s as uuid)", s=new.session.id
    )


def test_a_user_sees_their_sessions_and_signs_out_everywhere_else(demo_rw_env):
    here, *others = _sessions_of("contributor@example.com", 3)
    at = run_page("account", "contributor@example.com", session_id=here.session.id)
    shown = at.dataframe[0].value
    assert shown["This one"].sum() == 1 and len(shown) >= 3
    by_label(at.button, f"Sign out everywhere else ({len(shown) - 1})").click()
    at.run()
    assert not at.error
    assert not _revoked(here) and all(_revoked(o) for o in others)


def test_a_user_changes_their_password_and_a_wrong_current_one_changes_nothing(demo_rw_env):
    here, elsewhere = _sessions_of("li@example.com", 2)
    before = scalar("select password_hash from users.users where login = 'li@example.com'")
    at = run_page("account", "li@example.com", session_id=here.session.id)
    at.text_input(key="own-password-current").input("not-my-password")
    at.text_input(key="own-password-new").input("a-fresh-long-passphrase")
    at.text_input(key="own-password-again").input("a-fresh-long-passphrase")
    by_label(at.button, "Change password").click()
    at.run()
    assert "current password is not correct" in at.error[0].value
    assert scalar("select password_hash from users.users where login = 'li@example.com'") == before
    assert not _revoked(elsewhere)
    at.text_input(key="own-password-current").input("prosync-demo")
    at.text_input(key="own-password-new").input("a-fresh-long-passphrase")
    at.text_input(key="own-password-again").input("a-fresh-long-passphrase")
    by_label(at.button, "Change password").click()
    at.run()
    assert not at.error
    assert scalar("select password_hash from users.users where login = 'li@example.com'") != before
    assert not _revoked(here) and _revoked(elsewhere)


def test_an_admins_password_reset_ends_the_users_sessions(demo_rw_env):
    (stolen,) = _sessions_of("sam@example.com", 1)
    user_id = scalar("select id from users.users where login = 'sam@example.com'")
    at = run_page("users", "admin@example.com")
    at.selectbox(key="manage-user").set_value(user_id)
    at.run()
    at.text_input(key="reset-password").input("a-reset-long-passphrase")
    by_label(at.button, "Reset password").click()
    at.run()
    assert not at.error
    assert _revoked(stolen)
