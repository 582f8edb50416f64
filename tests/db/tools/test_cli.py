"""The `prosync` command (db/tools/cli.py and db/tools/commands/) against a real server, run as a
person runs it: each command works; mistakes give one line. `prosync ingest` stages a folder through
the same checks as the Upload screen, into a folder or S3 (moto). (`prosync reconcile`:
tests/db/files/test_reconcile.py; `prosync backup` and `restore`: test_backup.py.)"""

import os
import subprocess
import sys

import pytest
from sqlalchemy import text

from db.core import migrate
from db.core.engine import make_engine, sqlalchemy_url, system_transaction, transaction
from db.domain import access, projects, users
from db.tools.demo import pdf_bytes, png_bytes
from tests.conftest import create_database, postmaster_pid, process_ended, s3_environment
from tests.waiting import wait_until


def prosync(*args, url, env=None):
    environment = {**os.environ, "DATABASE_URL": url, **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "db.tools.cli", *args],
        capture_output=True,
        text=True,
        env=environment,
        timeout=120,
    )


@pytest.fixture(scope="module")
def cli_url(server_url):
    return create_database(server_url, "prosync_cli")


def test_upgrade_demo_and_partitions_through_the_command(cli_url, tmp_path):
    assert "empty" in prosync("db", "current", url=cli_url).stdout
    assert prosync("db", "upgrade", url=cli_url).returncode == 0
    assert "up to date" in prosync("db", "current", url=cli_url).stdout
    env = {"PROSYNC_STORAGE_DIR": str(tmp_path)}
    first = prosync("demo", url=cli_url, env=env)
    assert first.returncode == 0 and "lead@example.com" in first.stdout
    again = prosync("demo", url=cli_url, env=env)
    assert again.returncode == 0 and "already loaded" in again.stdout
    assert any(tmp_path.rglob("*")), "demo documents have their objects in storage"
    status = prosync("partitions", "status", url=cli_url)
    assert "documents.documents_default" in status.stdout and "audit.audit_log_p" in status.stdout
    maintain = prosync("partitions", "maintain", url=cli_url)
    assert maintain.returncode == 0


def test_user_create_and_its_mistakes(cli_url):
    prosync("db", "upgrade", url=cli_url)
    made = prosync(
        "user", "create", "--email", "new.ops@example.com", "--role", "ops",
        url=cli_url, env={"PROSYNC_NEW_PASSWORD": "a-long-ops-password"},
    )  # fmt: skip
    assert made.returncode == 0 and "new.ops@example.com" in made.stdout
    again = prosync(
        "user", "create", "--email", "NEW.OPS@example.com",
        url=cli_url, env={"PROSYNC_NEW_PASSWORD": "a-long-ops-password"},
    )  # fmt: skip
    assert again.returncode == 1
    assert again.stderr.strip() == "prosync: A user with this e-mail address already exists."
    weak = prosync(
        "user", "create", "--email", "weak@example.com", url=cli_url, env={"PROSYNC_NEW_PASSWORD": "short"}
    )
    assert weak.returncode == 1 and "Traceback" not in weak.stderr
    assert weak.stderr.count("\n") == 1


