"""A cross-screen suite: text that people and clients supply is shown as text on every screen.
Hostile values are planted through the data-access layer and the screens run in AppTest; every
Markdown source, label and chart string must hold them only escaped (the helpers themselves, md(),
chart_text() and csv_bytes(), are tested in tests/dashboard/test_ui.py; tests/e2e/test_journeys.py
looks at the screens in Chromium)."""

import json
import re

import pytest
from streamlit.testing.v1.element_tree import AlertBase, HeadingBase, Image, Markdown, Toast

from dashboard.ui import md
from db.core.engine import system_transaction
from db.domain import users
from db.tools.demo import DEMO_PASSWORD
from tests.pages.helpers import MARKER, RICH, RICH_FILE, by_label, plant_hostile_values, run_page, scalar


def _markdown_sources(at) -> list[str]:
    """Every string of the run that Streamlit reads as Markdown: bodies, headings, alerts, toasts,
    labels (widgets, tabs, expanders, metrics), tooltips, image captions, progress texts."""
    found = []
    for node in at:
        if isinstance(node, Markdown | AlertBase | HeadingBase | Toast):
            found.append(node.value)
        if isinstance(node, Image):
            found.extend(node.captions)
        for field in ("label", "help", "text"):  # text: a progress bar's
            value = getattr(node, field, None)
            if isinstance(value, str):
                found.append(value)
    return found


def _assert_shown_as_text(at, values, *, expected=()) -> list[str]:
    """Each place MARKER shows in Markdown is inside a value escaped whole, and the `expected`
    values are among them (so the check is not vacuous)."""
    assert not at.exception, at.exception
    sources = _markdown_sources(at)
    for source in sources:
        rest = source
        for value in sorted(values, key=len, reverse=True):
            rest = rest.replace(md(value), "")
        assert MARKER not in rest, source
    for value in expected:
        assert any(md(value) in source for source in sources), value
    return sources


def _chart_strings(at) -> list[str]:
    """Every string in the run's plotly figures that carries MARKER, without the tags plotly itself
    puts in hover templates."""
    found = []

    def walk(item):
        if isinstance(item, str) and MARKER in item:
            found.append(re.sub(r"<br>|<extra>|</extra>", " ", item))
        elif isinstance(item, str):
            pass
        elif isinstance(item, dict):
            for value in item.values():
                walk(value)
        elif isinstance(item, list):
            for value in item:
                walk(value)

    for chart in at.get("plotly_chart"):
        walk(json.loads(chart.proto.spec))
    return found


def _select(at, key: str, rows: list[int]):
    at.session_state[key] = {"selection": {"rows": rows, "columns": [], "cells": []}}


@pytest.fixture
def hostile(demo_rw_env):
    return plant_hostile_values(password=DEMO_PASSWORD)


def test_hostile_project_tag_and_file_values_read_as_text_on_every_screen(hostile):
    owner, project, files = hostile.user.login, hostile.project, hostile.file_names
    values = list(hostile.values)
    rich = f"{MARKER} {RICH}"

    at = run_page("onboarding", owner)
    _assert_shown_as_text(at, values, expected=[project.name, rich, hostile.tag, hostile.trashed_project])
    charted = _chart_strings(at)
    assert charted and all("<" not in s for s in charted) and any("&lt;b&gt;" in s for s in charted)
    new_name = f"Zz {MARKER} new {RICH}"
    values.append(new_name)
    at.text_input(key="new-name").input(new_name)
    by_label(at.button, "Create project").click()
    at.run()
    _assert_shown_as_text(at, values, expected=[new_name])  # the success message
    with system_transaction() as conn:
        friend = users.create_user(
            conn, login=f"friend-{project.id}@example.com", display_name="Friend", password=DEMO_PASSWORD
        )

    approved = scalar("select id from documents.active_documents where name = :n", n=files["approved"])
    at = run_page("documents", owner, query={"document": str(approved), "project": str(project.id)})
    _assert_shown_as_text(at, values, expected=[files["approved"], files["trashed"], project.name, owner])

    at = run_page("review", owner)
    _select(at, "queue-0", [0])
    _select(at, "rejected-0", [0])
    at.run()
    _assert_shown_as_text(at, values, expected=[files["pending"], files["rejected"], rich, owner])
    by_label(at.button, "Approve").click()
    at.run()
    _assert_shown_as_text(at, values, expected=[files["pending"]])  # the success message

    at = run_page("tags", owner, query={"project": str(project.id)})
    _assert_shown_as_text(at, values)
    charted = _chart_strings(at)
    assert charted and all("<" not in s for s in charted) and any("&lt;b&gt;" in s for s in charted)
    at.multiselect[0].set_value([])
    by_label(at.button, "Save tags").click()
    at.run()
    _assert_shown_as_text(at, values, expected=[project.name])  # the success message

    at = run_page("access", owner, query={"project": str(project.id)})
    at.text_input(key="grant-email").input(friend.login)
    by_label(at.button, "Grant access").click()
    at.run()
    _assert_shown_as_text(at, values, expected=[project.name])

    for page in ("audit_trail", "account"):
        _assert_shown_as_text(run_page(page, owner, query={"project": str(project.id)}), values)

    at = run_page("users", "admin@example.com")
    at.text_input(key="user-search").input(f"zz-{MARKER}")
    at.run()
    _assert_shown_as_text(at, values, expected=[owner])  # "I mean it: change …'s account"


def test_an_upload_with_hostile_names_reports_each_file_as_text(hostile):
    staged, refused = f"{MARKER} {RICH_FILE} upload.txt", f"{MARKER} {RICH_FILE} upload.exe"
    at = run_page("upload", hostile.user.login)
    at.file_uploader(key="upload-files").set_value(
        [(staged, f"{MARKER} an upload".encode(), "text/plain"), (refused, b"MZ" + b"\0" * 64, "text/plain")]
    )
    by_label(at.button, "Upload for review").click()
    at.run()
    sources = _assert_shown_as_text(at, [*hostile.values, staged, refused], expected=[staged, refused])
    assert any(md(refused) in e.value for e in at.error) and any(md(staged) in s.value for s in at.success)
    assert any(md(hostile.project.name) in s for s in sources), "the progress bar names the project"
