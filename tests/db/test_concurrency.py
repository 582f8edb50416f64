"""Races resolved by the database itself, with real concurrent transactions (committed data)."""

import threading

import pytest

from db.core import migrate
from db.core.engine import make_engine, sqlalchemy_url, system_transaction, transaction
from db.core.errors import Conflict, DuplicateContent
from db.domain import contents, projects, staging, users
from db.files import storage
from tests.conftest import approve_staged, create_database, enqueue_staged, make_checksum
from tests.waiting import wait_until


@pytest.fixture(scope="module")
def committed(server_url):
    """A database of its own, since these tests must commit."""
    url = create_database(server_url, "prosync_concurrency")
    migrate.upgrade(url=url)
    engine = make_engine(sqlalchemy_url(url), pool_size=4)
    with system_transaction(engine=engine) as conn:
        owner = users.create_user(
            conn, login="race-owner@example.com", display_name="Owner", password="race-owner-pw1"
        )
    with transaction(actor_id=owner.id, engine=engine) as conn:
        project = projects.create_project(conn, name="Race")
    yield engine, owner, project
    engine.dispose()


def _enqueue(engine, owner, project, checksum, hold=None):
    with transaction(actor_id=owner.id, engine=engine) as conn:
        staged = enqueue_staged(
            conn,
            project_id=project.id,
            original_name="same.pdf",
            checksum=checksum,
            size_bytes=42,
            detected_mime="application/pdf",
            storage_code="local",
            object_key=storage.object_key(checksum),
        )
        if hold:
            hold()
        return staged


def _waits_for_a_lock(engine, locktype: str = "%") -> bool:
    """Whether a session of the test's database is waiting for a lock (of `locktype`)."""
    from sqlalchemy import text

    with engine.connect() as conn:
        return conn.execute(
            text(
                "select exists (select from pg_locks l join pg_stat_activity a on a.pid = l.pid"
                " where not l.granted and a.datname = current_database() and l.locktype like :t)"
            ),
            {"t": locktype},
        ).scalar_one()


def test_duplicate_content_is_refused_under_two_concurrent_transactions(committed):
    engine, owner, project = committed
    checksum = make_checksum()
    inserted, release = threading.Event(), threading.Event()
    results = {}

    def first():
        def hold():
            inserted.set()
            release.wait(10)  # keep the transaction open while the second one tries

        results["first"] = _enqueue(engine, owner, project, checksum, hold)

    def second():
        inserted.wait(10)
        # The first transaction has not committed: a lookup cannot see its row, only the unique
        # index can. The first one is released once this one blocks on that index.
        try:
            results["second"] = _enqueue(engine, owner, project, checksum)
        except DuplicateContent as error:
            results["second"] = error

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for t in threads:
        t.start()
    try:
        wait_until(
            lambda: _waits_for_a_lock(engine) or "second" in results,
            timeout=10,
            what="the second transaction to block on the first one's uncommitted row",
        )
    finally:
        release.set()
    for t in threads:
        t.join(20)
    assert results["first"].checksum == checksum
    assert isinstance(results["second"], DuplicateContent)
    assert "already waiting for review" in str(results["second"])
    with transaction(actor_id=owner.id, engine=engine) as conn:
        pending = staging.list_pending(conn, limit=100).rows
    assert [p.checksum for p in pending].count(checksum) == 1


