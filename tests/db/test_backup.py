"""`prosync backup` and `prosync restore`: the demo, backed up and brought back into a fresh
embedded server and an empty folder, with every object and every audit row intact."""

import hashlib
import json

import psycopg

from db import migrate
from db.embedded import ensure_server
from tests.conftest import create_database
from tests.db.test_cli import prosync


def _facts(url: str, objects) -> dict:
    with psycopg.connect(url) as conn:
        audit = conn.execute(
            "select count(*), max(id), md5(string_agg(id::text || action || table_name, ',' order by id))"
            " from audit.audit_log where action <> 'ddl'"
        ).fetchone()
        contents = conn.execute("select object_key, checksum from documents.contents order by 1").fetchall()
        documents = conn.execute("select count(*) from documents.documents").fetchone()[0]
        previews = conn.execute(
            "select count(*) from documents.documents where image_url is not null"
        ).fetchone()[0]
    stored = {key: hashlib.sha256((objects / key).read_bytes()).hexdigest() for key, _ in contents}
    return {
        "audit": audit,
        "contents": contents,
        "documents": documents,
        "previews": previews,
        "stored": stored,
    }


def test_the_demo_backed_up_and_restored_into_a_fresh_server_keeps_every_object_and_audit_row(
    server_url, tmp_path
):
    source = create_database(server_url, "prosync_backup_source")
    migrate.upgrade(url=source)
    objects = tmp_path / "objects"
    assert prosync("demo", url=source, env={"PROSYNC_STORAGE_DIR": str(objects)}).returncode == 0
    before = _facts(source, objects)
    assert before["documents"] > 10 and before["previews"] > 0
    assert all(before["stored"][key] == checksum for key, checksum in before["contents"])

    backup = tmp_path / "backup"
    made = prosync("backup", str(backup), url=source, env={"PROSYNC_STORAGE_DIR": str(objects)})
    assert made.returncode == 0, made.stdout + made.stderr
    manifest = json.loads((backup / "manifest.json").read_text())
    assert {o["key"] for o in manifest["objects"] if o["kind"] == "content"} == {
        k for k, _ in before["contents"]
    }
    assert any(o["kind"] == "preview" for o in manifest["objects"])
    again = prosync("backup", str(backup), url=source, env={"PROSYNC_STORAGE_DIR": str(objects)})
    assert again.returncode == 1 and "is not empty" in again.stderr

    fresh = {"DATABASE_URL": "", "PROSYNC_DATA_DIR": str(tmp_path / "restored"),
             "PROSYNC_STORAGE_DIR": str(tmp_path / "restored" / "objects")}  # fmt: skip
    restored = prosync("restore", str(backup), url="", env=fresh)
    assert restored.returncode == 0, restored.stdout + restored.stderr
    assert "every object checked" in restored.stdout
    target = ensure_server(tmp_path / "restored" / "pgdata")
    after = _facts(target, tmp_path / "restored" / "objects")
    assert after == before, "the same documents, objects (by SHA-256) and audit rows"
    verified = prosync("reconcile", "--verify", url="", env=fresh)
    assert verified.returncode == 0 and "storage and database agree" in verified.stdout, verified.stdout
    twice = prosync("restore", str(backup), url="", env=fresh)
    assert twice.returncode == 1 and "not empty" in twice.stderr
