"""db.domain.staging: the review lists as typed rows in keyset pages, and who may download a staged
file."""

import pytest

from db.core.errors import NotFound
from db.core.types import StagedFile
from db.domain import staging
from tests.conftest import acting, make_project, make_staged, make_user

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
