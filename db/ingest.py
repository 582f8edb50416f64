"""Ingest: a file from someone's disk to a staged file, and a staged file to a document.

These functions span the object store and the database, so each opens its own units of work
through `unit` (the caller says whose: `lambda: transaction(actor_id=…)`, or `system_transaction`
for the command line). The order is always: check, store the object, then record it in one
transaction; if the record fails, the object that this call stored is removed again, under the
same per-content advisory lock that every writer of that content takes.
"""

from __future__ import annotations

import hashlib
import io
import logging
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import BinaryIO

from sqlalchemy import Connection, text

from db import access, previews, staging, storage
from db.errors import DuplicateContent, InvalidInput, ProSyncError
from db.filetypes import FileType, check_file, clean_file_name, load_filetypes
from db.types import Document, StagedFile

log = logging.getLogger(__name__)

Unit = Callable[[], AbstractContextManager[Connection]]
BATCH = 50  # files per batch where many are staged or approved at once (prosync ingest, the benchmark)


@dataclass(frozen=True)
class Outcome:
    """What became of one file or one staged row: staged, duplicate, refused, approved, rejected, …"""

    name: str
    status: str
    message: str
    staged: StagedFile | None = None
    document: Document | None = None

    @property
    def ok(self) -> bool:
        return self.status not in ("duplicate", "refused", "failed")


def _duplicate_message(conn: Connection, *, project_id: int, checksum: str) -> str | None:
    """Why this content cannot be staged in this project again, or None."""
    row = conn.execute(
        text(
            "select d.name, d.deleted_at from documents.document_registry r"
            " join documents.documents d on d.id = r.id"
            " where r.project_id = :p and r.checksum = :c"
        ),
        {"p": project_id, "c": checksum},
    ).one_or_none()
    if row is not None:
        where = "in the project's trash: restore it" if row.deleted_at else "a document of this project"
        return f"the same content is already {where} (as {row.name})."
    row = conn.execute(
        text(
            "select i.original_name, u.login from staging.documents_ingest i"
            " left join users.users u on u.id = i.uploaded_by"
            " where i.project_id = :p and i.checksum = :c and i.status = 'pending'"
        ),
        {"p": project_id, "c": checksum},
    ).one_or_none()
    if row is not None:
        return f"the same content is already waiting for review (as {row.original_name}, from {row.login})."
    return None


def _elsewhere(conn: Connection, *, project_id: int, checksum: str) -> list[str]:
    """Other projects the uploader can see that already hold this content (never ones they cannot)."""
    visible = access.visible_project_ids(conn)
    rows = conn.execute(
        text(
            "select distinct p.name from documents.document_registry r"
            " join projects.projects p on p.id = r.project_id and p.deleted_at is null"
            " where r.checksum = :c and r.project_id <> :p"
            " and (cast(:everything as boolean) or r.project_id = any(:ids)) order by p.name"
        ),
        {"c": checksum, "p": project_id, "everything": visible is None, "ids": visible or []},
    ).all()
    return [r.name for r in rows]


@dataclass(frozen=True)
class FileToStage:
    """One file for `stage_files`: its name, its bytes, the type the uploader says it is, metadata."""

    name: str
    stream: BinaryIO
    declared_mime: str | None = None
    metadata: dict | None = None


@dataclass
class _Upload:
    """One file on its way through `_stage`."""

    name: str
    stream: BinaryIO
    declared_mime: str | None
    metadata: dict | None
    spooled: bool = False
    start: int = 0
    checksum: str = ""
    size: int = 0
    kind: FileType | None = None
    elsewhere: list[str] = field(default_factory=list)
    store: storage.ObjectStore | None = None
    key: str = ""
    known: bool = False  # its content was recorded before: its object should already be stored
    created: bool = False  # this call stored the object (and removes it again if not recorded)
    error: ProSyncError | None = None
    staged: StagedFile | None = None

    @property
    def live(self) -> bool:
        return self.error is None

    def put(self) -> None:
        self.stream.seek(self.start)
        self.store.put(
            self.stream, key=self.key, checksum=self.checksum, size_bytes=self.size,
            content_type=self.kind.mime_type,
        )  # fmt: skip
        self.created = True


def stage_file(
    unit: Unit,
    *,
    project_id: int,
    name: str,
    stream: BinaryIO,
    declared_mime: str | None = None,
    notes: str = "",
    metadata: dict | None = None,
) -> Outcome:
    """Check a file, store its bytes and record it as pending review; raise a domain error if refused."""
    file = FileToStage(name, stream, declared_mime, metadata)
    [upload] = _stage(unit, project_id, [file], notes, workers=1, batch=False)
    if upload.error is not None:
        raise upload.error
    return _outcome(upload)


