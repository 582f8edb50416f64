"""End to end in real Chromium (Debian's, driven by Playwright) against `prosync serve`."""

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import psycopg
import pytest
from playwright.sync_api import sync_playwright

from db.demo import DEMO_PASSWORD

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]  # fmt: skip
SHOTS = Path(__file__).resolve().parents[1] / "artifacts" / "screenshots"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(demo_url, tmp_path_factory):
    port = _free_port()
    env = {**os.environ, "DATABASE_URL": demo_url}
    process = subprocess.Popen(
        [sys.executable, "-m", "db.cli", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if urllib.request.urlopen(url + "/_stcore/health", timeout=2).status == 200:
                break
        except OSError:
            time.sleep(0.5)
    else:
        process.kill()
        raise RuntimeError("prosync serve did not come up: " + process.stdout.read().decode()[-2000:])
    yield url
    process.terminate()
    process.wait(20)


@pytest.fixture(scope="module")
def browser():
    assert Path(CHROMIUM).exists(), "Debian's chromium is missing: `make test` installs it"
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield chromium
        chromium.close()


def _sign_in(page, url, email):
    page.goto(url + "/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Sign in").click()


def _settled(page):
    """Wait until Streamlit has finished the rerun a click started."""
    page.wait_for_load_state("networkidle")
    page.wait_for_function("!document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=30000)
    page.wait_for_timeout(300)


def _no_exception(page):
    assert page.locator('[data-testid="stException"]').count() == 0
    assert "Traceback" not in page.content()


@pytest.mark.parametrize("email", ["lead@example.com", "viewer@example.com", "admin@example.com"])
def test_each_role_signs_in_stays_signed_in_and_signs_out(server, browser, email):
    SHOTS.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(viewport={"width": 1300, "height": 850})
    page = context.new_page()
    page.goto(server + "/")
    assert page.url.endswith("/auth/sign-in")  # signed out: straight to the form
    _sign_in(page, server, email)
    page.get_by_role("heading", name="Onboarding").wait_for(timeout=30000)
    page.get_by_text("Projects").first.wait_for()
    _no_exception(page)
    page.screenshot(path=str(SHOTS / f"onboarding-{email.split('@')[0]}.png"), full_page=True)
    cookie = next(c for c in context.cookies() if c["name"] == "prosync_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    assert "prosync_session" not in page.evaluate("document.cookie")
    assert cookie["value"] not in page.url

    page.reload()
    page.get_by_role("heading", name="Onboarding").wait_for(timeout=30000)
    other_tab = context.new_page()
    other_tab.goto(server + "/")
    other_tab.get_by_role("heading", name="Onboarding").wait_for(timeout=30000)

    page.get_by_role("button", name="Sign out").click()
    page.get_by_text("You were signed out").wait_for(timeout=30000)
    other_tab.reload()
    other_tab.get_by_text("You were signed out").wait_for(timeout=30000)
    replay = browser.new_context()
    replay.add_cookies([cookie])
    replayed = replay.new_page()
    replayed.goto(server + "/")
    replayed.get_by_text("You were signed out").wait_for(timeout=30000)
    _no_exception(replayed)
    replay.close()
    context.close()


def test_wrong_password_stays_on_the_form_with_one_message(server, browser):
    page = browser.new_page()
    page.goto(server + "/")
    page.get_by_label("Email").fill("lead@example.com")
    page.get_by_label("Password").fill("not-the-password")
    page.get_by_role("button", name="Sign in").click()
    assert page.locator(".msg").inner_text() == "The e-mail address or password is not correct."
    assert page.url.endswith("/auth/sign-in")
    page.close()


SCREENS = ["Onboarding", "Documents", "Audit trail", "Tags", "Access"]


@pytest.mark.parametrize(
    ("email", "screens"),
    [
        ("lead@example.com", SCREENS),
        ("reviewer@example.com", SCREENS),
        ("contributor@example.com", SCREENS),
        ("viewer@example.com", SCREENS),
        ("ops@example.com", SCREENS),
        ("admin@example.com", [*SCREENS, "Users and sessions"]),
    ],
)
def test_each_role_sees_its_screens_and_only_those(server, browser, email, screens):
    SHOTS.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    _sign_in(page, server, email)
    page.get_by_role("heading", name="Onboarding").wait_for(timeout=30000)
    nav = page.locator('[data-testid="stSidebarNav"] a')
    # Exactly the screens st.navigation was given; nothing listed from the pages/ folder itself.
    assert [link.split("\n")[-1] for link in nav.all_inner_texts()] == screens
    for title in screens:
        page.locator('[data-testid="stSidebarNav"] a', has_text=title).click()
        page.get_by_role("heading", name=title).first.wait_for(timeout=30000)
        page.wait_for_load_state("networkidle")
        page.wait_for_timeout(800)
        _no_exception(page)
        page.screenshot(path=str(SHOTS / f"{email.split('@')[0]}-{title.lower().replace(' ', '-')}.png"))
    context.close()


def test_lead_grants_and_revokes_tags_a_project_and_restores_a_document(server, browser, demo_url):
    with psycopg.connect(demo_url) as conn:
        (project,) = conn.execute("select id from projects.projects where name = 'Data Platform'").fetchone()
        (document,) = conn.execute(
            "select min(id) from documents.active_documents where project_id = %s", [project]
        ).fetchone()
    context = browser.new_context(viewport={"width": 1400, "height": 1100})
    page = context.new_page()
    _sign_in(page, server, "lead@example.com")
    page.get_by_role("heading", name="Onboarding").wait_for(timeout=30000)

    def screen(title, query=""):
        page.goto(f"{server}/{title}{query}")
        page.wait_for_load_state("networkidle")

    def done(text):
        page.get_by_text(text).first.wait_for(timeout=30000)
        _settled(page)
        _no_exception(page)

    screen("access", f"?project={project}")
    page.get_by_label("E-mail").fill("li@example.com")
    page.get_by_role("button", name="Grant access").click()
    done("li@example.com is now viewer")
    revoke = page.locator('[data-testid="stForm"]').filter(has_text="Remove a member")
    revoke.locator('[data-testid="stSelectbox"]').click()
    page.get_by_role("option", name="Li Finance (viewer)").click()
    revoke.get_by_text("They lose access").click()
    revoke.get_by_role("button", name="Remove member").click()
    done("no longer has access")

    screen("tags", f"?project={project}")
    form = page.locator('[data-testid="stForm"]').filter(has_text="Tags of this project")
    form.locator('[data-testid="stMultiSelect"]').click()
    page.get_by_role("option", name="sensitivity / Confidential").click()
    page.keyboard.press("Escape")
    form.get_by_role("button", name="Save tags").click()
    done("1 added, 0 removed")
    form.get_by_label("Remove sensitivity / Confidential").click()
    form.get_by_role("button", name="Save tags").click()
    done("0 added, 1 removed")

    screen("documents", f"?project={project}&document={document}")  # a document's own link
    page.get_by_text("Move this document to the trash").click()
    page.get_by_role("button", name="Delete document").click()
    done("moved to the project's trash")
    page.get_by_role("button", name="Restore").first.click()
    done("restored")
    page.screenshot(path=str(SHOTS / "lead-journey-documents.png"))
    context.close()
