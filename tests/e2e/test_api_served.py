"""The HTTP API against `prosync serve`, as a pipeline and a reviewer use it: docs/api.md's token
command and CI example run verbatim with bash and curl, the upload lands in the Review queue in
real Chromium, the reviewer approves it there, and the API reports the decision. Also what only a
real server shows: an oversized upload refused while it is still being sent, and a large upload
streamed without the server's memory growing by its size."""

import os
import re
import select
import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil
import psycopg
import pytest
from playwright.sync_api import sync_playwright

from db.tools.bench.api import stored_zip
from db.tools.bench.render import CHROMIUM, CHROMIUM_ARGS, rss_mb, start_server
from db.tools.demo import DEMO_PASSWORD
from tests.conftest import _demo_database
from tests.e2e.test_journeys import _select_row, _settled

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs" / "api.md"
PROJECT = "Data Platform"


def doc_block(name: str) -> str:
    """The shell block of docs/api.md marked `<!-- ci-example: name -->`, exactly as written."""
    found = re.search(rf"<!-- ci-example: {name} -->\s*```sh\n(.*?)```", DOCS.read_text(), re.S)
    assert found, f"docs/api.md has no ci-example {name}"
    return "\n".join(line.removeprefix("  ") for line in found.group(1).splitlines())


@pytest.fixture(scope="module")
def served(server_url, tmp_path_factory):
    objects = tmp_path_factory.mktemp("api-served-objects")
    database = _demo_database(server_url, "prosync_api_served", objects)
    env = {"DATABASE_URL": database, "PROSYNC_STORAGE_DIR": str(objects)}
    url, process = start_server(env, cwd=str(tmp_path_factory.mktemp("api-served-cwd")))
    yield url, database, env, process
    process.terminate()
    process.wait(30)


