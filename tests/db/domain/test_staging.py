"""db.domain.staging: what may be staged (one file, or many with each refusal alone), rejection and
approval (one, or many with each refusal alone), duplicates within a project, the review lists as
typed rows in keyset pages, and who may download a staged file."""

from datetime import UTC, datetime

import pytest
from sqlalchemy import text

from db.core.errors import DuplicateContent, InvalidInput, NotFound
from db.core.types import NewStagedFile, StagedFile
from db.domain import documents, staging
from db.files import storage
from tests.conftest import acting, approve_staged, count, make_checksum, make_project, make_staged, make_user

NOT_FOUND = "There is no such staged file, or you do not have access to it."


def test_a_staged_file_is_downloaded_by_its_uploader_and_reviewers_only(conn):
    owner, uploader, other, viewer, reviewer = (make_user(conn) for _ in range(5))
    outsider, admin = make_user(conn), make_user(conn, roles=("admin",))
    members = [(uploader, "contributor"), (other, "contributor"), (viewer, "viewer"), (reviewer, "reviewer")]
    project = make_project(conn, owner=owner, members=members)
    staged = make_staged(conn, project=project, uploader=uploader)
    for allowed in (uploader, reviewer, owner, admin):
        with acting(conn, allowed):
            assert staging.get_staged_file_for_download(conn, ingest_id=staged.id).id == staged.id
    for refused in (other, viewer, outsider):
        with acting(conn, refused), pytest.raises(NotFound) as refusal:
            staging.get_staged_file_for_download(conn, ingest_id=staged.id)
        assert str(refusal.value) == NOT_FOUND  # the same as for a file that does not exist
    with acting(conn, reviewer), pytest.raises(NotFound, match=NOT_FOUND):
        staging.get_staged_file_for_download(conn, ingest_id=2**62)


def test_the_review_lists_are_staged_files_in_keyset_pages(conn):
    owner, uploader, reviewer = make_user(conn), make_user(conn), make_user(conn)
    project = make_project(conn, owner=owner, members=[(uploader, "contributor"), (reviewer, "reviewer")])
    files = [make_staged(conn, project=project, uploader=uploader) for _ in range(3)]
    with acting(conn, reviewer):
        first = staging.list_pending(conn, project_id=project.id, limit=2)
        second = staging.list_pending(conn, project_id=project.id, after=first.next, limit=2)
        staging.reject(conn, ingest_id=files[1].id, reason="Wrong project")
        rejected = staging.list_rejected(conn, project_id=project.id)
    assert all(isinstance(row, StagedFile) for row in first.rows + second.rows + rejected.rows)
    assert [r.id for r in first.rows + second.rows] == [f.id for f in files]  # oldest first, no repeats
    assert second.next is None
    pending = first.rows[0]
    assert (pending.status, pending.object_key, pending.uploaded_by_login) == (
        "pending",
        files[0].object_key,
        uploader.login,
    )
    [row] = rejected.rows
    assert (row.id, row.status, row.rejection_reason, row.reviewed_by_login) == (
        files[1].id,
        "rejected",
        "Wrong project",
        reviewer.login,
    )


def test_empty_content_is_refused(conn):
    owner = make_user(conn)
    project = make_project(conn, owner=owner)
    with pytest.raises(InvalidInput, match="empty"):
        make_staged(conn, project=project, uploader=owner, size_bytes=0)


def test_file_names_with_path_parts_are_refused(conn):
    owner = make_user(conn)
    project = make_project(conn, owner=owner)
    with pytest.raises(InvalidInput, match="file name"):
        make_staged(conn, project=project, uploader=owner, original_name="../etc/passwd")


def test_bad_staging_status_is_refused_by_the_database(conn):
    owner = make_user(conn)
    staged = make_staged(conn, project=make_project(conn, owner=owner), uploader=owner)
    with pytest.raises(Exception, match="documents_ingest_status_check"):
        conn.execute(
            text("update staging.documents_ingest set status = 'lost', reviewed_at = now() where id = :id"),
            {"id": staged.id},
        )


def test_rejection_needs_a_reason(conn):
    owner = make_user(conn)
    staged = make_staged(conn, project=make_project(conn, owner=owner), uploader=owner)
    with acting(conn, owner), pytest.raises(InvalidInput, match="needs a reason"):
        staging.reject(conn, ingest_id=staged.id, reason="   ")
    with pytest.raises(Exception, match="documents_ingest_rejection_reason"):
        conn.execute(
            text(
                "update staging.documents_ingest set status = 'rejected', reviewed_at = now() where id = :id"
            ),
            {"id": staged.id},
        )


def _new_file(checksum: str, **fields) -> NewStagedFile:
    return NewStagedFile(
        original_name=fields.pop("original_name", f"{checksum[:8]}.pdf"),
        checksum=checksum,
        size_bytes=fields.pop("size_bytes", 1234),
        detected_mime=fields.pop("detected_mime", "application/pdf"),
        storage_code="local",
        object_key=storage.object_key(checksum),
        **fields,
    )


