"""db/files/ingest.py through both object stores: staging by content, duplicates, permissions,
approval with a preview, rejection, purge and reopen, batches, failures of the store or the record
that leave nothing behind. (What a file is and every refusal of its bytes or name:
test_filetypes.py.)"""

import io
import subprocess
from contextlib import contextmanager

import pytest

from db.core.errors import (
    Conflict,
    DuplicateContent,
    InvalidInput,
    NotFound,
    PermissionDenied,
    StorageUnavailable,
)
from db.domain import contents, staging
from db.files import ingest, storage
from db.tools.demo import pdf_bytes, png_bytes
from tests.conftest import acting, approve_staged, count, make_project, make_user


def unit(conn, user):
    return lambda: acting(conn, user)


def stage(conn, user, project, name, data, **details):
    return ingest.stage_file(
        unit(conn, user), project_id=project.id, name=name, stream=io.BytesIO(data), **details
    )


def objects(store) -> list[str]:
    return [o.key for o in store.list_objects("")]


def staged_rows(conn) -> int:
    return count(conn, "select count(*) from staging.documents_ingest")


def test_a_file_is_stored_by_content_and_staged(conn, store, upload_team):
    project, _, contributor, _, _ = upload_team
    data = pdf_bytes("Quarterly report")
    outcome = stage(
        conn,
        contributor,
        project,
        "Q3 report.pdf",
        data,
        declared_mime="application/pdf",
        notes="for the board",
        metadata={"quarter": "Q3"},
    )
    staged = outcome.staged
    assert outcome.status == "staged" and "PDF" in outcome.message
    assert staged.status == "pending" and staged.detected_mime == "application/pdf"
    assert staged.size_bytes == len(data) and staged.storage_code == store.code
    assert staged.object_key == storage.object_key(staged.checksum)
    assert "report" not in staged.object_key, "keys are never made from the user's file name"
    assert objects(store) == [staged.object_key]
    assert staged.metadata == {"quarter": "Q3"} and staged.notes == "for the board"
    assert staged.uploaded_by == contributor.id
    with store.open(staged.object_key) as stream:
        assert stream.read() == data


def test_uploading_without_permission_is_refused_before_anything_is_stored(conn, store, upload_team):
    project, _, _, _, viewer = upload_team
    outsider = make_user(conn)
    with pytest.raises(PermissionDenied):
        stage(conn, viewer, project, "a.txt", b"viewer text")
    with pytest.raises((PermissionDenied, NotFound)):
        stage(conn, outsider, project, "a.txt", b"outsider text")
    assert objects(store) == [] and staged_rows(conn) == 0


def test_duplicates_are_reported_in_the_project_and_only_in_projects_the_uploader_sees(
    conn, store, upload_team
):
    project, owner, contributor, reviewer, _ = upload_team
    first = stage(conn, contributor, project, "a.txt", b"same bytes").staged
    with pytest.raises(DuplicateContent, match=r"already waiting for review \(as a.txt"):
        stage(conn, contributor, project, "b.txt", b"same bytes")
    with acting(conn, reviewer):
        approve_staged(conn, ingest_id=first.id)
    with pytest.raises(DuplicateContent, match=r"already a document of this project \(as a.txt\)"):
        stage(conn, contributor, project, "c.txt", b"same bytes")

    # In another project the same content is welcome, stored once, and the uploader is told
    # where else it is, but only where they may look.
    other = make_project(conn, owner=owner, members=[(contributor, "contributor")])
    again = stage(conn, contributor, other, "copy.txt", b"same bytes")
    assert again.ok and project.name in again.message
    assert objects(store) == [first.object_key]
    hidden = make_project(conn, owner=make_user(conn), members=[(contributor, "contributor")])
    stranger_project = make_project(conn, owner=make_user(conn))
    stranger = make_user(conn)
    with acting(conn, None):
        from db.domain import access

        access.grant_access(conn, project_id=stranger_project.id, user_id=stranger.id, role="contributor")
    told = stage(conn, stranger, stranger_project, "mine.txt", b"same bytes")
    assert project.name not in told.message and other.name not in told.message
    assert hidden.name not in again.message


