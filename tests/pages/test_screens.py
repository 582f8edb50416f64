"""A cross-screen suite: every screen renders for every demo role without an exception. Each
screen's own forms, success and failure paths are tested in tests/pages/test_<screen>.py."""

import pytest

from tests.pages.helpers import run_page

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