def test_staging_many_files_refuses_each_bad_one_alone_and_keeps_the_rest(conn):
    owner = make_user(conn)
    project = make_project(conn, owner=owner)
    already = make_staged(conn, project=project, uploader=owner)
    same = make_checksum()
    files = [
        _new_file(make_checksum(), original_name="good-1.pdf"),
        _new_file(make_checksum(), detected_mime="application/x-unheard-of"),  # refused by the database
        _new_file(already.checksum),  # waiting for review already
        _new_file(same, original_name="first.pdf"),
        _new_file(same, original_name="second.pdf"),  # the same content in the same call
        _new_file(make_checksum(), size_bytes=0),  # refused before any statement
        _new_file(make_checksum(), original_name="good-2.pdf", metadata={"k": "v"}),
    ]
    before = count(conn, "select count(*) from staging.documents_ingest")
    with acting(conn, owner):
        results = staging.enqueue_many(conn, project_id=project.id, files=files, notes="a batch")
    kinds = [type(r).__name__ for r in results]
    assert kinds == [
        "StagedFile", "InvalidInput", "DuplicateContent", "StagedFile", "DuplicateContent", "InvalidInput",
        "StagedFile",
    ]  # fmt: skip
    assert "not known to ProSync" in str(results[1])
    assert "already waiting for review (as " + already.original_name in str(results[2])
    assert "in this same upload" in str(results[4]) and "empty" in str(results[5])
    assert [results[i].original_name for i in (0, 3, 6)] == ["good-1.pdf", "first.pdf", "good-2.pdf"]
    assert results[6].metadata == {"k": "v"} and results[0].notes == "a batch"
    assert count(conn, "select count(*) from staging.documents_ingest") == before + 3
    unknown = count(conn, "select count(*) from documents.contents where checksum = :c", c=files[1].checksum)
    assert unknown == 0, "the refused file's content row went with its savepoint"


def test_staging_a_content_already_stored_with_another_size_is_refused_as_corrupt(conn):
    owner = make_user(conn)
    project, other = make_project(conn, owner=owner), make_project(conn, owner=owner)
    stored = make_staged(conn, project=project, uploader=owner, size_bytes=100)
    with acting(conn, owner):
        results = staging.enqueue_many(
            conn,
            project_id=other.id,
            files=[_new_file(stored.checksum, size_bytes=101), _new_file(make_checksum())],
        )
    assert isinstance(results[0], InvalidInput) and "corrupt" in str(results[0])
    assert results[1].project_id == other.id


def test_approving_many_files_promotes_each_pending_one_and_refuses_the_rest_alone(conn):
    owner, reviewer, admin = make_user(conn), make_user(conn), make_user(conn, roles=("admin",))
    project = make_project(conn, owner=owner, members=[(reviewer, "reviewer")])
    hidden = make_project(conn, owner=owner)
    first, second, done, clash = (make_staged(conn, project=project, uploader=owner) for _ in range(4))
    elsewhere = make_staged(conn, project=hidden, uploader=owner)
    with acting(conn, reviewer):
        approve_staged(conn, ingest_id=done.id)
    with acting(conn, admin):  # the same content arrives as a document by another path meanwhile
        documents.import_document(
            conn, project_id=project.id, name="imported.pdf", checksum=clash.checksum,
            size_bytes=clash.size_bytes, mime_type="application/pdf", storage_code="local",
            object_key=clash.object_key, uploaded_at=datetime.now(UTC), uploaded_by=None,
        )  # fmt: skip
    ids = [first.id, done.id, clash.id, elsewhere.id, 2**70, second.id]
    with acting(conn, reviewer):
        results = staging.approve_many(
            conn, ingest_ids=ids, reviewer_notes="ok", images={first.id: "p/1.png"}
        )
    kinds = [type(r).__name__ for r in results]
    assert kinds == ["Document", "Conflict", "DuplicateContent", "NotFound", "NotFound", "Document"]
    assert "already handled by someone else (approved)" in str(results[1])
    assert results[0].preview_key == "p/1.png" and results[5].preview_key is None
    assert [results[i].name for i in (0, 5)] == [first.original_name, second.original_name]
    rows = conn.execute(
        text("select id, status, document_id from staging.documents_ingest where id = any(:ids) order by id"),
        {"ids": [first.id, clash.id, second.id]},
    ).all()
    assert [(r.status, r.document_id) for r in rows] == [
        ("approved", results[0].id), ("approved", results[5].id), ("pending", None)
    ]  # fmt: skip


def test_staging_and_documents_refuse_duplicates_within_a_project(conn):
    owner = make_user(conn)
    project = make_project(conn, owner=owner)
    staged = make_staged(conn, project=project, uploader=owner)
    with pytest.raises(DuplicateContent, match="waiting for review"):
        make_staged(conn, project=project, uploader=owner, checksum=staged.checksum)
    with acting(conn, owner):
        approve_staged(conn, ingest_id=staged.id)
    with pytest.raises(DuplicateContent, match="already a document"):
        make_staged(conn, project=project, uploader=owner, checksum=staged.checksum)
    other = make_project(conn, owner=owner)
    assert make_staged(conn, project=other, uploader=owner, checksum=staged.checksum).project_id == other.id
