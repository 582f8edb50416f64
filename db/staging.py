"""Staging: enqueue a stored file for review, list pending and rejected, approve, reject."""

from __future__ import annotations

import json
import re

from sqlalchemy import Connection, text

from db import access
from db._sql import domain_errors
from db.documents import get_document
from db.engine import current_actor
from db.errors import Conflict, DuplicateContent, InvalidInput, NotFound
from db.types import Cursor, Document, Page, StagedFile

_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_STAGED_COLUMNS = """
    i.id, i.project_id, p.name as project_name, i.original_name, i.declared_mime, i.detected_mime,
    c.size_bytes, i.checksum, c.storage_code, c.object_key as s3_key, i.status, i.notes, i.metadata,
    i.uploaded_by, u.login as uploaded_by_login, i.uploaded_at, i.rejection_reason, i.reviewer_notes,
    i.reviewed_by, i.reviewed_at, i.document_id
"""
_STAGED_FROM = """
    from staging.documents_ingest i
    join projects.projects p on p.id = i.project_id
    join documents.contents c on c.checksum = i.checksum
    left join users.users u on u.id = i.uploaded_by
"""


def _text(value: str | None, what: str, *, limit: int = 10000) -> str:
    if value is None:
        return ""
    if not isinstance(value, str) or "\x00" in value:
        raise InvalidInput(f"The {what} must be text without NUL characters.")
    if len(value) > limit:
        raise InvalidInput(f"The {what} is longer than {limit:,} characters.")
    return value.strip()


def get_staged_file(conn: Connection, *, ingest_id: int) -> StagedFile:
    """One staged file of a project the acting user may see."""
    row = conn.execute(
        text(f"select {_STAGED_COLUMNS} {_STAGED_FROM} where i.id = :id"),
        {"id": ingest_id},
    ).one_or_none()
    if row is None or access.project_role(conn, project_id=row.project_id) is None:
        raise NotFound("There is no such staged file, or you do not have access to it.")
    return StagedFile(**row._mapping)


def enqueue(
    conn: Connection,
    *,
    project_id: int,
    original_name: str,
    checksum: str,
    size_bytes: int,
    detected_mime: str,
    storage_code: str,
    object_key: str,
    declared_mime: str | None = None,
    notes: str = "",
    metadata: dict | None = None,
) -> StagedFile:
    """Record a file whose bytes are already stored as pending review in a project."""
    access.require_permission(conn, project_id=project_id, permission="can_upload")
    if not isinstance(checksum, str) or not _SHA256.match(checksum):
        raise InvalidInput("The checksum must be a SHA-256 in lowercase hex.")
    if not isinstance(size_bytes, int) or size_bytes <= 0:
        raise InvalidInput("The file is empty.")
    if metadata is not None and not isinstance(metadata, dict):
        raise InvalidInput("Metadata must be a JSON object.")
    name = _text(original_name, "file name", limit=255)
    if not name:
        raise InvalidInput("A file name is required.")
    already = conn.execute(
        text("select 1 from documents.document_registry where project_id = :p and checksum = :c"),
        {"p": project_id, "c": checksum},
    ).one_or_none()
    if already is not None:
        raise DuplicateContent(
            "This file is already a document in this project (check its documents and its trash)."
        )
    with domain_errors():
        stored = conn.execute(
            text(
                "insert into documents.contents (checksum, size_bytes, storage_code, object_key)"
                " values (:c, :size, :storage, :key)"
                " on conflict (checksum) do update set checksum = excluded.checksum"
                " returning size_bytes, storage_code, object_key"
            ),
            {"c": checksum, "size": size_bytes, "storage": storage_code, "key": object_key},
        ).one()
        if stored.size_bytes != size_bytes:
            raise InvalidInput("This checksum is already stored with another size: the upload is corrupt.")
        ingest_id = conn.execute(
            text(
                "insert into staging.documents_ingest (project_id, original_name, declared_mime,"
                " detected_mime, checksum, notes, metadata)"
                " values (:p, :name, :declared, :detected, :c, :notes, cast(:metadata as jsonb))"
                " returning id"
            ),
            {
                "p": project_id,
                "name": name,
                "declared": _text(declared_mime, "declared type", limit=255) or None,
                "detected": detected_mime,
                "c": checksum,
                "notes": _text(notes, "notes"),
                "metadata": json.dumps(metadata or {}),
            },
        ).scalar_one()
    return get_staged_file(conn, ingest_id=ingest_id)