def stage_files(
    unit: Unit,
    *,
    project_id: int,
    files: Sequence[FileToStage],
    notes: str = "",
    workers: int = 1,
) -> list[Outcome]:
    """Stage many files in three transactions for the lot instead of
    three each: checked together, their objects stored `workers` at a time, recorded together with
    a savepoint each, so a refused file stops only itself. One Outcome per file, in order."""
    return [_outcome(u) for u in _stage(unit, project_id, files, notes, workers=workers, batch=True)]


def _stage(
    unit: Unit, project_id: int, files: Sequence[FileToStage], notes: str, *, workers: int, batch: bool
) -> list[_Upload]:
    uploads = []
    for file in files:
        upload = _Upload(file.name, file.stream, file.declared_mime, file.metadata)
        try:
            upload.name = clean_file_name(file.name)
            if file.metadata is not None and not isinstance(file.metadata, dict):
                raise InvalidInput("Metadata must be a JSON object.")
        except ProSyncError as error:
            upload.error = error
        uploads.append(upload)
    try:
        with unit() as conn:  # refused before a byte is read
            access.require_permission(conn, project_id=project_id, permission="can_upload")
        # Hashing and storing happen outside any transaction: a big file holds nothing.
        _each(workers, _hash, [u for u in uploads if u.live])
        with unit() as conn:
            _check(conn, project_id, [u for u in uploads if u.live])
        _each(workers, _store_object, [u for u in uploads if u.live])
        try:
            with unit() as conn:
                # In content order, so that two batches sharing contents take their locks alike.
                pending = sorted((u for u in uploads if u.live), key=lambda u: u.checksum)
                for upload in pending:
                    _record(conn, project_id, upload, notes, batch=batch)
        except BaseException:
            for upload in uploads:
                if upload.created:
                    _remove_if_unused(unit, upload.store, upload.checksum, upload.key)
            raise
        for upload in uploads:
            if upload.created and not upload.live:  # stored, then refused while being recorded
                _remove_if_unused(unit, upload.store, upload.checksum, upload.key)
    finally:
        for upload in uploads:
            if upload.spooled:
                upload.stream.close()
    return uploads


def _each(workers: int, action: Callable[[_Upload], None], uploads: list[_Upload]) -> None:
    """`action` on every upload, `workers` at a time; a refusal is kept on its upload."""

    def guarded(upload: _Upload) -> None:
        try:
            action(upload)
        except ProSyncError as error:
            upload.error = error

    if workers <= 1 or len(uploads) <= 1:
        for upload in uploads:
            guarded(upload)
        return
    with ThreadPoolExecutor(min(workers, len(uploads))) as pool:
        list(pool.map(guarded, uploads))  # list(): anything but a refusal is raised here


def _hash(upload: _Upload) -> None:
    upload.stream, upload.spooled = storage.seekable(upload.stream)
    upload.start = upload.stream.tell()
    upload.checksum, upload.size = storage.hash_stream(upload.stream)
    upload.stream.seek(upload.start)


def _check(conn: Connection, project_id: int, uploads: list[_Upload]) -> None:
    """Type, duplicates, where else the content is, and which store holds or will hold it."""
    filetypes = load_filetypes(conn)
    stores: dict[str | None, storage.ObjectStore] = {}  # storage code (None: the upload store) → store

    def store(code: str | None) -> storage.ObjectStore:
        if code not in stores:
            stores[code] = storage.store_for(conn, code) if code else storage.upload_store(conn)
        return stores[code]

    for upload in uploads:
        try:
            upload.kind = check_file(
                upload.stream, name=upload.name, size=upload.size, declared_mime=upload.declared_mime,
                filetypes=filetypes,
            )  # fmt: skip
            duplicate = _duplicate_message(conn, project_id=project_id, checksum=upload.checksum)
            if duplicate:
                raise DuplicateContent(f"{upload.name}: {duplicate}")
            upload.elsewhere = _elsewhere(conn, project_id=project_id, checksum=upload.checksum)
            known = conn.execute(
                text("select storage_code, object_key from documents.contents where checksum = :c"),
                {"c": upload.checksum},
            ).one_or_none()
            upload.known = known is not None
            upload.store = store(known.storage_code if known else None)
            upload.key = known.object_key if known else storage.object_key(upload.checksum)
        except ProSyncError as error:
            upload.error = error


