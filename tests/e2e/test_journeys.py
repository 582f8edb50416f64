"""End to end in real Chromium (Debian's, driven by Playwright) against `prosync serve`.

Every journey writes: signing in alone opens a session and audits it, and some grant, tag, trash,
upload or review. So each journey has a database of its own, copied from a template of the demo
that no one may connect to, and its own `prosync serve` over it: no journey reads another's writes,
and the shared demo database that the screen tests read (conftest's demo_url) is not used here."""

import itertools
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from playwright.sync_api import sync_playwright
from sqlalchemy import make_url

from db.tools.bench.render import CHROMIUM, CHROMIUM_ARGS, start_server
from db.tools.demo import DEMO_PASSWORD
from tests.conftest import DEMO_STORAGE, _demo_database, _with_database

SHOTS = Path(__file__).resolve().parents[1] / "artifacts" / "screenshots"
TEMPLATE = "prosync_journeys_template"
_copies = itertools.count(1)


def _start(database_url: str, extra_env: dict[str, str]):
    """`prosync serve` on a free port against `database_url`, started outside the checkout (as an
    operator's service would be: ProSync's Streamlit settings must apply all the same); returns
    (base URL, process)."""
    return start_server({"DATABASE_URL": database_url, **extra_env}, cwd=tempfile.gettempdir())


def _stop(process) -> None:
    process.terminate()
    process.wait(20)


def _admin(server_url: str, *statements: str) -> None:
    with psycopg.connect(server_url, autocommit=True) as conn:
        for statement in statements:
            conn.execute(statement)


@pytest.fixture(scope="module")
def demo_template(server_url, tmp_path_factory) -> Iterator[Path]:
    """The demo, loaded once into a template database that refuses connections (so nothing can
    write to it after the load); returns its objects folder, which the copies copy."""
    with psycopg.connect(server_url, autocommit=True) as conn:
        if conn.execute("select 1 from pg_database where datname = %s", [TEMPLATE]).fetchone():
            conn.execute(f'alter database "{TEMPLATE}" with is_template false allow_connections true')
    objects = tmp_path_factory.mktemp("journeys-objects")
    _demo_database(server_url, TEMPLATE, objects)
    _admin(
        server_url,
        f'alter database "{TEMPLATE}" with is_template true allow_connections false',
        f"select pg_terminate_backend(pid) from pg_stat_activity where datname = '{TEMPLATE}'",
    )
    yield objects
    _admin(
        server_url,
        f'alter database "{TEMPLATE}" with is_template false allow_connections true',
        f'drop database "{TEMPLATE}" with (force)',
    )


def _copy_of_the_demo(server_url: str, template_objects: Path, objects: Path) -> str:
    """A new database copied from the demo template, with a copy of its objects in `objects`."""
    name = f"prosync_journey_copy_{next(_copies)}"
    _admin(
        server_url,
        f'drop database if exists "{name}" with (force)',
        f'create database "{name}" template "{TEMPLATE}"',
    )
    shutil.copytree(template_objects, objects)
    url = _with_database(server_url, name)
    DEMO_STORAGE[url] = str(objects)
    return url


@pytest.fixture
def journey_database(server_url, demo_template, tmp_path) -> Iterator[str]:
    """This journey's own copy of the demo (dropped after it)."""
    url = _copy_of_the_demo(server_url, demo_template, tmp_path / "objects")
    yield url
    _admin(server_url, f'drop database "{make_url(url).database}" with (force)')
    DEMO_STORAGE.pop(url, None)


@pytest.fixture
def server(journey_database):
    """`prosync serve` over this journey's own database."""
    url, process = _start(journey_database, {"PROSYNC_STORAGE_DIR": DEMO_STORAGE[journey_database]})
    yield url
    _stop(process)


@pytest.fixture(scope="module")
def browser():
    assert Path(CHROMIUM).exists(), "Debian's chromium is missing: `make test` installs it"
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def _sign_in(page, url, email):
    page.goto(url + "/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Sign in").click()