def _list(conn, view, order, after: Cursor | None, limit: int, at: str, project_id: int | None):
    reviewable = access.project_ids_with(conn, permission="can_review")
    op = ">" if order == "asc" else "<"
    rows = conn.execute(
        text(
            f"select * from staging.{view} v"
            " where (cast(:everything as boolean) or v.project_id = any(:ids))"
            " and (cast(:project as bigint) is null or v.project_id = :project)"
            f" and (cast(:after_at as timestamptz) is null or (v.{at}, v.id) {op} (:after_at, :after_id))"
            f" order by v.{at} {order}, v.id {order} limit :limit"
        ),
        {
            "everything": reviewable is None,
            "ids": reviewable or [],
            "project": project_id,
            "after_at": after.at if after else None,
            "after_id": after.id if after else None,
            "limit": limit + 1,
        },
    ).all()
    more = len(rows) > limit
    rows = rows[:limit]
    cursor = Cursor(getattr(rows[-1], at), rows[-1].id) if rows and more else None
    return rows, cursor


def list_pending(
    conn: Connection, *, project_id: int | None = None, after: Cursor | None = None, limit: int = 50
) -> Page:
    """The review queue (staging.pending_documents) of projects the user may review, oldest first."""
    rows, cursor = _list(conn, "pending_documents", "asc", after, limit, "uploaded_at", project_id)
    return Page(rows=[dict(r._mapping) for r in rows], next=cursor)


def list_rejected(
    conn: Connection, *, project_id: int | None = None, after: Cursor | None = None, limit: int = 50
) -> Page:
    """Rejected files (staging.rejected_documents) of projects the user may review, newest first."""
    rows, cursor = _list(conn, "rejected_documents", "desc", after, limit, "reviewed_at", project_id)
    return Page(rows=[dict(r._mapping) for r in rows], next=cursor)


def count_pending(conn: Connection, *, project_id: int | None = None) -> int:
    """How many files wait for this user's review (in one project, or in all they may review)."""
    reviewable = access.project_ids_with(conn, permission="can_review")
    return conn.execute(
        text(
            "select count(*) from staging.pending_documents"
            " where (cast(:everything as boolean) or project_id = any(:ids))"
            " and (cast(:project as bigint) is null or project_id = :project)"
        ),
        {"everything": reviewable is None, "ids": reviewable or [], "project": project_id},
    ).scalar_one()


def list_my_uploads(conn: Connection, *, limit: int = 50) -> list[StagedFile]:
    """The acting user's own recent uploads with their outcome (pending, approved, or why rejected)."""
    rows = conn.execute(
        text(
            f"select {_STAGED_COLUMNS} {_STAGED_FROM} where i.uploaded_by = :me"
            " order by i.uploaded_at desc, i.id desc limit :n"
        ),
        {"me": current_actor(conn), "n": limit},
    ).all()
    return [StagedFile(**r._mapping) for r in rows]


def _lock(conn: Connection, ingest_id: int, expected: str) -> StagedFile:
    staged = get_staged_file(conn, ingest_id=ingest_id)
    access.require_permission(conn, project_id=staged.project_id, permission="can_review")
    # The row lock makes two reviewers deciding at once take turns; the second sees the outcome.
    status = conn.execute(
        text("select status from staging.documents_ingest where id = :id for update"),
        {"id": ingest_id},
    ).scalar_one_or_none()
    if status is None:
        raise Conflict("This file was already purged by someone else.")
    if status != expected:
        if expected == "pending":
            raise Conflict(f"This file was already handled by someone else ({status}).")
        raise Conflict(f"Only a {expected} file can be changed this way; this one is {status}.")
    return staged


def _lock_pending(conn: Connection, ingest_id: int) -> StagedFile:
    return _lock(conn, ingest_id, "pending")


