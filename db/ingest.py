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
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import BinaryIO

from sqlalchemy import Connection, text

from db import access, previews, staging, storage
from db.errors import DuplicateContent, InvalidInput, ProSyncError
from db.filetypes import check_file, clean_file_name, load_filetypes
from db.types import Document, StagedFile

log = logging.getLogger(__name__)

Unit = Callable[[], AbstractContextManager[Connection]]


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
    name = clean_file_name(name)
    if metadata is not None and not isinstance(metadata, dict):
        raise InvalidInput("Metadata must be a JSON object.")
    stream, spooled = storage.seekable(stream)
    try:
        start = stream.tell()
        with unit() as conn:  # refused before a byte is read
            access.require_permission(conn, project_id=project_id, permission="can_upload")
        checksum, size = storage.hash_stream(stream)  # outside any transaction: a big file holds nothing
        stream.seek(start)
        with unit() as conn:
            kind = check_file(
                stream, name=name, size=size, declared_mime=declared_mime, filetypes=load_filetypes(conn)
            )
            duplicate = _duplicate_message(conn, project_id=project_id, checksum=checksum)
            if duplicate:
                raise DuplicateContent(f"{name}: {duplicate}")
            elsewhere = _elsewhere(conn, project_id=project_id, checksum=checksum)
            known = conn.execute(
                text("select storage_code, object_key from documents.contents where checksum = :c"),
                {"c": checksum},
            ).one_or_none()
            store = storage.store_for(conn, known.storage_code) if known else storage.upload_store(conn)
        key = known.object_key if known else storage.object_key(checksum)

        def put() -> None:
            stream.seek(start)
            store.put(stream, key=key, checksum=checksum, size_bytes=size, content_type=kind.mime_type)

        created = False
        if not store.exists(key):
            put()  # the object first, outside any transaction: a slow upload holds no lock
            created = True
        try:
            with unit() as conn:
                staging.lock_content(conn, checksum=checksum)
                if not store.exists(key):  # removed meanwhile by a failed upload's clean-up or a purge
                    put()
                    created = True
                staged = staging.enqueue(
                    conn,
                    project_id=project_id,
                    original_name=name,
                    checksum=checksum,
                    size_bytes=size,
                    detected_mime=kind.mime_type,
                    declared_mime=declared_mime,
                    storage_code=store.code,
                    object_key=key,
                    notes=notes,
                    metadata=metadata,
                )
        except BaseException:
            if created:
                _remove_if_unused(unit, store, checksum, key)
            raise
    finally:
        if spooled:
            stream.close()
    message = f"staged for review ({kind.label}, {size:,} bytes)"
    if elsewhere:
        message += "; the same content is also in " + ", ".join(elsewhere)
    return Outcome(name=name, status="staged", message=message, staged=staged)


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
    with unit() as conn:
        staged = staging.get_staged_file(conn, ingest_id=ingest_id)
        access.require_permission(conn, project_id=staged.project_id, permission="can_review")
        store = storage.store_for(conn, staged.storage_code)
    image_url = _make_preview(store, staged) if staged.status == "pending" else None
    with unit() as conn:
        document = staging.approve(
            conn, ingest_id=ingest_id, reviewer_notes=reviewer_notes, image_url=image_url
        )
    return Outcome(name=staged.original_name, status="approved", message="approved", document=document)


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