def test_a_failed_record_removes_the_object_it_stored(conn, store, upload_team):
    project, _, contributor, _, _ = upload_team
    with pytest.raises(InvalidInput, match="Notes are longer|longer than 10,000"):
        stage(conn, contributor, project, "a.txt", b"with long notes", notes="n" * 10_001)
    assert objects(store) == [] and staged_rows(conn) == 0
    assert stage(conn, contributor, project, "a.txt", b"with long notes", notes="short").ok


def test_a_failed_record_keeps_an_object_that_others_use(conn, store, upload_team):
    project, owner, contributor, _, _ = upload_team
    kept = stage(conn, contributor, project, "a.txt", b"shared bytes").staged
    other = make_project(conn, owner=owner, members=[(contributor, "contributor")])
    with pytest.raises(InvalidInput):
        stage(conn, contributor, other, "a.txt", b"shared bytes", notes="n" * 10_001)
    assert objects(store) == [kept.object_key]


def test_approval_makes_a_document_with_a_preview(conn, store, upload_team):
    project, _, contributor, reviewer, _ = upload_team
    for name, data in (("shot.png", png_bytes(600, 300, (200, 10, 10))), ("brief.pdf", pdf_bytes("Brief"))):
        staged = stage(conn, contributor, project, name, data).staged
        outcome = ingest.approve_file(unit(conn, reviewer), ingest_id=staged.id, reviewer_notes="fine")
        document = outcome.document
        assert document.name == name and document.checksum == staged.checksum
        assert document.preview_key == storage.preview_key(staged.checksum)
        with store.open(document.preview_key) as preview:
            from PIL import Image

            image = Image.open(preview)
            assert image.format == "PNG" and max(image.size) <= 480
        row = conn.exec_driver_sql(
            "select status, reviewed_by, reviewer_notes, document_id from staging.documents_ingest"
            f" where id = {staged.id}"
        ).one()
        assert tuple(row) == ("approved", reviewer.id, "fine", document.id)
    text_file = stage(conn, contributor, project, "plain.txt", b"no preview for text").staged
    assert ingest.approve_file(unit(conn, reviewer), ingest_id=text_file.id).document.preview_key is None


def test_approval_and_rejection_need_the_review_permission_and_a_reason(conn, store, upload_team):
    project, _, contributor, reviewer, _ = upload_team
    staged = stage(conn, contributor, project, "a.txt", b"needs review").staged
    with pytest.raises(PermissionDenied):
        ingest.approve_file(unit(conn, contributor), ingest_id=staged.id)
    with pytest.raises(PermissionDenied):
        ingest.reject_file(unit(conn, contributor), ingest_id=staged.id, reason="no")
    with pytest.raises(InvalidInput, match="needs a reason"):
        ingest.reject_file(unit(conn, reviewer), ingest_id=staged.id, reason="   ")
    assert count(conn, "select count(*) from documents.documents") == 0
    assert (
        conn.exec_driver_sql(f"select status from staging.documents_ingest where id = {staged.id}").scalar()
        == "pending"
    )


def test_bulk_decisions_report_each_file(conn, store, upload_team):
    project, _, contributor, reviewer, _ = upload_team
    ids = [stage(conn, contributor, project, f"f{n}.txt", f"file {n}".encode()).staged.id for n in range(3)]
    approved = ingest.each(ids[:2], lambda i: ingest.approve_file(unit(conn, reviewer), ingest_id=i))
    assert [o.status for o in approved] == ["approved", "approved"]
    again = ingest.each(ids, lambda i: ingest.reject_file(unit(conn, reviewer), ingest_id=i, reason="dup"))
    assert [o.status for o in again] == ["refused", "refused", "rejected"]
    assert "already handled" in again[0].message


def test_a_batch_stages_each_file_and_a_refusal_stops_only_itself(conn, store, upload_team):
    project, _, contributor, _, _ = upload_team
    report = pdf_bytes("Batch report")
    files = [
        ingest.FileToStage("report.pdf", io.BytesIO(report)),
        ingest.FileToStage("copy of report.pdf", io.BytesIO(report)),  # the same content, same batch
        ingest.FileToStage("tool.exe", io.BytesIO(b"MZ\x90\x00" + b"\0" * 60)),
        ingest.FileToStage("notes.txt", io.BytesIO(b"plain notes\n"), metadata={"path": "a/notes.txt"}),
    ]
    before = staged_rows(conn)
    outcomes = ingest.stage_files(unit(conn, contributor), project_id=project.id, files=files, workers=2)
    assert [o.status for o in outcomes] == ["staged", "duplicate", "refused", "staged"]
    assert "waiting for review" in outcomes[1].message and "not accepted" in outcomes[2].message
    assert staged_rows(conn) == before + 2
    assert outcomes[3].staged.metadata == {"path": "a/notes.txt"}
    assert sorted(objects(store)) == sorted(o.staged.object_key for o in outcomes if o.staged)