def test_token_create_list_and_revoke_through_the_command(cli_url, tmp_path):
    prosync("db", "upgrade", url=cli_url)
    prosync("demo", url=cli_url, env={"PROSYNC_STORAGE_DIR": str(tmp_path)})
    made = prosync(
        "token", "create", "--as", "contributor@example.com", "--name", "CI publisher",
        "--project", "Data Platform", "--scope", "upload", "--scope", "read", "--expires-days", "30",
        url=cli_url,
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    secret = made.stdout.strip()
    assert secret.startswith("psy_") and len(secret) == 47 and "\n" not in secret
    assert "read, upload" in made.stderr and "shown once" in made.stderr and secret not in made.stderr
    with system_transaction(engine=make_engine(sqlalchemy_url(cli_url))) as conn:
        stored = conn.execute(
            text("select count(*) from auth.api_tokens where token_hash = sha256(:s)"), {"s": secret.encode()}
        ).scalar_one()
        assert stored == 1
    listed = prosync("token", "list", "--as", "contributor@example.com", url=cli_url)
    assert "CI publisher" in listed.stdout and secret[:12] in listed.stdout and secret not in listed.stdout
    token_id = listed.stdout.split("\t")[0]
    as_contributor = ("--as", "contributor@example.com")
    assert prosync("token", "revoke", *as_contributor, token_id, url=cli_url).returncode == 0
    assert "CI publisher" not in prosync("token", "list", *as_contributor, url=cli_url).stdout
    for args, words in [
        (["--as", "nobody@example.com"], "there is no active user nobody@example.com"),
        (["--as", "contributor@example.com", "--project", "No Such"], "there is no project named 'No Such'"),
        (["--as", "ops@example.com", "--project", "Data Platform"], "only name projects you are a member of"),
        (["--as", "contributor@example.com", "--expires-days", "400"], "1 to 366 days"),
    ]:
        refused = prosync("token", "create", *args, url=cli_url)
        assert refused.returncode == 1 and words in refused.stderr and "Traceback" not in refused.stderr
        assert refused.stdout == ""


def test_unreachable_database_is_one_clear_line():
    result = prosync("db", "current", url="postgresql://nobody@127.0.0.1:1/none")
    assert result.returncode == 1
    assert result.stderr.startswith("prosync: cannot reach the database:")
    assert "Traceback" not in result.stderr


def test_downgrade_to_base_through_the_command(server_url):
    url = create_database(server_url, "prosync_cli_down")
    assert prosync("db", "upgrade", url=url).returncode == 0
    assert prosync("db", "downgrade", "base", url=url).returncode == 0
    assert "empty" in prosync("db", "current", url=url).stdout


def _serve(tmp_path):
    """`prosync serve` on the embedded server in a fresh data folder, in a session of its own (so a
    signal sent to its process group reaches it as a terminal's would); its URL and pgdata."""
    from db.tools.processes import free_port

    port = free_port()
    environment = {
        **{k: v for k, v in os.environ.items() if not k.startswith("DATABASE_")},
        "PROSYNC_DATA_DIR": str(tmp_path / "data"),
    }
    serve = subprocess.Popen(
        [sys.executable, "-m", "db.tools.cli", "serve", "--port", str(port)],
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    return serve, f"http://127.0.0.1:{port}", tmp_path / "data" / "pgdata"


@pytest.mark.embedded_only
@pytest.mark.parametrize(
    "stop, to_group",
    [("SIGTERM", False), ("SIGINT", False), ("SIGINT", True), ("SIGHUP", False)],
    ids=["kill -TERM", "kill -INT", "Ctrl-C in a terminal (the whole process group)", "terminal closed"],
)
def test_serve_stopped_by_a_signal_stops_the_embedded_server_it_started(tmp_path, stop, to_group):
    import signal

    from db.tools.processes import wait_until_up

    serve, url, pgdata = _serve(tmp_path)
    try:
        assert wait_until_up(f"{url}/_stcore/health", seconds=120), serve.stdout.read1()
        server = postmaster_pid(pgdata)
        assert server is not None, "serve started the embedded server"
        if to_group:
            os.killpg(serve.pid, getattr(signal, stop))
        else:
            serve.send_signal(getattr(signal, stop))
        assert serve.wait(60) == 0, serve.stdout.read1()
    finally:
        if serve.poll() is None:
            os.killpg(serve.pid, signal.SIGKILL)  # the dashboard dies with it (PR_SET_PDEATHSIG)
    wait_until(lambda: process_ended(server), timeout=30, what=f"the embedded server ({server}) to stop")
    assert postmaster_pid(pgdata) is None


@pytest.mark.embedded_only
def test_api_serves_the_api_alone_and_stops_the_embedded_server_it_started(tmp_path):
    import signal
    import urllib.request

    from db.tools.processes import free_port, wait_until_up

    port = free_port()
    environment = {
        **{k: v for k, v in os.environ.items() if not k.startswith("DATABASE_")},
        "PROSYNC_DATA_DIR": str(tmp_path / "data"),
    }
    api = subprocess.Popen(
        [sys.executable, "-m", "db.tools.cli", "api", "--port", str(port)],
        env=environment, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}/api/v1"
    try:
        assert wait_until_up(f"{url}/health", seconds=120), api.stdout.read1()
        with urllib.request.urlopen(f"{url}/openapi.json") as answer:
            assert b'"/projects/{project_id}/uploads"' in answer.read()
        server = postmaster_pid(tmp_path / "data" / "pgdata")
        assert server is not None
        api.send_signal(signal.SIGTERM)
        assert api.wait(60) == 0, api.stdout.read1()
    finally:
        if api.poll() is None:
            os.killpg(api.pid, signal.SIGKILL)
    wait_until(lambda: process_ended(server), timeout=30, what=f"the embedded server ({server}) to stop")


@pytest.mark.embedded_only
def test_serve_says_so_and_stops_the_embedded_server_when_the_dashboard_dies(tmp_path):
    import signal

    import psutil

    from db.tools.processes import wait_until_up

    serve, url, pgdata = _serve(tmp_path)
    try:
        assert wait_until_up(f"{url}/_stcore/health", seconds=120), serve.stdout.read1()
        server = postmaster_pid(pgdata)
        [dashboard] = psutil.Process(serve.pid).children()
        dashboard.kill()
        assert serve.wait(60) == 1
        assert b"prosync: the dashboard was killed by signal 9" in serve.stdout.read()
    finally:
        if serve.poll() is None:
            os.killpg(serve.pid, signal.SIGKILL)
    wait_until(lambda: process_ended(server), timeout=30, what=f"the embedded server ({server}) to stop")


@pytest.fixture(scope="module")
def ingest_db(server_url):
    url = create_database(server_url, "prosync_ingest_cli")
    migrate.upgrade(url=url)
    engine = make_engine(sqlalchemy_url(url))
    with system_transaction(engine=engine) as conn:
        owner = users.create_user(
            conn, login="owner@example.com", display_name="Owner", password="owner-pass-1"
        )
        viewer = users.create_user(
            conn, login="viewer@example.com", display_name="V", password="viewer-pass-1"
        )
    with transaction(actor_id=owner.id, engine=engine) as conn:
        for name in ("Intake", "Intake S3"):
            project = projects.create_project(conn, name=name)
            access.grant_access(conn, project_id=project.id, user_id=viewer.id, role="viewer")
    yield url, engine
    engine.dispose()


def _folder(root, tag: str):
    (root / "sub" / "deeper").mkdir(parents=True)
    (root / "brief.pdf").write_bytes(pdf_bytes(f"Brief {tag}"))
    (root / "sub" / "diagram.png").write_bytes(png_bytes(16, 16, (10, 20, len(tag))))
    (root / "sub" / "deeper" / "notes.txt").write_bytes(f"notes {tag}\n".encode())
    (root / "sub" / "copy-of-notes.txt").write_bytes(f"notes {tag}\n".encode())
    (root / "sub" / "tool.exe").write_bytes(b"MZ" + b"\0" * 100)
    (root / ".DS_Store").write_bytes(b"\0\0\0\1Bud1")
    return root


def _rows(engine, project: str):
    with engine.connect() as conn:
        return conn.execute(
            text(
                "select i.original_name, i.metadata->>'path' as path, u.login, c.storage_code"
                " from staging.documents_ingest i join projects.projects p on p.id = i.project_id"
                " join documents.contents c on c.checksum = i.checksum"
                " left join users.users u on u.id = i.uploaded_by where p.name = :p order by 1"
            ),
            {"p": project},
        ).all()


def test_ingest_stages_a_folder_through_the_same_checks(ingest_db, tmp_path):
    url, engine = ingest_db
    folder = _folder(tmp_path / "inbox", "local")
    env = {"PROSYNC_STORAGE_DIR": str(tmp_path / "objects")}
    run = prosync("ingest", str(folder), "--project", "intake", "--as", "owner@example.com", url=url, env=env)
    assert run.returncode == 1, "a refused file makes the exit status say so"
    assert "3 staged, 1 duplicate(s), 1 refused, 1 hidden file(s) skipped" in run.stdout
    assert "refused   sub/tool.exe: tool.exe is a Windows executable" in run.stdout
    assert "duplicate sub/deeper/notes.txt" in run.stdout or "duplicate sub/copy-of-notes.txt" in run.stdout
    assert "3 staged" in run.stdout and "prosync: 1 file(s) refused" in run.stderr
    rows = _rows(engine, "Intake")
    assert {r.original_name for r in rows} == {"brief.pdf", "diagram.png", "copy-of-notes.txt"}
    assert {r.login for r in rows} == {"owner@example.com"}
    assert "sub/diagram.png" in {r.path for r in rows}
    assert (
        len(list((tmp_path / "objects").rglob("*.*"))) == 0
        and len([p for p in (tmp_path / "objects").rglob("*") if p.is_file()]) == 3
    ), "three objects, named by their content"

    again = prosync("ingest", str(folder), "--project", "Intake", url=url, env=env)
    assert "0 staged, 4 duplicate(s), 1 refused" in again.stdout

    denied = prosync(
        "ingest", str(folder), "--project", "Intake", "--as", "viewer@example.com", url=url, env=env
    )
    assert denied.returncode == 1 and "staged" not in denied.stdout
    assert "prosync: Your role (viewer) does not allow you to upload here." in denied.stderr
    missing = prosync("ingest", str(folder), "--project", "Nope", url=url, env=env)
    assert missing.returncode == 1 and "there is no project called 'Nope'" in missing.stderr


def test_ingest_into_s3_puts_every_object_in_the_bucket(ingest_db, tmp_path, moto_s3):
    url, engine = ingest_db
    moto_s3.start()
    folder = _folder(tmp_path / "inbox", "s3")
    (folder / "sub" / "tool.exe").unlink()
    run = prosync(
        "ingest", str(folder), "--project", "Intake S3", url=url, env=s3_environment(moto_s3, "cli")
    )
    assert run.returncode == 0, run.stderr
    assert "3 staged, 1 duplicate(s), 0 refused" in run.stdout
    rows = _rows(engine, "Intake S3")
    assert {r.storage_code for r in rows} == {"s3"} and {r.login for r in rows} == {None}
    import boto3

    client = boto3.client(
        "s3", endpoint_url=moto_s3.endpoint, region_name="us-east-1",
        aws_access_key_id="test", aws_secret_access_key="test",
    )  # fmt: skip
    keys = [o["Key"] for o in client.list_objects_v2(Bucket="prosync-test", Prefix="cli/")["Contents"]]
    assert len(keys) == 3 and all(k.startswith("cli/sha256/") for k in keys)


def test_reindex_text_reads_the_files_of_documents_without_text(ingest_db, tmp_path, monkeypatch):
    from functools import partial
    from io import BytesIO

    from db.files import ingest
    from tests.conftest import _refresh_settings

    url, engine = ingest_db
    env = {"PROSYNC_STORAGE_DIR": str(tmp_path / "objects"), "PROSYNC_STORAGE": "local"}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    _refresh_settings()
    with engine.connect() as conn:
        owner = conn.execute(text("select id from users.users where login like 'owner@%'")).scalar_one()
        project = conn.execute(text("select id from projects.projects where name = 'Intake'")).scalar_one()
    unit = partial(transaction, actor_id=owner, engine=engine)
    for name, data in (("minutes.pdf", pdf_bytes("Minutes", ["The harbour crane was certified."])),
                       ("crane.txt", b"crane inspection passed")):  # fmt: skip
        staged = ingest.stage_file(unit, project_id=project, name=name, stream=BytesIO(data)).staged
        assert ingest.approve_file(unit, ingest_id=staged.id).status == "approved"
    _refresh_settings()

    run = prosync("reindex-text", "--project", "intake", url=url, env=env)
    assert run.returncode == 0, run.stderr
    assert "2 documents wait for their text" in run.stdout
    assert "text extracted for 2 documents; 0 still waiting" in run.stdout
    with engine.connect() as conn:
        found = (
            conn.execute(
                text(
                    "select d.name from documents.document_text t"
                    " join documents.documents d on d.id = t.document_id"
                    " where t.search_vector @@ plainto_tsquery('english', 'crane') order by 1"
                )
            )
            .scalars()
            .all()
        )
    assert found == ["crane.txt", "minutes.pdf"]
    again = prosync("reindex-text", url=url, env=env)
    assert again.returncode == 0 and "0 documents wait for their text" in again.stdout
    missing = prosync("reindex-text", "--project", "Nope", url=url, env=env)
    assert missing.returncode == 1 and "there is no project called 'Nope'" in missing.stderr

    # A document without text that no dashboard takes (as after upgrading to revision 0023):
    # `db upgrade` says so until `reindex-text` has read it.
    with engine.begin() as conn:
        conn.execute(
            text(
                "delete from documents.document_text where document_id ="
                " (select id from documents.documents where name = 'crane.txt')"
            )
        )
    told = prosync("db", "upgrade", url=url, env=env)
    assert told.returncode == 0 and "note: 0 documents" not in told.stderr
    assert prosync("reindex-text", url=url, env=env).returncode == 0  # queues it for the command line
    with engine.begin() as conn:
        conn.execute(
            text(
                "insert into documents.text_queue (document_id, project_id)"
                " select id, project_id from documents.documents where name = 'minutes.pdf'"
            )
        )
    told = prosync("db", "upgrade", url=url, env=env)
    assert "note: 1 documents wait for their text" in told.stderr and "prosync reindex-text" in told.stderr
    assert prosync("reindex-text", url=url, env=env).returncode == 0
    assert "note:" not in prosync("db", "upgrade", url=url, env=env).stderr
