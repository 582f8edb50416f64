"""Faults: the database connection dropped mid-transaction, the process killed between the object
and its row. After each, nothing is half-done, the person is told plainly, and a retry succeeds."""

import io
import os
import subprocess
import sys
from functools import partial

import pytest
from sqlalchemy import text

from db.core import migrate
from db.core.engine import make_engine, sqlalchemy_url, system_transaction, transaction
from db.core.errors import DatabaseUnavailable
from db.domain import projects, staging, users
from db.files import ingest, reconcile, storage
from tests.conftest import _refresh_settings, create_database


@pytest.fixture
def faulty(server_url, tmp_path, monkeypatch):
    """A database of its own (these tests commit and kill connections) and a local object folder."""
    url = create_database(server_url, "prosync_faults")
    migrate.upgrade(url=url)
    objects = tmp_path / "objects"
    monkeypatch.setenv("PROSYNC_STORAGE_DIR", str(objects))
    monkeypatch.setenv("PROSYNC_STORAGE", "local")
    _refresh_settings()
    engine = make_engine(sqlalchemy_url(url), pool_pre_ping=True)
    with system_transaction(engine=engine) as conn:
        owner = users.create_user(
            conn, login="fault-owner@example.com", display_name="O", password="fault-owner-pw1"
        )
    with transaction(actor_id=owner.id, engine=engine) as conn:
        project = projects.create_project(conn, name="Faults")
    yield url, engine, owner, project, storage.make_store("local", "local")
    engine.dispose()
    monkeypatch.undo()
    _refresh_settings()


def _drop_my_connection(engine, conn) -> None:
    """Terminate `conn`'s server process from a second connection, as a failover or a DBA would."""
    pid = conn.execute(text("select pg_backend_pid()")).scalar_one()
    with engine.connect() as other:
        assert other.execute(text("select pg_terminate_backend(:p)"), {"p": pid}).scalar_one()


def _count(engine, sql: str) -> int:
    with engine.connect() as conn:
        return conn.execute(text(sql)).scalar_one()


def test_a_connection_dropped_while_recording_an_upload_leaves_nothing_and_a_retry_succeeds(
    faulty, monkeypatch
):
    _, engine, owner, project, store = faulty
    unit = partial(transaction, actor_id=owner.id, engine=engine)
    record = staging.enqueue_many

    def dropped(conn, **details):
        _drop_my_connection(engine, conn)
        return record(conn, **details)

    monkeypatch.setattr(staging, "enqueue_many", dropped)
    with pytest.raises(DatabaseUnavailable, match="connection to the database was lost"):
        ingest.stage_file(unit, project_id=project.id, name="a.txt", stream=io.BytesIO(b"dropped once\n"))
    assert _count(engine, "select count(*) from staging.documents_ingest") == 0
    assert list(store.list_objects("")) == [], "the object stored before the drop was removed again"
    assert _count(engine, "select count(*) from staging.upload_claims") == 0
    monkeypatch.setattr(staging, "enqueue_many", record)
    staged = ingest.stage_file(
        unit, project_id=project.id, name="a.txt", stream=io.BytesIO(b"dropped once\n")
    )
    assert staged.status == "staged" and store.exists(staged.staged.object_key)


def test_a_connection_dropped_while_approving_leaves_the_file_pending_and_a_retry_approves(
    faulty, monkeypatch
):
    _, engine, owner, project, store = faulty
    unit = partial(transaction, actor_id=owner.id, engine=engine)
    staged = ingest.stage_file(
        unit, project_id=project.id, name="b.txt", stream=io.BytesIO(b"approve me\n")
    ).staged
    promote = staging._promote

    def dropped(conn, *args):
        _drop_my_connection(engine, conn)
        return promote(conn, *args)

    monkeypatch.setattr(staging, "_promote", dropped)
    with pytest.raises(DatabaseUnavailable):
        ingest.approve_file(unit, ingest_id=staged.id)
    assert _count(engine, "select count(*) from documents.documents") == 0
    assert _count(engine, "select count(*) from staging.documents_ingest where status = 'pending'") == 1
    monkeypatch.setattr(staging, "_promote", promote)
    assert ingest.approve_file(unit, ingest_id=staged.id).status == "approved"


KILLED = """
import io, os, sys
from functools import partial
from db.domain import staging
from db.files import ingest
from db.core.engine import transaction

def die(*args, **kwargs):
    os._exit(9)  # between the object and its row, as a power cut or the OOM killer would

staging.enqueue_many = die
ingest.stage_file(partial(transaction, actor_id=int(sys.argv[1])), project_id=int(sys.argv[2]),
                  name="killed.txt", stream=io.BytesIO(b"the process died here\\n"))
"""


def test_a_process_killed_between_the_object_and_its_row_leaves_an_orphan_that_reconcile_removes(faulty):
    url, engine, owner, project, store = faulty
    env = {**os.environ, "DATABASE_URL": url}
    killed = subprocess.run(
        [sys.executable, "-c", KILLED, str(owner.id), str(project.id)],
        env=env,
        capture_output=True,
        timeout=120,
    )
    assert killed.returncode == 9, killed.stderr
    [orphan] = [o.key for o in store.list_objects("")]
    assert _count(engine, "select count(*) from staging.documents_ingest") == 0, "no row points at anything"
    with_claim = reconcile.reconcile(partial(system_transaction, engine=engine))
    assert [(f.kind, f.key) for f in with_claim.findings] == [("orphan", orphan)]
    fixed = reconcile.reconcile(
        partial(system_transaction, engine=engine), fix=True, grace=reconcile.timedelta(0)
    )
    assert fixed.stale_claims_dropped == 1 and [(f.kind, f.key) for f in fixed.findings] == [
        ("removed", orphan)
    ]
    assert list(store.list_objects("")) == []
    unit = partial(transaction, actor_id=owner.id, engine=engine)
    again = ingest.stage_file(
        unit, project_id=project.id, name="killed.txt", stream=io.BytesIO(b"the process died here\n")
    )
    assert again.status == "staged" and store.exists(again.staged.object_key)
