"""`prosync ingest` and `prosync reconcile`, run as a person runs them, on a folder and on S3 (moto)."""

import os
import time

import pytest
from sqlalchemy import text

from db.core import migrate
from db.core.engine import make_engine, sqlalchemy_url, system_transaction, transaction
from db.domain import access, projects, users
from db.tools.demo import pdf_bytes, png_bytes
from tests.conftest import create_database, s3_environment
from tests.db.test_cli import prosync


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


def test_reconcile_finds_orphans_missing_and_corrupt_objects_and_fixes_what_it_can(server_url, tmp_path):
    url = create_database(server_url, "prosync_reconcile")
    migrate.upgrade(url=url)
    objects = tmp_path / "objects"
    env = {"PROSYNC_STORAGE_DIR": str(objects)}
    assert prosync("demo", url=url, env=env).returncode == 0
    clean = prosync("reconcile", "--verify", url=url, env=env)
    assert clean.returncode == 0 and "storage and database agree" in clean.stdout, clean.stdout + clean.stderr

    files = sorted(p for p in (objects / "sha256").rglob("*") if p.is_file())
    missing, corrupt = files[0], files[1]
    missing.unlink()
    corrupt.write_bytes(bytes(len(corrupt.read_bytes())))  # same size, other bytes
    orphan = objects / "sha256" / "ab" / "cd" / ("abcd" + "0" * 60)
    orphan.parent.mkdir(parents=True, exist_ok=True)
    orphan.write_bytes(b"left behind by a killed process")
    young = objects / "sha256" / "ef" / "01" / ("ef01" + "0" * 60)
    young.parent.mkdir(parents=True, exist_ok=True)
    young.write_bytes(b"an upload in flight")
    in_flight = objects / "sha256" / "12" / "34" / ("1234" + "0" * 60)
    in_flight.parent.mkdir(parents=True, exist_ok=True)
    in_flight.write_bytes(b"a long upload, still claimed")
    old = time.time() - 2 * 3600
    for path in (orphan, in_flight):
        os.utime(path, (old, old))
    engine = make_engine(sqlalchemy_url(url))
    with engine.begin() as conn:  # a live claim, and one left by an upload whose process was killed
        conn.execute(
            text(
                "insert into staging.upload_claims (checksum, claimed_at) values"
                " (:live, now() - interval '5 minutes'), (:dead, now() - interval '3 hours')"
            ),
            {"live": in_flight.name, "dead": "dead" + "0" * 60},
        )

    report = prosync("reconcile", url=url, env=env)
    assert report.returncode == 1
    assert f"missing     local  {missing.relative_to(objects).as_posix()}" in report.stdout
    assert "document(s)" in report.stdout
    assert f"orphan      local  {orphan.relative_to(objects).as_posix()}" in report.stdout
    assert "may be an upload in flight" in report.stdout
    assert "corrupt" not in report.stdout, "sizes match: only --verify reads the bytes"
    verify = prosync("reconcile", "--verify", url=url, env=env)
    assert f"corrupt     local  {corrupt.relative_to(objects).as_posix()}" in verify.stdout

    fixed = prosync("reconcile", "--fix", url=url, env=env)
    assert f"removed     local  {orphan.relative_to(objects).as_posix()}" in fixed.stdout
    assert not orphan.exists() and young.exists(), "only orphans older than the grace period go"
    assert in_flight.exists() and "an upload in flight claims it" in fixed.stdout
    assert "1 claim(s) of uploads that never finished dropped" in fixed.stdout
    with engine.connect() as conn:
        claims = conn.execute(text("select checksum from staging.upload_claims")).scalars().all()
    engine.dispose()
    assert claims == [in_flight.name]
    assert fixed.returncode == 1, "a missing object cannot be fixed, and is still reported"
