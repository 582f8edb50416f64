"""The router and the onboarding page, through streamlit.testing.v1.AppTest.

AppTest cannot send cookies, so the router is tested signed out here (and signed in, end to end,
in Chromium); pages are run with the user the router would have resolved.
"""

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from dashboard.ui import md
from db.core.engine import system_transaction
from db.domain import users

ROOT = Path(__file__).resolve().parents[2]
APP = str(ROOT / "dashboard" / "app.py")


def page(name: str, login: str) -> AppTest:
    """A page script run as the demo user `login`."""
    at = AppTest.from_file(str(ROOT / "pages" / f"{name}.py"), default_timeout=30)
    with system_transaction() as conn:
        at.session_state["user"] = users.find_user_by_login(conn, login=login)
    return at.run()


def test_without_a_session_cookie_the_router_shows_only_the_way_to_sign_in(demo_env):
    at = AppTest.from_file(APP, default_timeout=30).run()
    assert not at.exception
    assert at.info[0].value == md("Please sign in.")
    assert not at.dataframe and not at.sidebar.button


@pytest.mark.parametrize(
    ("login", "projects"),
    [("lead@example.com", 11), ("viewer@example.com", 11), ("li@example.com", 1), ("admin@example.com", 11)],
)
def test_onboarding_shows_the_projects_the_user_can_see(demo_env, login, projects):
    at = page("onboarding", login)
    assert not at.exception
    assert at.metric[0].label == "Projects" and at.metric[0].value == str(projects)
    assert len(at.dataframe[0].value) == projects


def test_onboarding_for_someone_in_no_project_says_what_to_do(demo_env):
    at = page("onboarding", "ops@example.com")
    assert not at.exception
    assert "not a member of any project" in at.info[0].value