def _settled(page):
    """Wait until Streamlit has finished the rerun a click started: the app says its script is not
    running, and the running-man status widget is gone."""
    page.wait_for_load_state("networkidle")
    page.wait_for_function(
        "document.querySelector('[data-testid=stApp]')?.dataset.testScriptState === 'notRunning'"
        " && !document.querySelector('[data-testid=stStatusWidget]')",
        timeout=30000,
    )


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
INGEST = ["Onboarding", "Documents", "Upload", "Review", "Audit trail", "Tags", "Access"]
ACCOUNT = "Your account"  # everyone's


@pytest.mark.parametrize(
    ("email", "screens"),
    [
        ("lead@example.com", [*INGEST, ACCOUNT]),
        ("reviewer@example.com", [*INGEST, ACCOUNT]),
        (
            "contributor@example.com",
            ["Onboarding", "Documents", "Upload", "Audit trail", "Tags", "Access", ACCOUNT],
        ),
        ("viewer@example.com", [*SCREENS, ACCOUNT]),
        ("ops@example.com", [*SCREENS, "Ops", ACCOUNT]),
        ("admin@example.com", [*INGEST, "Ops", ACCOUNT, "Users and sessions"]),
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
        _settled(page)
        _no_exception(page)
        page.screenshot(path=str(SHOTS / f"{email.split('@')[0]}-{title.lower().replace(' ', '-')}.png"))
    context.close()


def test_ops_visits_every_tab_of_the_ops_screen(server, browser):
    context = browser.new_context(viewport={"width": 1400, "height": 1200})
    page = context.new_page()
    _sign_in(page, server, "ops@example.com")
    page.get_by_role("heading", name="Onboarding").wait_for(timeout=30000)
    page.locator('[data-testid="stSidebarNav"] a', has_text="Ops").click()
    page.get_by_role("heading", name="Ops", exact=True).wait_for(timeout=30000)
    _settled(page)
    for tab, marker in OPS_TABS.items():
        page.get_by_role("tab", name=tab).click()
        page.get_by_text(marker).first.wait_for(timeout=30000)
        _settled(page)
        _no_exception(page)
        assert tab == "Overview" or f"tab={tab.replace(' ', '+')}" in page.url, "each tab has its own address"
        page.screenshot(path=str(SHOTS / f"ops-{tab.lower().replace(' ', '-')}.png"), full_page=True)
    diagram = page.locator('[data-testid="stGraphVizChart"] svg')
    diagram.first.wait_for(timeout=30000)
    assert diagram.locator("g.node").count() > 10, "the ER diagram is drawn in the browser"
    diagram.first.scroll_into_view_if_needed()
    diagram.first.screenshot(path=str(SHOTS / "ops-schema-diagram.png"))
    context.close()


# Each ops tab and a text that shows it rendered its figures.
OPS_TABS = {
    "Overview": "Transaction ID wraparound",
    "Tables": "their partitions summed in",
    "Indexes": "Unused",
    "Partitions": "Admins can run partition maintenance",
    "Queries": "Order by",
    "Explain": "EXPLAIN (ANALYZE, BUFFERS)",
    "Activity": "ProSync sessions",
    "Settings and maintenance": "Autovacuum queue",
    "Schema": "Entity relationships",
}


def test_lead_grants_and_revokes_tags_a_project_and_restores_a_document(server, browser, journey_database):
    with psycopg.connect(journey_database) as conn:
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


@pytest.fixture(scope="module", params=["local", "s3"])
def ingest_server(request, server_url, tmp_path_factory):
    """A server on a demo database of its own, storing objects in a folder or in S3 (moto)."""
    from tests.conftest import s3_environment

    if request.param == "s3":
        moto_s3 = request.getfixturevalue("moto_s3")
        moto_s3.start()
        env = s3_environment(moto_s3, "journey")
    else:
        env = {"PROSYNC_STORAGE_DIR": str(tmp_path_factory.mktemp("journey-objects"))}
    env["PROSYNC_TEXT_INDEX_SECONDS"] = "1"  # the server's own indexer reads approved files' text
    database = _demo_database(
        server_url, f"prosync_journey_{request.param}", tmp_path_factory.mktemp("j"), env
    )
    url, process = _start(database, env)
    yield request.param, url, database
    _stop(process)


def _select_row(page, table, row: int) -> None:
    """Tick a row of an st.dataframe (a canvas grid): its row-marker checkbox, left of the first column."""
    table.scroll_into_view_if_needed()
    box = table.locator("canvas").first.bounding_box()
    page.mouse.click(box["x"] + 18, box["y"] + 35 * (row + 1) + 17)


def test_contributor_uploads_a_reviewer_decides_and_the_trail_shows_it(ingest_server, browser):
    kind, server, database = ingest_server
    with psycopg.connect(database) as conn:
        (project,) = conn.execute("select id from projects.projects where name = 'Data Platform'").fetchone()
        (before,) = conn.execute(
            "select count(*) from staging.documents_ingest where project_id = %s and status = 'pending'",
            [project],
        ).fetchone()
    brief = _pdf_bytes(f"Journey brief {kind}", "The xylophone calibration passed on <b>both</b> rigs.")
    context = browser.new_context(viewport={"width": 1400, "height": 1200})
    page = context.new_page()
    _sign_in(page, server, "contributor@example.com")
    page.get_by_role("heading", name="Onboarding").wait_for(timeout=30000)
    page.goto(f"{server}/upload?project={project}")
    page.get_by_role("heading", name="Upload", exact=True).wait_for(timeout=30000)
    page.locator('[data-testid="stFileUploader"] input[type="file"]').set_input_files(
        [
            {"name": f"journey-brief-{kind}.pdf", "mimeType": "application/pdf", "buffer": brief},
            {"name": f"journey-photo-{kind}.png", "mimeType": "image/png", "buffer": _png_bytes(kind)},
            {"name": f"journey-brief-copy-{kind}.pdf", "mimeType": "application/pdf", "buffer": brief},
        ]
    )
    chips = page.locator('[data-testid="stFileChip"]')
    page.wait_for_function(
        "document.querySelectorAll('[data-testid=stFileChip]').length === 3", timeout=30000
    )
    assert chips.count() == 3
    page.get_by_label("Notes for the reviewer").fill("Numbers from the March board pack")
    page.get_by_role("button", name="Upload for review").click()
    page.get_by_text("2 of 3 staged for review").wait_for(timeout=60000)
    _settled(page)
    _no_exception(page)
    assert page.get_by_text("staged for review (PDF").count() == 1
    assert page.get_by_text("staged for review (PNG image").count() == 1
    assert page.get_by_text("already waiting for review (as journey-brief").count() == 1
    page.screenshot(path=str(SHOTS / f"contributor-upload-{kind}.png"), full_page=True)
    context.close()

    context = browser.new_context(viewport={"width": 1400, "height": 1300})
    page = context.new_page()
    _sign_in(page, server, "reviewer@example.com")
    page.get_by_role("heading", name="Onboarding").wait_for(timeout=30000)
    page.goto(f"{server}/review?project={project}")
    page.get_by_role("heading", name="Review", exact=True).wait_for(timeout=30000)
    _settled(page)
    queue = page.locator('[data-testid="stDataFrame"]').first
    _select_row(page, queue, before)  # oldest first: the brief comes right after the demo's files
    page.get_by_role("heading", name=f"journey-brief-{kind}.pdf").wait_for(timeout=30000)
    _settled(page)
    page.screenshot(path=str(SHOTS / f"reviewer-review-{kind}.png"), full_page=True)
    page.get_by_label("Reviewer notes").fill("Matches the board pack")
    page.get_by_role("button", name="Approve", exact=True).click()
    page.get_by_text("approved: it is now a document of Data Platform").first.wait_for(timeout=30000)
    _settled(page)
    _no_exception(page)

    queue = page.locator('[data-testid="stDataFrame"]').first
    _select_row(page, queue, before)  # the photo has moved up to the brief's place
    page.get_by_role("heading", name=f"journey-photo-{kind}.png").wait_for(timeout=30000)
    _settled(page)
    page.get_by_label("Reason for rejecting").fill("Not a project document")
    page.get_by_role("button", name="Reject", exact=True).click()
    page.get_by_text(f"'journey-photo-{kind}.png' rejected.").first.wait_for(timeout=30000)
    _settled(page)
    _no_exception(page)

    with psycopg.connect(database) as conn:
        document, preview_key = conn.execute(
            "select id, image_url from documents.documents where name = %s", [f"journey-brief-{kind}.pdf"]
        ).fetchone()
        statuses = dict(
            conn.execute(
                "select original_name, status from staging.documents_ingest where original_name like %s",
                [f"journey-%-{kind}.%"],
            ).fetchall()
        )
        storage_codes = {
            code
            for (code,) in conn.execute(
                "select c.storage_code from documents.contents c join staging.documents_ingest i"
                " on i.checksum = c.checksum where i.original_name like %s",
                [f"journey-%-{kind}.%"],
            )
        }
        trail = conn.execute(
            "select action, table_name, actor_login from audit.audit_trail_by_project"
            " where project_id = %s and (table_name = 'documents_ingest' or table_name = 'documents')"
            ' and "timestamp" > now() - interval \'10 minutes\' order by "timestamp", id',
            [project],
        ).fetchall()
    assert statuses == {f"journey-brief-{kind}.pdf": "approved", f"journey-photo-{kind}.png": "rejected"}
    assert storage_codes == {kind} and preview_key.startswith("previews/")
    assert ("insert", "documents_ingest", "contributor@example.com") in trail  # the upload
    assert ("insert", "documents", "reviewer@example.com") in trail  # the promotion
    assert [t for t in trail if t[0] == "update" and t[2] == "reviewer@example.com"], "the decisions"

    page.goto(f"{server}/documents?project={project}&document={document}")
    page.get_by_role("heading", name=f"journey-brief-{kind}.pdf").wait_for(timeout=30000)
    _settled(page)
    _no_exception(page)
    page.screenshot(path=str(SHOTS / f"reviewer-documents-{kind}.png"), full_page=True)
    download = page.request.get(f"{server}/files/{document}")
    assert download.ok and download.body() == brief, "the download (a presigned S3 URL, or streamed)"

    page.goto(f"{server}/audit_trail?project={project}")
    page.get_by_role("heading", name="Audit trail").wait_for(timeout=30000)
    _settled(page)
    table = page.locator('[data-testid="stDataFrame"]').first
    _select_row(page, table, 0)  # newest first: the reviewer's download just now (revision 0018)
    page.get_by_role("heading", name=f"download on documents {document}").wait_for(timeout=30000)
    _settled(page)
    page.get_by_text("by reviewer@example.com").first.wait_for(timeout=30000)  # the row's detail, rendered
    _select_row(page, table, 1)  # then the rejection
    page.get_by_role("heading", name="update on documents_ingest").wait_for(timeout=30000)
    _settled(page)
    page.get_by_text("by reviewer@example.com").first.wait_for(timeout=30000)
    page.get_by_text("Not a project document").first.wait_for(timeout=30000)
    page.screenshot(path=str(SHOTS / f"reviewer-audit-{kind}.png"), full_page=True)
    context.close()

    # The server's indexer reads the approved PDF's text (from the folder or from S3) in its worker;
    # a viewer then finds the brief by a word inside it and opens it from its snippet.
    with psycopg.connect(database, autocommit=True) as conn:
        for _ in range(60):
            if conn.execute(
                "select 1 from documents.document_text where document_id = %s", [document]
            ).fetchone():
                break
            time.sleep(0.5)
    context = browser.new_context(viewport={"width": 1400, "height": 1200})
    page = context.new_page()
    _sign_in(page, server, "viewer@example.com")
    page.get_by_role("heading", name="Onboarding").wait_for(timeout=30000)
    page.goto(f"{server}/documents")
    page.get_by_role("heading", name="Documents").wait_for(timeout=30000)
    _settled(page)
    page.get_by_role("textbox", name="Search inside the files").fill("xylophone")
    page.keyboard.press("Enter")
    page.get_by_text("1 document, best match first").wait_for(timeout=30000)
    _settled(page)
    _select_row(page, page.locator('[data-testid="stDataFrame"]').first, 0)
    page.get_by_role("heading", name=f"journey-brief-{kind}.pdf").wait_for(timeout=30000)
    _settled(page)
    _no_exception(page)
    page.screenshot(path=str(SHOTS / f"viewer-search-{kind}.png"), full_page=True)
    passage = page.locator('[data-testid="stMarkdownContainer"]').filter(
        has=page.locator("strong", has_text="xylophone")
    )
    assert passage.count() == 1, "the passage, its matched word highlighted"
    assert "calibration passed on both rigs" in " ".join(passage.inner_text().split())
    context.close()


def _pdf_bytes(title: str, *lines: str) -> bytes:
    from db.tools.demo import pdf_bytes

    return pdf_bytes(title, lines)


def _png_bytes(kind: str) -> bytes:
    from db.tools.demo import png_bytes

    return png_bytes(64, 48, (20, 120, len(kind) * 40))


def test_the_dashboard_runs_under_its_security_policy_with_the_viewer_toolbar(server, browser):
    """Started outside the checkout, `prosync serve` still applies ProSync's Streamlit settings (no
    "Deploy", no developer menu); every screen works under the Content-Security-Policy, which the
    browser reports no violation of; and another site cannot frame the dashboard."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    problems = []
    page.on("console", lambda m: problems.append(m.text) if "Content Security Policy" in m.text else None)
    response = page.goto(server + "/auth/sign-in")
    assert response.headers["x-frame-options"] == "DENY"
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    _sign_in(page, server, "admin@example.com")
    page.get_by_role("heading", name="Onboarding").wait_for(timeout=30000)
    for title in ["Documents", "Review", "Ops", "Your account"]:
        page.locator('[data-testid="stSidebarNav"] a', has_text=title).click()
        page.get_by_role("heading", name=title).first.wait_for(timeout=30000)
        _settled(page)
        _no_exception(page)
    assert page.get_by_text("Deploy", exact=True).count() == 0
    page.locator('[data-testid="stMainMenu"]').click()
    page.locator('[data-testid="stMainMenuList"]').wait_for(timeout=30000)  # the menu is open
    assert page.get_by_text("Clear cache").count() == 0, "developer options are off in viewer mode"
    assert problems == []
    # A page on another origin that frames the dashboard gets nothing.
    framing = context.new_page()
    # Returns once the frame's request was answered and nothing has loaded for half a second.
    framing.set_content(f'<iframe id="f" src="{server}/auth/sign-in"></iframe>', wait_until="networkidle")
    frame = framing.frame_locator("#f")
    assert frame.locator("text=Sign in").count() == 0
    context.close()


@pytest.fixture(scope="module")
def hostile_server(server_url, demo_template, tmp_path_factory):
    """A server on a demo database of its own (the shared demo keeps the counts other tests read),
    after hostile text was written through the data-access layer: a user with a hostile address and
    name owns a project with a hostile name, description, tag and files; the lead maintains it."""
    from tests.conftest import _settings_pointing_at
    from tests.pages.helpers import plant_hostile_values

    objects = tmp_path_factory.mktemp("hostile") / "objects"
    database = _copy_of_the_demo(server_url, demo_template, objects)
    with pytest.MonkeyPatch.context() as patch, _settings_pointing_at(database, patch):
        hostile = plant_hostile_values(password=DEMO_PASSWORD, members=("lead@example.com",))
    url, process = _start(database, {"PROSYNC_STORAGE_DIR": str(objects)})
    yield url, database, hostile
    _stop(process)
    _admin(server_url, f'drop database "{make_url(database).database}" with (force)')


INJECTED = ("127.0.0.1:9", "evil.example")
# What the hostile values would have become, had the page read them as Markdown or plotly as HTML:
# images and links to the injected addresses (in plotly's SVG too), bold made from **bold** or <b>,
# Streamlit's red text, LaTeX.
_MARKUP_FROM_VALUES = """() => {
    const injected = /127\\.0\\.0\\.1:9|evil\\.example/;
    const found = (selector, test) =>
        [...document.querySelectorAll(selector)].filter(test).map(e => e.outerHTML.slice(0, 300));
    const address = e => ['src', 'href', 'xlink:href'].map(a => e.getAttribute(a) || '').join(' ');
    return [
        ...found('img, image', e => injected.test(address(e))),
        ...found('a', e => injected.test(address(e))),
        ...found('strong, b, em', e => ['bold', 'b'].includes(e.textContent.trim())),
        ...found('tspan', e => /bold/.test(e.getAttribute('style') || '') && e.textContent.trim() === 'b'),
        ...found('.stMarkdownColoredText, .katex', () => true),
    ];
}"""


def _shown_as_text(page, *texts: str) -> None:
    """No markup came from the hostile values, and each of `texts` is on the page as typed."""
    for text in texts:
        page.get_by_text(text).filter(visible=True).first.wait_for(timeout=30000)
    assert page.evaluate(_MARKUP_FROM_VALUES) == []


def test_hostile_names_notes_and_tags_read_as_typed_and_load_nothing(hostile_server, browser):
    """The screens the lead opens show hostile project, tag, file and user values literally: no image
    or link to the injected addresses, no bold, colour or LaTeX made from them, in the page or in the
    charts, and (with the Content-Security-Policy as a second line) no request to those addresses."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    server, database, hostile = hostile_server
    project, files, rich = hostile.project, hostile.file_names, hostile.user.display_name
    context = browser.new_context(viewport={"width": 1400, "height": 1300})
    page = context.new_page()
    requests = []
    page.on("request", lambda request: requests.append(request.url))
    _sign_in(page, server, "lead@example.com")
    page.get_by_role("heading", name="Onboarding").wait_for(timeout=30000)
    _settled(page)
    page.get_by_role("combobox", name="Project", exact=True).last.click()
    page.keyboard.type(project.name[:20])
    page.keyboard.press("Enter")
    page.get_by_text("Tags: zz-hostile/").wait_for(timeout=30000)  # the project's detail
    _settled(page)
    _no_exception(page)
    _shown_as_text(page, "**bold**", rich, f"zz-hostile/{hostile.tag}")
    page.screenshot(path=str(SHOTS / "hostile-onboarding.png"), full_page=True)

    with psycopg.connect(database) as conn:
        (document,) = conn.execute(
            "select id from documents.active_documents where name = %s", [files["approved"]]
        ).fetchone()
    page.goto(f"{server}/documents?project={project.id}&document={document}")
    page.get_by_role("heading", name=files["approved"]).wait_for(timeout=30000)
    _settled(page)
    _no_exception(page)
    _shown_as_text(page, files["approved"], files["trashed"], project.name, hostile.user.login)
    page.screenshot(path=str(SHOTS / "hostile-documents.png"), full_page=True)

    page.goto(f"{server}/review?project={project.id}")
    page.get_by_role("heading", name="Review", exact=True).wait_for(timeout=30000)
    _settled(page)
    _select_row(page, page.locator('[data-testid="stDataFrame"]').first, 0)
    page.get_by_role("heading", name=files["pending"]).wait_for(timeout=30000)
    _settled(page)
    _no_exception(page)
    _shown_as_text(page, files["pending"], f"text/plain; {rich}", rich)
    page.screenshot(path=str(SHOTS / "hostile-review.png"), full_page=True)
    page.get_by_role("tab", name="Rejected").click()
    _settled(page)
    _select_row(page, page.locator('[data-testid="stDataFrame"]').last, 0)
    page.get_by_role("heading", name=files["rejected"]).wait_for(timeout=30000)
    _settled(page)
    _shown_as_text(page, f"Rejected by {hostile.user.login}: {rich}")

    page.goto(f"{server}/tags?project={project.id}")
    page.get_by_role("heading", name="Tags", exact=True).wait_for(timeout=30000)
    _settled(page)
    _shown_as_text(page, f"zz-hostile / {hostile.tag}")
    page.get_by_role("tab", name="Analytics").click()
    page.locator(".js-plotly-plot").first.wait_for(timeout=30000)
    _settled(page)
    _no_exception(page)
    _shown_as_text(page, hostile.tag)  # an axis label of the chart, as typed
    page.screenshot(path=str(SHOTS / "hostile-tags.png"), full_page=True)
    context.close()

    # The sidebar names whoever is signed in: here the hostile user, by name and address.
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    page.on("request", lambda request: requests.append(request.url))
    _sign_in(page, server, hostile.user.login)
    page.get_by_role("heading", name="Onboarding").wait_for(timeout=30000)
    _settled(page)
    _shown_as_text(page, hostile.user.display_name, hostile.user.login)
    page.screenshot(path=str(SHOTS / "hostile-sidebar.png"))
    context.close()
    assert not [url for url in requests if any(address in url for address in INJECTED)]