def test_a_batch_is_refused_whole_without_upload_permission(conn, store, upload_team):
    project, _, _, _, viewer = upload_team
    files = [ingest.FileToStage("a.txt", io.BytesIO(b"a\n")), ingest.FileToStage("b.txt", io.BytesIO(b"b\n"))]
    with pytest.raises(PermissionDenied):
        ingest.stage_files(unit(conn, viewer), project_id=project.id, files=files)
    assert objects(store) == []


def test_approving_a_selection_reports_each_file_and_a_refusal_undoes_no_other(conn, store, upload_team):
    project, _, contributor, reviewer, _ = upload_team
    text_file = stage(conn, contributor, project, "a.txt", b"first file\n").staged
    pdf = stage(conn, contributor, project, "b.pdf", pdf_bytes("second file")).staged
    rejected = stage(conn, contributor, project, "c.txt", b"third file\n").staged
    ingest.reject_file(unit(conn, reviewer), ingest_id=rejected.id, reason="not needed")
    outcomes = ingest.approve_files(
        unit(conn, reviewer), ingest_ids=[text_file.id, pdf.id, rejected.id, 987654321]
    )
    assert [o.status for o in outcomes] == ["approved", "approved", "refused", "refused"]
    assert outcomes[1].document.preview_key, "the PDF's preview was made before the approvals"
    assert outcomes[3].name == "#987654321"
    made = count(
        conn,
        "select count(*) from documents.documents where ingest_id = any(:ids)",
        ids=[text_file.id, pdf.id, rejected.id],
    )
    assert made == 2


def test_a_rejected_file_can_be_reopened_or_purged(conn, store, upload_team):
    project, owner, contributor, reviewer, _ = upload_team
    staged = stage(conn, contributor, project, "a.txt", b"rejected bytes").staged
    ingest.reject_file(unit(conn, reviewer), ingest_id=staged.id, reason="wrong project")
    with acting(conn, reviewer):
        reopened = staging.reopen(conn, ingest_id=staged.id)
    assert reopened.status == "pending" and reopened.rejection_reason is None
    ingest.reject_file(unit(conn, reviewer), ingest_id=staged.id, reason="still wrong")
    with pytest.raises(PermissionDenied):
        ingest.purge_file(unit(conn, contributor), ingest_id=staged.id)
    outcome = ingest.purge_file(unit(conn, reviewer), ingest_id=staged.id)
    assert outcome.message == "purged"
    assert objects(store) == [] and staged_rows(conn) == 0
    assert count(conn, "select count(*) from documents.contents") == 0
    deleted = count(
        conn,
        "select count(*) from audit.audit_log where table_name = 'documents_ingest' and action = 'delete'"
        " and record_id = :id",
        id=str(staged.id),
    )
    assert deleted == 1, "the purge is in the audit log"
    with pytest.raises(NotFound):
        ingest.purge_file(unit(conn, reviewer), ingest_id=staged.id)


def test_purging_keeps_content_that_another_project_uses(conn, store, upload_team):
    project, owner, contributor, reviewer, _ = upload_team
    other = make_project(conn, owner=owner, members=[(contributor, "contributor")])
    kept = stage(conn, contributor, other, "keep.txt", b"two homes").staged
    gone = stage(conn, contributor, project, "drop.txt", b"two homes").staged
    ingest.reject_file(unit(conn, reviewer), ingest_id=gone.id, reason="not ours")
    # The same words as when the object goes: whether the bytes live on in another project (one
    # the reviewer may not see) is not theirs to learn.
    assert ingest.purge_file(unit(conn, reviewer), ingest_id=gone.id).message == "purged"
    assert objects(store) == [kept.object_key]


