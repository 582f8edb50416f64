"""`prosync backup` and `prosync restore`: the demo, backed up and brought back into a fresh
embedded server and an empty folder, with every object and every audit row intact."""

import hashlib
import json

import psycopg
import pytest

from db.core import migrate
from db.core.embedded import ensure_server
from db.core.errors import Conflict
from tests.conftest import create_database
from tests.db.tools.test_cli import prosync


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


def _demo_backup(server_url, tmp_path, name: str):
    source = create_database(server_url, name)
    migrate.upgrade(url=source)
    objects = tmp_path / "objects"
    assert prosync("demo", url=source, env={"PROSYNC_STORAGE_DIR": str(objects)}).returncode == 0
    backup = tmp_path / "backup"
    made = prosync("backup", str(backup), url=source, env={"PROSYNC_STORAGE_DIR": str(objects)})
    assert made.returncode == 0, made.stdout + made.stderr
    return source, objects, backup


def test_a_backup_restores_through_database_url_on_the_same_server_version(server_url, tmp_path):
    """Found: a backup of an installation on PostgreSQL 15 stopped at `SET transaction_timeout = 0`
    (written by the embedded PostgreSQL 18's client, known from 17 on) when restored into PostgreSQL
    15. `make test` runs this on the embedded 18 and again on Debian's 15, through DATABASE_URL."""
    source, objects, backup = _demo_backup(server_url, tmp_path, "prosync_backup_same")
    before = _facts(source, objects)
    target = create_database(server_url, "prosync_restore_same")
    env = {"PROSYNC_STORAGE_DIR": str(tmp_path / "target-objects")}
    restored = prosync("restore", str(backup), url=target, env=env)
    assert restored.returncode == 0, restored.stdout + restored.stderr
    after = _facts(target, tmp_path / "target-objects")
    assert {k: v for k, v in after.items() if k != "audit"} == {
        k: v for k, v in before.items() if k != "audit"
    }
    assert after["audit"] == before["audit"]


def test_a_failed_restore_leaves_the_target_database_and_store_as_they_were(server_url, tmp_path):
    _, _, backup = _demo_backup(server_url, tmp_path, "prosync_backup_broken")
    dump = backup / "database.dump"
    dump.write_bytes(dump.read_bytes()[: dump.stat().st_size * 2 // 3])  # cut off: pg_restore fails part-way
    target = create_database(server_url, "prosync_restore_broken")
    store = tmp_path / "target-objects"
    (store / "kept").mkdir(parents=True)
    (store / "kept" / "already-there.txt").write_text("not ProSync's")
    failed = prosync("restore", str(backup), url=target, env={"PROSYNC_STORAGE_DIR": str(store)})
    assert failed.returncode == 1 and "pg_restore failed" in failed.stderr
    assert sorted(p.relative_to(store).as_posix() for p in store.rglob("*") if p.is_file()) == [
        "kept/already-there.txt"
    ], "every object the restore had copied was removed again"
    with psycopg.connect(target) as conn:
        schemas = conn.execute(
            "select count(*) from pg_namespace where nspname in ('users', 'documents', 'audit')"
        ).fetchone()[0]
    assert schemas == 0, "the dump went in as one transaction: nothing of it is left"


def test_no_password_reaches_a_client_programs_command_line(monkeypatch):
    import subprocess

    from db.tools import backup as backups

    seen = []
    real = subprocess.run

    def spy(args, **kwargs):
        seen.append((list(args), (kwargs.get("env") or {}).get("PGPASSWORD")))
        return real(args, **kwargs)

    monkeypatch.setattr(subprocess, "run", spy)
    with pytest.raises(Conflict):  # no server there: what matters is what was passed
        backups._run(
            [backups._pg_bin("pg_dump"), "--schema-only"], url="postgresql://me:s3cret-pw@127.0.0.1:9/db"
        )
    args, password = seen[-1]
    assert password == "s3cret-pw" and not any("s3cret-pw" in a for a in args)


def test_backup_files_are_readable_by_their_owner_only(server_url, tmp_path):
    import stat

    _, _, backup = _demo_backup(server_url, tmp_path, "prosync_backup_modes")
    assert stat.S_IMODE(backup.stat().st_mode) == 0o700
    for item in backup.rglob("*"):
        mode = stat.S_IMODE(item.stat().st_mode)
        assert mode & 0o077 == 0, f"{item} is {oct(mode)}"
