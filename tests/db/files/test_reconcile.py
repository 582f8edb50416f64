"""db/files/reconcile.py through `prosync reconcile`, run as a person runs it: objects missing,
corrupt (with --verify) or orphaned, found and, with --fix, removed when nothing claims them; claims
of uploads that never finished dropped."""

import os
import time

from sqlalchemy import text

from db.core import migrate
from db.core.engine import make_engine, sqlalchemy_url
from tests.conftest import create_database
from tests.db.tools.test_cli import prosync


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
