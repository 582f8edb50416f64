"""db.domain.documents: a document's history, soft delete and restore, and the trash. (Listing
active documents in keyset pages and its filters: tests/db/test_reads.py.)"""

import pytest

from db.core.errors import InvalidInput, NotFound, PermissionDenied
from db.domain import documents
from tests.conftest import acting, count, make_document, make_project, make_user


def test_document_history_records_soft_delete_and_restore(conn):
    owner = make_user(conn)
    project = make_project(conn, owner=owner)
    doc = make_document(conn, project=project, uploader=owner)
    with acting(conn, owner):
        documents.soft_delete_document(conn, document_id=doc.id)
        documents.restore_document(conn, document_id=doc.id)
        history = documents.document_history(conn, document_id=doc.id)
    assert [h.operation for h in history] == ["restore", "soft_delete", "insert"]
    audited = count(
        conn,
        "select count(*) from audit.audit_log where table_name = 'documents' and project_id = :p",
        p=project.id,
    )
    assert audited == 3


def test_a_deleted_document_waits_in_its_projects_trash_until_someone_who_may_delete_restores_it(conn):
    owner, viewer = make_user(conn), make_user(conn)
    project = make_project(conn, owner=owner, members=[(viewer, "viewer")])
    kept = make_document(conn, project=project, uploader=owner)
    trashed = make_document(conn, project=project, uploader=owner)
    with acting(conn, owner):
        documents.soft_delete_document(conn, document_id=trashed.id)
    with acting(conn, viewer):
        assert [d.id for d in documents.list_deleted_documents(conn, project_id=project.id)] == [trashed.id]
        assert documents.get_document(conn, document_id=trashed.id).deleted_at is not None
        assert documents.get_document(conn, document_id=kept.id).deleted_at is None
        with pytest.raises(PermissionDenied, match="viewer"):
            documents.restore_document(conn, document_id=trashed.id)
    with acting(conn, owner):
        assert documents.restore_document(conn, document_id=trashed.id).deleted_at is None
        assert documents.list_deleted_documents(conn, project_id=project.id) == []


def test_documents_are_found_by_id_only_in_projects_one_may_see(conn):
    owner, stranger = make_user(conn), make_user(conn)
    project = make_project(conn, owner=owner)
    doc = make_document(conn, project=project, uploader=owner)
    with acting(conn, owner):
        found = documents.get_documents(conn, document_ids=[doc.id, 2**62, 2**70])
    assert list(found) == [doc.id] and found[doc.id].project_id == project.id
    with acting(conn, stranger):
        assert documents.get_documents(conn, document_ids=[doc.id]) == {}
        with pytest.raises(NotFound, match="no such document"):
            documents.get_document(conn, document_id=doc.id)
        with pytest.raises(PermissionDenied):
            documents.list_deleted_documents(conn, project_id=project.id)


def test_uploads_per_week_count_the_active_documents_of_the_projects_one_sees(conn):
    owner, stranger = make_user(conn), make_user(conn)
    project = make_project(conn, owner=owner)
    make_document(conn, project=project, uploader=owner)
    trashed = make_document(conn, project=project, uploader=owner)
    with acting(conn, owner):
        documents.soft_delete_document(conn, document_id=trashed.id)
        weeks = documents.uploads_per_week(conn, weeks=1)
    assert weeks[weeks.project_name == project.name].documents.sum() == 1, "the trashed one is not counted"
    with acting(conn, stranger):
        assert project.name not in set(documents.uploads_per_week(conn).project_name)
    for wrong in (0, 521):
        with acting(conn, owner), pytest.raises(InvalidInput, match="1 to 520 weeks"):
            documents.uploads_per_week(conn, weeks=wrong)
