"""The "Your account" screen (pages/account.py) in AppTest: one's own sessions, signing out
everywhere else, changing one's own password, one's API access tokens."""

from tests.pages.helpers import by_label, open_sessions, revoked, run_page, scalar


def test_a_user_sees_their_sessions_and_signs_out_everywhere_else(demo_rw_env):
    here, *others = open_sessions("contributor@example.com", 3)
    at = run_page("account", "contributor@example.com", session_id=here.session.id)
    shown = at.dataframe[0].value
    assert shown["This one"].sum() == 1 and len(shown) >= 3
    by_label(at.button, f"Sign out everywhere else ({len(shown) - 1})").click()
    at.run()
    assert not at.error
    assert not revoked(here) and all(revoked(o) for o in others)


def test_a_user_changes_their_password_and_a_wrong_current_one_changes_nothing(demo_rw_env):
    here, elsewhere = open_sessions("li@example.com", 2)
    before = scalar("select password_hash from users.users where login = 'li@example.com'")
    at = run_page("account", "li@example.com", session_id=here.session.id)
    at.text_input(key="own-password-current").input("not-my-password")
    at.text_input(key="own-password-new").input("a-fresh-long-passphrase")
    at.text_input(key="own-password-again").input("a-fresh-long-passphrase")
    by_label(at.button, "Change password").click()
    at.run()
    assert "current password is not correct" in at.error[0].value
    assert scalar("select password_hash from users.users where login = 'li@example.com'") == before
    assert not revoked(elsewhere)
    at.text_input(key="own-password-current").input("prosync-demo")
    at.text_input(key="own-password-new").input("a-fresh-long-passphrase")
    at.text_input(key="own-password-again").input("a-fresh-long-passphrase")
    by_label(at.button, "Change password").click()
    at.run()
    assert not at.error
    assert scalar("select password_hash from users.users where login = 'li@example.com'") != before
    assert not revoked(here) and revoked(elsewhere)


def test_a_user_makes_an_api_token_sees_it_once_and_revokes_it(demo_rw_env):
    login = "maria@example.com"
    project = scalar("select id from projects.projects where name = 'Compliance Audit'")
    at = run_page("account", login)
    by_label(at.text_input, "Name").input("")
    by_label(at.button, "Make token").click()
    at.run()
    assert "name" in at.error[0].value and not at.code
    by_label(at.text_input, "Name").input("Nightly export")
    by_label(at.multiselect, "Scopes").set_value(["read", "upload"])
    by_label(at.multiselect, "Projects").set_value([project])
    by_label(at.number_input, "Expires after (days)").set_value(30)
    by_label(at.button, "Make token").click()
    at.run()
    assert not at.error and not at.exception
    secret = at.code[0].value
    assert secret.startswith("psy_") and "not shown again" in at.warning[0].value
    token = scalar(
        "select jsonb_build_object('id', id, 'scopes', scopes,"
        " 'days', extract(day from expires_at - created_at))"
        " from auth.api_tokens where token_hash = sha256(:s)",
        s=secret.encode(),
    )
    assert token["scopes"] == ["read", "upload"] and token["days"] == 30
    shown = at.dataframe[-1].value
    assert "Nightly export" in set(shown["Name"]) and secret not in shown.to_string()
    at.run()
    assert not at.code  # shown once
    by_label(at.selectbox, "Token").set_value(token["id"])
    by_label(at.button, "Revoke at once").click()
    at.run()
    assert not at.error
    assert scalar("select revoked_at is not null from auth.api_tokens where id = :t", t=token["id"])