def approve(
    conn: Connection, *, ingest_id: int, reviewer_notes: str = "", image_url: str | None = None
) -> Document:
    """Promote a pending file into documents.documents; the staging row records the decision."""
    _lock_pending(conn, ingest_id)
    notes = _text(reviewer_notes, "reviewer notes")
    with domain_errors():
        document_id = conn.execute(
            text(
                "insert into documents.documents (project_id, name, mime_type, checksum, metadata,"
                " uploaded_by, ingest_id, image_url)"
                " select project_id, original_name, detected_mime, checksum, metadata,"
                " uploaded_by, id, :image_url from staging.documents_ingest where id = :id returning id"
            ),
            {"id": ingest_id, "image_url": image_url},
        ).scalar_one()
        conn.execute(
            text(
                "update staging.documents_ingest set status = 'approved', reviewed_by = :actor,"
                " reviewed_at = now(), reviewer_notes = :notes, document_id = :doc where id = :id"
            ),
            {"id": ingest_id, "actor": current_actor(conn), "notes": notes, "doc": document_id},
        )
    return get_document(conn, document_id=document_id)


def reject(conn: Connection, *, ingest_id: int, reason: str, reviewer_notes: str = "") -> StagedFile:
    """Refuse a pending file; a reason is required."""
    reason = _text(reason, "reason", limit=2000)
    if not reason:
        raise InvalidInput("A rejection needs a reason.")
    _lock_pending(conn, ingest_id)
    with domain_errors():
        conn.execute(
            text(
                "update staging.documents_ingest set status = 'rejected', rejection_reason = :reason,"
                " reviewed_by = :actor, reviewed_at = now(), reviewer_notes = :notes where id = :id"
            ),
            {
                "id": ingest_id,
                "reason": reason,
                "actor": current_actor(conn),
                "notes": _text(reviewer_notes, "reviewer notes"),
            },
        )
    return get_staged_file(conn, ingest_id=ingest_id)


def reopen(conn: Connection, *, ingest_id: int) -> StagedFile:
    """Put a rejected file back in the review queue (its rejection stays in the history and audit log)."""
    staged = _lock(conn, ingest_id, "rejected")
    already = conn.execute(
        text("select 1 from documents.document_registry where project_id = :p and checksum = :c"),
        {"p": staged.project_id, "c": staged.checksum},
    ).one_or_none()
    if already is not None:
        raise DuplicateContent("This file has become a document of the project since; it cannot be reopened.")
    with domain_errors():
        conn.execute(
            text(
                "update staging.documents_ingest set status = 'pending', rejection_reason = null,"
                " reviewed_by = null, reviewed_at = null where id = :id"
            ),
            {"id": ingest_id},
        )
    return get_staged_file(conn, ingest_id=ingest_id)


def lock_content(conn: Connection, *, checksum: str) -> None:
    """Serialise, until this transaction ends, every change to whether some content is stored."""
    conn.execute(text("select pg_advisory_xact_lock(hashtextextended(:c, 0))"), {"c": checksum})


def content_in_use(conn: Connection, *, checksum: str) -> bool:
    """True while any document or staged file still refers to the content."""
    return bool(
        conn.execute(
            text(
                "select exists (select 1 from documents.document_registry where checksum = :c)"
                " or exists (select 1 from staging.documents_ingest where checksum = :c)"
            ),
            {"c": checksum},
        ).scalar_one()
    )


def purge(conn: Connection, *, ingest_id: int) -> tuple[StagedFile, bool]:
    """Delete a rejected staging row; True when its content is now unused (the caller removes the object).

    The audit log keeps the deleted row. The content row goes with it when nothing else uses it.
    """
    staged = _lock(conn, ingest_id, "rejected")
    lock_content(conn, checksum=staged.checksum)
    conn.execute(text("delete from staging.documents_ingest where id = :id"), {"id": ingest_id})
    if content_in_use(conn, checksum=staged.checksum):
        return staged, False
    conn.execute(text("delete from documents.contents where checksum = :c"), {"c": staged.checksum})
    return staged, True