def _store_object(upload: _Upload) -> None:
    # New content goes straight up (a leftover object under its key holds the same bytes, so writing
    # over it is harmless); known content is only written if its object went missing.
    if not upload.known or not upload.store.exists(upload.key):
        upload.put()


def _record(conn: Connection, project_id: int, upload: _Upload, notes: str, *, batch: bool) -> None:
    """The staged row, under the content's lock; in a batch, a savepoint keeps a refusal to this file
    (alone, the refusal is raised and the transaction rolls back)."""
    savepoint = conn.begin_nested() if batch else None
    try:
        staging.lock_content(conn, checksum=upload.checksum)
        if not upload.store.exists(upload.key):  # removed meanwhile by a failed upload's clean-up or a purge
            upload.put()
        upload.staged = staging.enqueue(
            conn,
            project_id=project_id,
            original_name=upload.name,
            checksum=upload.checksum,
            size_bytes=upload.size,
            detected_mime=upload.kind.mime_type,
            declared_mime=upload.declared_mime,
            storage_code=upload.store.code,
            object_key=upload.key,
            notes=notes,
            metadata=upload.metadata,
        )
    except ProSyncError as error:
        if savepoint is None:
            raise
        savepoint.rollback()
        upload.error = error
    else:
        if savepoint is not None:
            savepoint.commit()


def _outcome(upload: _Upload) -> Outcome:
    if isinstance(upload.error, DuplicateContent):
        return Outcome(name=upload.name, status="duplicate", message=str(upload.error))
    if upload.error is not None:
        return Outcome(name=upload.name, status="refused", message=str(upload.error))
    message = f"staged for review ({upload.kind.label}, {upload.size:,} bytes)"
    if upload.elsewhere:
        message += "; the same content is also in " + ", ".join(upload.elsewhere)
    return Outcome(name=upload.name, status="staged", message=message, staged=upload.staged)


def _remove_if_unused(unit: Unit, store: storage.ObjectStore, checksum: str, key: str) -> None:
    """Remove an object this call stored if no row refers to it; reconcile finds it otherwise."""
    try:
        with unit() as conn:
            staging.lock_content(conn, checksum=checksum)
            if not conn.execute(
                text("select 1 from documents.contents where checksum = :c"), {"c": checksum}
            ).one_or_none():
                store.delete(key)
    except Exception:
        log.warning(
            "left an unrecorded object %s in %s; `prosync reconcile --fix` removes it", key, store.code
        )


def try_stage(unit: Unit, *, project_id: int, name: str, stream: BinaryIO, **details) -> Outcome:
    """`stage_file`, with a refusal turned into an Outcome (for screens and commands that list results)."""
    try:
        return stage_file(unit, project_id=project_id, name=name, stream=stream, **details)
    except DuplicateContent as error:
        return Outcome(name=str(name), status="duplicate", message=str(error))
    except ProSyncError as error:
        return Outcome(name=str(name), status="refused", message=str(error))


def _make_preview(store: storage.ObjectStore, staged: StagedFile) -> str | None:
    """The preview key for a staged file's content, made and stored if it is not there yet."""
    if staged.detected_mime not in previews.PREVIEW_TYPES:
        return None
    key = storage.preview_key(staged.checksum)
    try:
        if store.exists(key):
            return key
        with store.open(staged.s3_key) as source:
            png = previews.render_preview(source, staged.detected_mime)
        if png is None:
            return None
        store.put(
            io.BytesIO(png),
            key=key,
            checksum=hashlib.sha256(png).hexdigest(),
            size_bytes=len(png),
            content_type="image/png",
        )
        return key
    except ProSyncError as error:  # the document is approved without a preview rather than not at all
        log.warning("no preview for staged file %s: %s", staged.id, error)
        return None


def approve_file(unit: Unit, *, ingest_id: int, reviewer_notes: str = "") -> Outcome:
    """Promote a pending file to a document (one transaction), with a preview made first when possible."""
    [(outcome, error)] = _approve(unit, [ingest_id], reviewer_notes, batch=False)
    if error is not None:
        raise error
    return outcome


def approve_files(unit: Unit, *, ingest_ids: Sequence[int], reviewer_notes: str = "") -> list[Outcome]:
    """Approve many pending files: previews made first where their type has one, then every approval
    in one transaction with a savepoint each, so a refused file stops only itself. In order."""
    return [outcome for outcome, _ in _approve(unit, list(ingest_ids), reviewer_notes, batch=True)]


