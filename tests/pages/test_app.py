"""The entrypoint and the onboarding page, through streamlit.testing.v1.AppTest."""

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from db.demo import DEMO_PASSWORD

APP = str(Path(__file__).resolve().parents[2] / "dashboard" / "app.py")


def _sign_in(at: AppTest, email: str, password: str) -> AppTest:
    inputs = {t.label: t for t in at.text_input}
    inputs["Email"].input(email)
    inputs["Password"].input(password)
    at.button[0].click()
    return at.run()


def test_signed_out_visitor_sees_only_the_sign_in_form(demo_env):
    at = AppTest.from_file(APP, default_timeout=30).run()
    assert not at.exception
    assert [t.label for t in at.text_input] == ["Email", "Password"]
    assert not at.dataframe


def test_wrong_password_gets_one_message_for_every_failure(demo_env):
    at = _sign_in(AppTest.from_file(APP, default_timeout=30).run(), "lead@example.com", "nope-nope-nope")
    assert at.error[0].value == "The e-mail address or password is not correct."
    unknown = _sign_in(
        AppTest.from_file(APP, default_timeout=30).run(), "ghost@example.com", "nope-nope-nope"
    )
    assert unknown.error[0].value == at.error[0].value


@pytest.mark.parametrize(
    ("email", "projects"),
    [
        ("lead@example.com", 11),
        ("viewer@example.com", 11),
        ("li@example.com", 1),
        ("admin@example.com", 11),
    ],
)
def test_onboarding_shows_the_projects_the_user_can_see(demo_env, email, projects):
    at = _sign_in(AppTest.from_file(APP, default_timeout=30).run(), email, DEMO_PASSWORD)
    assert not at.exception
    assert at.metric[0].label == "Projects"
    assert at.metric[0].value == str(projects)
    assert len(at.dataframe[0].value) == projects
