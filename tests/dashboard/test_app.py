"""dashboard/app.py, the router, through streamlit.testing.v1.AppTest.

AppTest cannot send cookies, so the router is tested signed out here (and signed in, end to end,
in Chromium, tests/e2e/); the screens are run with the user the router would have resolved
(tests/pages/).
"""

from pathlib import Path

from streamlit.testing.v1 import AppTest

from dashboard.ui import md

ROOT = Path(__file__).resolve().parents[2]
APP = str(ROOT / "dashboard" / "app.py")


def test_without_a_session_cookie_the_router_shows_only_the_way_to_sign_in(demo_env):
    at = AppTest.from_file(APP, default_timeout=30).run()
    assert not at.exception
    assert at.info[0].value == md("Please sign in.")
    assert not at.dataframe and not at.sidebar.button