def _approve(
    unit: Unit, ids: list[int], notes: str, *, batch: bool
) -> list[tuple[Outcome, ProSyncError | None]]:
    found: dict[int, StagedFile] = {}
    errors: dict[int, ProSyncError] = {}
    documents: dict[int, Document] = {}
    with unit() as conn:
        for ingest_id in ids:
            try:
                staged = staging.get_staged_file(conn, ingest_id=ingest_id)
                access.require_permission(conn, project_id=staged.project_id, permission="can_review")
                found[ingest_id] = staged
            except ProSyncError as error:
                errors[ingest_id] = error
        wanted = [
            s for s in found.values() if s.status == "pending" and s.detected_mime in previews.PREVIEW_TYPES
        ]
        stores = {s.id: storage.store_for(conn, s.storage_code) for s in wanted}
        if not wanted:  # nothing to render: the approvals go in this same transaction
            _approve_each(conn, found, notes, {}, documents, errors, batch=batch)
    if wanted:
        images = {s.id: _make_preview(stores[s.id], s) for s in wanted}  # outside any transaction
        with unit() as conn:
            _approve_each(conn, found, notes, images, documents, errors, batch=batch)
    results = []
    for ingest_id in ids:
        if ingest_id in errors:
            name = found[ingest_id].original_name if ingest_id in found else f"#{ingest_id}"
            error = errors[ingest_id]
            results.append((Outcome(name=name, status="refused", message=str(error)), error))
        else:
            staged = found[ingest_id]
            document = documents[ingest_id]
            results.append((Outcome(staged.original_name, "approved", "approved", document=document), None))
    return results


def _approve_each(
    conn: Connection, found: dict, notes: str, images: dict, documents: dict, errors: dict, *, batch: bool
) -> None:
    for ingest_id in found:
        savepoint = conn.begin_nested() if batch else None
        try:
            documents[ingest_id] = staging.approve(
                conn, ingest_id=ingest_id, reviewer_notes=notes, image_url=images.get(ingest_id)
            )
        except ProSyncError as error:
            if savepoint is None:
                raise
            savepoint.rollback()
            errors[ingest_id] = error
        else:
            if savepoint is not None:
                savepoint.commit()


def reject_file(unit: Unit, *, ingest_id: int, reason: str, reviewer_notes: str = "") -> Outcome:
    """Reject a pending file with a reason (one transaction)."""
    with unit() as conn:
        staged = staging.reject(conn, ingest_id=ingest_id, reason=reason, reviewer_notes=reviewer_notes)
    return Outcome(name=staged.original_name, status="rejected", message="rejected", staged=staged)


def purge_file(unit: Unit, *, ingest_id: int) -> Outcome:
    """Delete a rejected file's row and, when no one else uses its content, its object and preview."""
    with unit() as conn:
        staged, unused = staging.purge(conn, ingest_id=ingest_id)
        if unused:
            store = storage.store_for(conn, staged.storage_code)
            # Removed while the content lock is held, so no upload of the same bytes can slip in
            # between; a commit that failed after this would leave a row for reconcile to report.
            store.delete(staged.s3_key)
            store.delete(storage.preview_key(staged.checksum))
    note = "its file was removed from storage" if unused else "its content is still used elsewhere"
    return Outcome(name=staged.original_name, status="purged", message=f"purged; {note}", staged=staged)


def each(ids: Iterable[int], action: Callable[[int], Outcome]) -> list[Outcome]:
    """Run `action` for every id, each in its own transactions; a refusal stops only its own row."""
    outcomes = []
    for ingest_id in ids:
        try:
            outcomes.append(action(ingest_id))
        except ProSyncError as error:
            outcomes.append(Outcome(name=f"#{ingest_id}", status="refused", message=str(error)))
    return outcomes


def parse_metadata(lines: str) -> dict[str, str]:
    """`key: value` lines (as typed on the upload screen) as a metadata object, or InvalidInput."""
    metadata: dict[str, str] = {}
    for number, line in enumerate((lines or "").splitlines(), 1):
        if not line.strip():
            continue
        key, colon, value = line.partition(":")
        key, value = key.strip(), value.strip()
        if not colon or not key:
            raise InvalidInput(f"Metadata line {number} needs the form 'key: value'.")
        if len(key) > 100 or len(value) > 2000 or "\x00" in line:
            raise InvalidInput(
                f"Metadata line {number} is too long (keys up to 100, values up to 2,000 characters)."
            )
        if key in metadata:
            raise InvalidInput(f"Metadata key {key!r} is given twice.")
        metadata[key] = value
    return metadata