def test_a_purge_during_an_upload_of_the_same_bytes_keeps_the_object_the_upload_records(
    conn, store, upload_team, monkeypatch
):
    project, _, contributor, reviewer, _ = upload_team
    rejected = stage(conn, contributor, project, "old.txt", b"back again").staged
    ingest.reject_file(unit(conn, reviewer), ingest_id=rejected.id, reason="not yet")
    store_object = ingest._store_object

    def purge_meanwhile(upload):  # between the upload's check and its record
        outcome = ingest.purge_file(unit(conn, reviewer), ingest_id=rejected.id)
        assert outcome.message == "purged"
        store_object(upload)

    monkeypatch.setattr(ingest, "_store_object", purge_meanwhile)
    again = stage(conn, contributor, project, "new.txt", b"back again")
    assert again.status == "staged" and objects(store) == [again.staged.object_key]
    with store.open(again.staged.object_key) as stored:
        assert stored.read() == b"back again"
    assert count(conn, "select count(*) from staging.upload_claims") == 0, "the upload released its claim"


def test_a_failed_upload_keeps_an_object_that_another_upload_in_flight_claims(conn, store, upload_team):
    project, _, contributor, _, _ = upload_team
    with acting(conn, contributor):
        [claim] = contents.claim_contents(conn, checksums=[storage.hash_stream(io.BytesIO(b"in flight"))[0]])
    with pytest.raises(InvalidInput):
        stage(conn, contributor, project, "a.txt", b"in flight", notes="n" * 10_001)
    assert len(objects(store)) == 1, "the other upload is about to record this object"
    with acting(conn, contributor):
        contents.release_claims(conn, claim_ids=[claim])
    with pytest.raises(InvalidInput):
        stage(conn, contributor, project, "a.txt", b"in flight", notes="n" * 10_001)
    assert objects(store) == [] and count(conn, "select count(*) from staging.upload_claims") == 0


def test_reopening_is_refused_once_the_content_became_a_document(conn, store, upload_team):
    project, _, contributor, reviewer, _ = upload_team
    first = stage(conn, contributor, project, "a.txt", b"twice").staged
    ingest.reject_file(unit(conn, reviewer), ingest_id=first.id, reason="later")
    second = stage(conn, contributor, project, "b.txt", b"twice").staged
    ingest.approve_file(unit(conn, reviewer), ingest_id=second.id)
    with acting(conn, reviewer), pytest.raises(DuplicateContent, match="cannot be reopened"):
        staging.reopen(conn, ingest_id=first.id)
    with acting(conn, reviewer), pytest.raises(Conflict, match="Only a rejected file"):
        staging.reopen(conn, ingest_id=second.id)


def _on_s3(moto_s3, monkeypatch, prefix: str) -> None:
    """Point the upload store at moto's bucket under `prefix` (undone by monkeypatch.undo)."""
    from tests.conftest import _refresh_settings, s3_environment

    for name, value in s3_environment(moto_s3, prefix).items():
        monkeypatch.setenv(name, value)
    _refresh_settings()


class StopsTheStoreMidUpload(io.BytesIO):
    """A file whose upload stops the S3 server after its first part has arrived."""

    def __init__(self, data, server, part_size):
        super().__init__(data)
        self.server, self.part_size, self.parts_read = server, part_size, 0

    def read(self, size=-1):
        if size == self.part_size:
            self.parts_read += 1
            if self.parts_read == 2:
                self.server.stop()
        return super().read(size)


def test_the_object_store_failing_mid_upload_leaves_nothing_and_a_retry_succeeds(
    conn, moto_s3, upload_team, monkeypatch
):
    from tests.conftest import _refresh_settings

    _on_s3(moto_s3, monkeypatch, "fault")
    project, _, contributor, _, _ = upload_team
    data = pdf_bytes("arrives later") + b"%" + b"x" * (11 * 1024 * 1024)  # three parts of 5 MB
    store = storage.make_store("s3", "s3")
    moto_s3.start()
    stream = StopsTheStoreMidUpload(data, moto_s3, 5 * 1024 * 1024)
    try:
        with pytest.raises(StorageUnavailable, match="did not accept the file"):
            ingest.stage_file(unit(conn, contributor), project_id=project.id, name="big.pdf", stream=stream)
        assert stream.parts_read == 2, "the store stopped after the first part arrived"
    finally:
        moto_s3.start()
    assert staged_rows(conn) == 0 and objects(store) == []
    assert stage(conn, contributor, project, "big.pdf", data).ok
    assert len(objects(store)) == 1
    monkeypatch.undo()
    _refresh_settings()


