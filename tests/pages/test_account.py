"""The "Your account" screen (pages/account.py) in AppTest: one's own sessions, signing out
everywhere else, changing one's own password."""

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