def _bash(script: str, env: dict[str, str], cwd: Path) -> str:
    path = f"{Path(sys.executable).parent}:{os.environ['PATH']}"
    done = subprocess.run(
        ["bash", "-c", script], env={**os.environ, **env, "PATH": path}, cwd=cwd,
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr + done.stdout
    return done.stdout


def test_the_docs_ci_example_reaches_a_reviewer_in_chromium_and_reads_the_decision_back(served, tmp_path):
    url, database, env, _ = served
    assert shutil.which("curl"), "curl is needed (make test installs it)"
    token = _bash(doc_block("token"), env, tmp_path).strip()
    assert re.fullmatch(r"psy_[A-Za-z0-9_-]{43}", token)
    with psycopg.connect(database) as conn:
        (project,) = conn.execute("select id from projects.projects where name = %s", [PROJECT]).fetchone()
    (tmp_path / "build").mkdir()
    (tmp_path / "build" / "report.pdf").write_bytes(
        b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
    )
    ci = {
        "PROSYNC_TOKEN": token, "PROSYNC_URL": url, "PROSYNC_PROJECT_ID": str(project),
        "CI_PIPELINE_ID": "4711", "CI_COMMIT_SHA": "0123abcd",
    }  # fmt: skip
    first = _bash(doc_block("upload"), ci, tmp_path)
    assert '"status":"staged"' in first
    staged = int((tmp_path / "staged-id.txt").read_text())
    again = _bash(doc_block("upload"), ci, tmp_path)  # the job retried: the same answer, staged once
    assert int((tmp_path / "staged-id.txt").read_text()) == staged and again == first
    assert _bash(doc_block("decision"), ci, tmp_path).split() == ["pending"]
    with psycopg.connect(database) as conn:
        (count,) = conn.execute(
            "select count(*) from staging.documents_ingest where notes = 'Report of pipeline 4711'"
        ).fetchone()
        (metadata,) = conn.execute(
            "select metadata from staging.documents_ingest where id = %s", [staged]
        ).fetchone()
    assert count == 1 and metadata == {"pipeline": "4711", "commit": "0123abcd"}

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_context(viewport={"width": 1400, "height": 1300}).new_page()
        page.goto(url + "/")
        page.get_by_label("Email").fill("reviewer@example.com")
        page.get_by_label("Password").fill(DEMO_PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.get_by_role("heading", name="Onboarding").wait_for(timeout=30000)
        page.goto(f"{url}/review?project={project}")
        page.get_by_role("heading", name="Review", exact=True).wait_for(timeout=30000)
        _settled(page)
        with psycopg.connect(database) as conn:
            (waiting,) = conn.execute(
                "select count(*) from staging.documents_ingest where project_id = %s and status = 'pending'",
                [project],
            ).fetchone()
        queue = page.locator('[data-testid="stDataFrame"]').first
        _select_row(page, queue, waiting - 1)  # oldest first: the pipeline's report is the newest
        page.get_by_role("heading", name="report.pdf").wait_for(timeout=30000)
        _settled(page)
        page.get_by_label("Reviewer notes").fill("Looks right")
        page.get_by_role("button", name="Approve", exact=True).click()
        page.get_by_text(f"approved: it is now a document of {PROJECT}").first.wait_for(timeout=30000)
        browser.close()

    status, document = _bash(doc_block("decision"), ci, tmp_path).split()
    assert status == "approved"
    with psycopg.connect(database) as conn:
        (name,) = conn.execute(
            "select name from documents.documents where id = %s", [int(document)]
        ).fetchone()
    assert name == "report.pdf"


def _token(env: dict[str, str], login: str = "contributor@example.com") -> str:
    done = subprocess.run(
        [sys.executable, "-m", "db.tools.cli", "token", "create", "--as", login,
         "--name", f"served {time.monotonic_ns()}", "--scope", "upload", "--scope", "read"],
        env={**os.environ, **env}, capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    return done.stdout.strip()


def _request_head(path: str, token: str, host: str, extra: str = "") -> bytes:
    return (
        f"POST {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\n"
        f"Content-Type: multipart/form-data; boundary=b\r\nTransfer-Encoding: chunked\r\n{extra}\r\n"
    ).encode()


def _chunk(data: bytes) -> bytes:
    return f"{len(data):x}\r\n".encode() + data + b"\r\n"


def test_an_oversized_file_is_refused_while_it_is_still_being_sent(served):
    url, database, env, _ = served
    token = _token(env)
    with psycopg.connect(database) as conn:
        (project,) = conn.execute("select id from projects.projects where name = %s", [PROJECT]).fetchone()
        (limit,) = conn.execute(
            "select max_size_bytes from documents.filetype_reference where mime_type = 'text/plain'"
        ).fetchone()
    host = url.removeprefix("http://")
    address, port = host.split(":")
    sent = 0
    with socket.create_connection((address, int(port)), timeout=60) as sock:
        sock.sendall(_request_head(f"/api/v1/projects/{project}/uploads", token, host))
        sock.sendall(
            _chunk(b'--b\r\nContent-Disposition: form-data; name="files"; filename="huge.txt"\r\n\r\n')
        )
        answer = b""
        while sent < 4 * limit:
            try:
                sock.sendall(_chunk(b"a" * 2**20))
            except (BrokenPipeError, ConnectionResetError):
                break
            sent += 2**20
            if select.select([sock], [], [], 0)[0]:
                answer = sock.recv(65536)
                break
        if not answer:
            answer = sock.recv(65536)
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert sent < 2 * limit  # answered near the limit, long before the 4x the client would send
    with psycopg.connect(database) as conn:
        (staged,) = conn.execute(
            "select count(*) from staging.documents_ingest where original_name = 'huge.txt'"
        ).fetchone()
    assert staged == 0


def _dashboard_pid(process) -> int:
    children = psutil.Process(process.pid).children(recursive=True)
    return next(c.pid for c in children if "streamlit" in " ".join(c.cmdline()))


def test_a_large_upload_streams_through_without_the_server_holding_it(served):
    """A 300 MB archive (a ZIP may be 500 MB) is staged while the server's memory grows by far less."""
    url, database, env, process = served
    token = _token(env)
    with psycopg.connect(database) as conn:
        (project,) = conn.execute("select id from projects.projects where name = %s", [PROJECT]).fetchone()
    pid = _dashboard_pid(process)
    size, block = 300 * 2**20, os.urandom(2**20)
    head, count, tail = stored_zip(size, block)
    peak, stop = [rss_mb(pid)], threading.Event()
    baseline = peak[0]

    def watch():
        while not stop.is_set():
            peak.append(rss_mb(pid))
            time.sleep(0.05)

    watcher = threading.Thread(target=watch)
    watcher.start()
    host = url.removeprefix("http://")
    address, port = host.split(":")
    try:
        with socket.create_connection((address, int(port)), timeout=300) as sock:
            sock.sendall(_request_head(f"/api/v1/projects/{project}/uploads", token, host))
            disposition = b'--b\r\nContent-Disposition: form-data; name="files"; filename="big.zip"\r\n\r\n'
            sock.sendall(_chunk(disposition + head))
            for _ in range(count):
                sock.sendall(_chunk(block))
            sock.sendall(_chunk(tail + b"\r\n--b--\r\n") + _chunk(b""))
            answer = b""
            while not answer.rstrip().endswith(b"}"):
                more = sock.recv(65536)
                if not more:
                    break
                answer += more
    finally:
        stop.set()
        watcher.join()
    assert answer.startswith(b"HTTP/1.1 200"), answer[:300]
    assert b'"status":"staged"' in answer, answer[-600:]
    growth = max(peak) - baseline
    print(f"\nserver RSS {baseline:.0f} MB, peak {max(peak):.0f} MB (+{growth:.0f} MB) for {size >> 20} MB")
    assert growth < 100