def test_the_object_store_stopping_before_an_approval_approves_without_a_preview_and_says_nothing_lost(
    conn, moto_s3, upload_team, monkeypatch
):
    from tests.conftest import _refresh_settings

    _on_s3(moto_s3, monkeypatch, "approval-fault")
    project, _, contributor, reviewer, _ = upload_team
    shot = stage(conn, contributor, project, "shot.png", png_bytes(300, 200, (5, 6, 7))).staged
    moto_s3.stop()  # the preview cannot be read or written; the approval is a database write only
    try:
        outcome = ingest.approve_file(unit(conn, reviewer), ingest_id=shot.id)
    finally:
        moto_s3.start()
    assert outcome.status == "approved" and outcome.document.preview_key is None
    assert storage.make_store("s3", "s3").exists(shot.object_key), "the document's object was never touched"
    again = stage(conn, contributor, project, "shot-2.png", png_bytes(300, 200, (9, 9, 9))).staged
    assert ingest.approve_file(unit(conn, reviewer), ingest_id=again.id).document.preview_key, (
        "previews resume"
    )
    monkeypatch.undo()
    _refresh_settings()


@contextmanager
def unwritable(folder):
    """The local storage folder, and everything in it, refusing every write, even root's (the
    immutable attribute: no folder permission stops root, and the tests run as root)."""
    folder.mkdir(parents=True, exist_ok=True)
    subprocess.run(["chattr", "-R", "+i", str(folder)], check=True, capture_output=True)
    try:
        yield
    finally:
        subprocess.run(["chattr", "-R", "-i", str(folder)], check=True, capture_output=True)


def _on_local(monkeypatch, folder) -> storage.ObjectStore:
    from tests.conftest import _refresh_settings

    monkeypatch.setenv("PROSYNC_STORAGE", "local")
    monkeypatch.setenv("PROSYNC_STORAGE_DIR", str(folder))
    _refresh_settings()
    return storage.make_store("local", "local")


def test_a_storage_folder_that_refuses_writes_leaves_nothing_and_a_retry_succeeds(
    conn, upload_team, tmp_path, monkeypatch
):
    from tests.conftest import _refresh_settings

    folder = tmp_path / "objects"
    store = _on_local(monkeypatch, folder)
    project, _, contributor, _, _ = upload_team
    data = pdf_bytes("refused by the disk")
    with unwritable(folder):
        with pytest.raises(StorageUnavailable, match="The storage folder refused the file"):
            stage(conn, contributor, project, "refused.pdf", data)
    assert staged_rows(conn) == 0 and objects(store) == []
    assert count(conn, "select count(*) from staging.upload_claims") == 0, "the claim was released"
    assert stage(conn, contributor, project, "refused.pdf", data).ok, "a retry succeeds"
    assert len(objects(store)) == 1
    monkeypatch.undo()
    _refresh_settings()


def test_a_storage_folder_that_refuses_writes_at_approval_approves_without_a_preview(
    conn, upload_team, tmp_path, monkeypatch
):
    from tests.conftest import _refresh_settings

    folder = tmp_path / "objects"
    store = _on_local(monkeypatch, folder)
    project, _, contributor, reviewer, _ = upload_team
    shot = stage(conn, contributor, project, "shot.png", png_bytes(300, 200, (1, 2, 3))).staged
    with unwritable(folder):  # the preview cannot be written; the approval is a database write only
        outcome = ingest.approve_file(unit(conn, reviewer), ingest_id=shot.id)
    assert outcome.status == "approved" and outcome.document.preview_key is None
    assert store.exists(shot.object_key), "the document's object was never touched"
    assert objects(store) == [shot.object_key], "no half-written preview"
    again = stage(conn, contributor, project, "shot-2.png", png_bytes(300, 200, (4, 5, 6))).staged
    assert ingest.approve_file(unit(conn, reviewer), ingest_id=again.id).document.preview_key, (
        "previews resume"
    )
    monkeypatch.undo()
    _refresh_settings()
