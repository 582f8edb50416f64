"""The benchmark measures the same data set every run: what its ingest stored is removed again, and
nothing else is."""

import io
from functools import partial

import pytest
from sqlalchemy import text

from db.core import migrate
from db.core.engine import make_engine, sqlalchemy_url, system_transaction, transaction
from db.core.errors import Conflict
from db.files import ingest, storage
from db.tools.bench.reads import GENERATED_DOMAIN
from db.tools.bench.writes import bench_files, forget_bench_documents
from tests.conftest import _refresh_settings, create_database, make_project, make_user


@pytest.fixture(scope="module")
def owner_engine(server_url):
    url = create_database(server_url, "prosync_bench_forget")
    migrate.upgrade(url=url)
    engine = make_engine(sqlalchemy_url(url))
    yield engine
    engine.dispose()


def _ingest(unit, project_id: int, files: list[tuple[str, bytes]]) -> None:
    staged = ingest.stage_files(
        unit, project_id=project_id, files=[ingest.FileToStage(n, io.BytesIO(d)) for n, d in files]
    )
    assert [o.status for o in staged] == ["staged"] * len(files)
    approved = ingest.approve_files(unit, ingest_ids=[o.staged.id for o in staged])
    assert [o.status for o in approved] == ["approved"] * len(files)


def test_the_benchmark_removes_what_its_ingest_left_and_nothing_else(owner_engine, tmp_path, monkeypatch):
    monkeypatch.setenv("PROSYNC_STORAGE", "local")
    monkeypatch.setenv("PROSYNC_STORAGE_DIR", str(tmp_path / "objects"))
    _refresh_settings()
    store = storage.LocalStorage(tmp_path / "objects")
    with system_transaction(engine=owner_engine) as conn:
        # A generated data set's users (the benchmark refuses any other database).
        uploader = make_user(conn, login=f"bench-lead@{GENERATED_DOMAIN}")
        colleague = make_user(conn)
        measured = make_project(conn, owner=uploader, members=[(colleague, "maintainer")])
        other = make_project(conn, owner=uploader)
    unit = partial(transaction, actor_id=uploader.id, engine=owner_engine)
    ours = list(bench_files(3, 4096)) + list(bench_files(1, 4096, prefix="api"))
    kept = [("bench-report.txt", b"a person's file, named like the benchmark's but not the same\n")]
    _ingest(unit, measured.id, ours + kept)
    _ingest(unit, other.id, [("copy.txt", ours[0][1])])  # the same content as one of ours, elsewhere
    # A colleague's file with a name the benchmark could have given: not the benchmark's user's.
    theirs = [("bench-00099.txt", b"the colleague's own notes\n")]
    _ingest(partial(transaction, actor_id=colleague.id, engine=owner_engine), measured.id, theirs)

    def one(sql: str, **params):
        with owner_engine.connect() as c:
            return c.execute(text(sql), params).scalar_one()

    documents_before = one("select count(*) from documents.documents")
    deletes_before = one("select count(*) from audit.audit_log where action = 'delete'")
    assert forget_bench_documents(owner_engine, measured.id, uploader.id) == 4
    names = one(
        "select array_agg(name order by name) from documents.documents where project_id = :p", p=measured.id
    )
    assert names == ["bench-00099.txt", "bench-report.txt"]
    assert one("select count(*) from documents.documents") == documents_before - 4
    assert one("select count(*) from staging.documents_ingest where project_id = :p", p=measured.id) == 2
    assert one("select count(*) from documents.document_registry where project_id = :p", p=measured.id) == 2
    assert one("select count(*) from documents.documents where project_id = :p", p=other.id) == 1
    # Contents and objects: removed only where no other row uses them.
    checksum = storage.hash_stream(io.BytesIO(ours[0][1]))[0]
    assert store.exists(storage.object_key(checksum)), "the other project's document keeps its bytes"
    for _, data in ours[1:]:
        gone = storage.hash_stream(io.BytesIO(data))[0]
        assert not store.exists(storage.object_key(gone))
        assert one("select count(*) from documents.contents where checksum = :c", c=gone) == 0
    assert store.exists(storage.object_key(storage.hash_stream(io.BytesIO(kept[0][1]))[0]))
    assert one("select count(*) from audit.audit_log where action = 'delete'") > deletes_before, "audited"
    assert forget_bench_documents(owner_engine, measured.id, uploader.id) == 0
    with system_transaction(engine=owner_engine) as conn:  # not a generated data set: refused
        conn.execute(
            text("update users.users set login = 'lead@example.com' where id = :u"), {"u": uploader.id}
        )
    with pytest.raises(Conflict, match="does not hold a generated data set"):
        forget_bench_documents(owner_engine, measured.id, uploader.id)
