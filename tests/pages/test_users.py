"""The users screen (pages/users.py) in AppTest: for administrators only; create, find, deactivate
and reset a password, each checked in the database."""

from tests.pages.helpers import by_label, open_sessions, revoked, run_page, scalar


def test_users_screen_refuses_non_admins(demo_env):
    at = run_page("users", "lead@example.com")
    assert at.error[0].value == "Only an administrator can manage users."
    assert not at.dataframe


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


def test_an_admins_password_reset_ends_the_users_sessions(demo_rw_env):
    (stolen,) = open_sessions("sam@example.com", 1)
    user_id = scalar("select id from users.users where login = 'sam@example.com'")
    at = run_page("users", "admin@example.com")
    at.selectbox(key="manage-user").set_value(user_id)
    at.run()
    at.text_input(key="reset-password").input("a-reset-long-passphrase")
    by_label(at.button, "Reset password").click()
    at.run()
    assert not at.error
    assert revoked(stolen)