def test_two_reviewers_approving_at_once_promote_once(committed):
    engine, owner, project = committed
    staged = _enqueue(engine, owner, project, make_checksum())
    barrier = threading.Barrier(2)
    outcomes = []

    def approve():
        barrier.wait(10)
        try:
            with transaction(actor_id=owner.id, engine=engine) as conn:
                outcomes.append(approve_staged(conn, ingest_id=staged.id))
        except Conflict as error:
            outcomes.append(error)

    threads = [threading.Thread(target=approve) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    documents = [o for o in outcomes if not isinstance(o, Conflict)]
    conflicts = [o for o in outcomes if isinstance(o, Conflict)]
    assert len(documents) == 1 and len(conflicts) == 1
    assert "already handled" in str(conflicts[0])


def test_the_same_upload_from_two_threads_stores_one_object_and_stages_once(committed, tmp_path, monkeypatch):
    import io
    from functools import partial

    from db.files import ingest, storage
    from db.tools.demo import png_bytes
    from tests.conftest import _refresh_settings

    monkeypatch.setenv("PROSYNC_STORAGE_DIR", str(tmp_path / "objects"))
    monkeypatch.setenv("PROSYNC_STORAGE", "local")
    _refresh_settings()
    engine, owner, project = committed
    unit = partial(transaction, actor_id=owner.id, engine=engine)
    data = png_bytes(300, 200, (1, 2, 3))
    barrier = threading.Barrier(2)
    outcomes = []

    def upload(name):
        barrier.wait(10)
        outcomes.append(ingest.try_stage(unit, project_id=project.id, name=name, stream=io.BytesIO(data)))

    threads = [threading.Thread(target=upload, args=(f"race-{n}.png",)) for n in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(o.status for o in outcomes) == ["duplicate", "staged"]
    store = storage.make_store("local", "local")
    assert len(list(store.list_objects("sha256/"))) == 1

    staged = next(o.staged for o in outcomes if o.status == "staged")
    decisions = []
    barrier.reset()

    def approve():
        barrier.wait(10)
        decisions.append(ingest.each([staged.id], lambda i: ingest.approve_file(unit, ingest_id=i))[0])

    threads = [threading.Thread(target=approve) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(d.status for d in decisions) == ["approved", "refused"]
    assert "already handled" in next(d.message for d in decisions if d.status == "refused")
    assert len(list(store.list_objects("previews/"))) == 1
    monkeypatch.undo()
    _refresh_settings()


def test_a_purge_waits_for_a_backup_that_is_copying_objects(committed):
    from sqlalchemy import text

    engine, owner, project = committed
    staged = _enqueue(engine, owner, project, make_checksum())
    with transaction(actor_id=owner.id, engine=engine) as conn:
        staging.reject(conn, ingest_id=staged.id, reason="not needed")
    purged = threading.Event()

    def purge():
        with transaction(actor_id=owner.id, engine=engine) as conn:
            staging.purge(conn, ingest_id=staged.id)
        purged.set()

    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as backup:
        backup.execute(text(f"select pg_advisory_lock({contents.BACKUP_LOCK_KEY})"))
        thread = threading.Thread(target=purge)
        thread.start()
        wait_until(
            lambda: _waits_for_a_lock(engine, "advisory") or purged.is_set(),
            timeout=10,
            what="the purge to wait for the backup's lock",
        )
        assert not purged.is_set(), "the purge removed content while a backup was copying objects"
        backup.execute(text(f"select pg_advisory_unlock({contents.BACKUP_LOCK_KEY})"))
        thread.join(20)
    assert purged.is_set()


def _at_once(count: int, work) -> list:
    """`work(n)` in `count` threads released together; each result, or the domain error it raised."""
    from db.core.errors import ProSyncError

    barrier, results = threading.Barrier(count), [None] * count

    def run(n):
        barrier.wait(30)
        try:
            results[n] = work(n)
        except ProSyncError as error:
            results[n] = error

    threads = [threading.Thread(target=run, args=(n,)) for n in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not any(t.is_alive() for t in threads)
    return results


def test_twenty_reviewers_approving_one_file_promote_it_once(committed):
    from sqlalchemy import text

    engine, owner, project = committed
    staged = _enqueue(engine, owner, project, make_checksum())

    def approve(_n):
        with transaction(actor_id=owner.id, engine=engine) as conn:
            return approve_staged(conn, ingest_id=staged.id)

    results = _at_once(20, approve)
    promoted = [r for r in results if not isinstance(r, Exception)]
    assert len(promoted) == 1 and all("already handled" in str(r) for r in results if r not in promoted)
    with engine.connect() as conn:
        made = conn.execute(
            text("select count(*) from documents.documents where ingest_id = :i"), {"i": staged.id}
        )
        assert made.scalar_one() == 1


def test_twenty_uploads_of_the_same_content_stage_it_once_and_store_one_object(
    committed, tmp_path, monkeypatch
):
    import io
    from functools import partial

    from sqlalchemy import text

    from db.files import ingest, storage
    from tests.conftest import _refresh_settings

    monkeypatch.setenv("PROSYNC_STORAGE_DIR", str(tmp_path / "objects"))
    monkeypatch.setenv("PROSYNC_STORAGE", "local")
    _refresh_settings()
    engine, owner, project = committed
    unit = partial(transaction, actor_id=owner.id, engine=engine)
    data = b"twenty copies of the same report\n" * 100
    outcomes = _at_once(
        20,
        lambda n: ingest.try_stage(
            unit, project_id=project.id, name=f"copy-{n}.txt", stream=io.BytesIO(data)
        ),
    )
    assert sorted(o.status for o in outcomes).count("staged") == 1
    assert {o.status for o in outcomes} == {"staged", "duplicate"}
    assert len(list(storage.make_store("local", "local").list_objects("sha256/"))) == 1
    with engine.connect() as conn:
        assert conn.execute(text("select count(*) from staging.upload_claims")).scalar_one() == 0
    monkeypatch.undo()
    _refresh_settings()


def test_twenty_grants_and_revokes_of_one_membership_end_consistent_with_one_audit_row_each(committed):
    from sqlalchemy import text

    from db.domain import access

    engine, owner, project = committed
    with system_transaction(engine=engine) as conn:
        member = users.create_user(
            conn, login="flip@example.com", display_name="Flip", password="flip-flop-pw1"
        )

    def flip(n):
        with transaction(actor_id=owner.id, engine=engine) as conn:
            if n % 2:
                access.revoke_access(conn, project_id=project.id, user_id=member.id)
                return "revoked"
            access.grant_access(conn, project_id=project.id, user_id=member.id, role="viewer")
            return "granted"

    done = []
    for _round in range(3):
        done += _at_once(20, flip)
    effective = [r for r in done if isinstance(r, str)]
    refused = [r for r in done if not isinstance(r, str)]
    assert effective and all(type(r).__name__ in ("Conflict", "NotFound") for r in refused)
    with engine.connect() as conn:
        trail = (
            conn.execute(
                text(
                    "select action from audit.audit_log where table_name = 'project_access'"
                    " and record_id = :key order by id"
                ),
                {"key": f"{project.id},{member.id}"},
            )
            .scalars()
            .all()
        )
        member_now = conn.execute(
            text("select count(*) from projects.project_access where project_id = :p and user_id = :u"),
            {"p": project.id, "u": member.id},
        ).scalar_one()
    assert len(trail) == len(effective), "one audit row for each change that took effect, no more"
    assert all(a != b for a, b in zip(trail, trail[1:], strict=False)), "grants and revokes alternate"
    assert member_now == (1 if trail[-1] == "insert" else 0)
