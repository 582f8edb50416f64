"""Staging: enqueue a stored file for review, list pending and rejected, approve, reject; who may
download a file that is not yet a document."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence

from sqlalchemy import Connection, text

from db.core.engine import current_actor
from db.core.errors import (
    Conflict,
    DatabaseUnavailable,
    DuplicateContent,
    InvalidInput,
    NotFound,
    ProSyncError,
)
from db.core.sql import domain_errors, id_list
from db.core.types import Cursor, Document, NewStagedFile, Page, StagedFile
from db.domain import access, contents
from db.domain.documents import get_documents

_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_STAGED_COLUMNS = """
    i.id, i.project_id, p.name as project_name, i.original_name, i.declared_mime, i.detected_mime,
    c.size_bytes, i.checksum, c.storage_code, c.object_key, i.status, i.notes, i.metadata,
    i.uploaded_by, u.login as uploaded_by_login, i.uploaded_at, i.rejection_reason, i.reviewer_notes,
    i.reviewed_by, i.reviewed_at, i.document_id, r.login as reviewed_by_login
"""
_STAGED_FROM = """
    from staging.documents_ingest i
    join projects.projects p on p.id = i.project_id
    join documents.contents c on c.checksum = i.checksum
    left join users.users u on u.id = i.uploaded_by
    left join users.users r on r.id = i.reviewed_by
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
    staged = get_staged_files(conn, ingest_ids=[ingest_id]).get(ingest_id)
    if staged is None:
        raise NotFound("There is no such staged file, or you do not have access to it.")
    return staged


def get_staged_file_for_download(conn: Connection, *, ingest_id: int) -> StagedFile:
    """A staged file the acting user may download: not yet a document, so only its uploader and those
    who may review its project. NotFound otherwise, as for a file that does not exist, so that a
    refusal does not tell whether there is one."""
    staged = get_staged_file(conn, ingest_id=ingest_id)
    if staged.uploaded_by != current_actor(conn) and not access.has_permission(
        conn, project_id=staged.project_id, permission="can_review"
    ):
        raise NotFound("There is no such staged file, or you do not have access to it.")
    return staged


def get_staged_files(conn: Connection, *, ingest_ids: Sequence[int]) -> dict[int, StagedFile]:
    """The staged files among these ids that the acting user may see, by id: those of projects where
    their role lets them view or review, and their own uploads where it lets them upload (an API
    token with the upload scope alone reads back only its user's own files)."""
    rows = conn.execute(
        text(f"select {_STAGED_COLUMNS} {_STAGED_FROM} where i.id = any(:ids)"),
        {"ids": id_list(ingest_ids, "A staged file id")},
    ).all()
    actor = current_actor(conn)

    def visible(row) -> bool:
        role = access.project_role(conn, project_id=row.project_id)
        if role is None:
            return False
        return role.can_view or role.can_review or (role.can_upload and row.uploaded_by == actor)

    return {r.id: StagedFile(**r._mapping) for r in rows if visible(r)}


def duplicate_reasons(conn: Connection, *, project_id: int, checksums: Sequence[str]) -> dict[str, str]:
    """Why content cannot be staged in this project again, for each of these checksums that cannot."""
    rows = conn.execute(
        text(
            "select r.checksum, d.name, d.deleted_at is not null as trashed, null as login"
            " from documents.document_registry r join documents.documents d on d.id = r.id"
            " where r.project_id = :p and r.checksum = any(:cs)"
            " union all"
            " select i.checksum, i.original_name, null, coalesce(u.login, 'a removed user')"
            " from staging.documents_ingest i left join users.users u on u.id = i.uploaded_by"
            " where i.project_id = :p and i.checksum = any(:cs) and i.status = 'pending'"
        ),
        {"p": project_id, "cs": list(checksums)},
    ).all()
    why = {}
    for r in rows:
        if r.login is not None:
            why.setdefault(
                r.checksum, f"the same content is already waiting for review (as {r.name}, from {r.login})."
            )
        else:
            where = "in the project's trash: restore it" if r.trashed else "a document of this project"
            why[r.checksum] = f"the same content is already {where} (as {r.name})."
    return why


def _all_or_each(conn: Connection, keys: list, write: Callable[[list], dict]) -> tuple[dict, dict]:
    """`write(keys)` as one set of statements under a savepoint; if the database refuses it, `write`
    each key alone under its own savepoint, so a refusal stops only its own key. (written, errors)."""
    if not keys:
        return {}, {}
    try:
        with conn.begin_nested():
            return write(keys), {}
    except DatabaseUnavailable:  # the whole unit of work is lost, not one file
        raise
    except ProSyncError as error:
        if len(keys) == 1:
            return {}, {keys[0]: error}
    written, errors = {}, {}
    for key in keys:
        try:
            with conn.begin_nested():
                written.update(write([key]))
        except DatabaseUnavailable:  # the whole unit of work is lost, not one file
            raise
        except ProSyncError as error:
            errors[key] = error
    return written, errors


def enqueue_many(
    conn: Connection, *, project_id: int, files: Sequence[NewStagedFile], notes: str = ""
) -> list[StagedFile | ProSyncError]:
    """Record stored files as pending review in a project with a few statements for the lot; each file
    gets its StagedFile or the domain error that refused it (and stopped only it), in order."""
    access.require_permission(conn, project_id=project_id, permission="can_upload")
    results: list[StagedFile | ProSyncError | None] = [None] * len(files)
    try:
        notes = _text(notes, "notes")
    except ProSyncError as error:
        return [error] * len(files)
    rows: dict[str, dict] = {}  # checksum -> the row to insert, one per content
    first: dict[str, int] = {}  # checksum -> the file that carries it
    for i, file in enumerate(files):
        try:
            row = _new_row(file)
        except ProSyncError as error:
            results[i] = error
            continue
        if row["checksum"] in first:
            earlier = rows[row["checksum"]]["name"]
            results[i] = DuplicateContent(
                f"{row['name']}: the same content is already waiting for review"
                f" (as {earlier}, in this same upload)."
            )
            continue
        rows[row["checksum"]] = row
        first[row["checksum"]] = i
    # Under the content locks, so an upload of the same bytes elsewhere takes its turn and then sees ours.
    contents.lock_contents(conn, checksums=list(rows))
    for checksum, why in duplicate_reasons(conn, project_id=project_id, checksums=list(rows)).items():
        results[first[checksum]] = DuplicateContent(f"{rows.pop(checksum)['name']}: {why}")
    ids, errors = _all_or_each(
        conn, list(rows), lambda keys: _insert_staged(conn, project_id, notes, rows, keys)
    )
    for checksum, error in errors.items():
        results[first[checksum]] = error
    staged = get_staged_files(conn, ingest_ids=list(ids.values()))
    for checksum, ingest_id in ids.items():
        results[first[checksum]] = staged[ingest_id]
    return results


def _new_row(file: NewStagedFile) -> dict:
    if not isinstance(file.checksum, str) or not _SHA256.match(file.checksum):
        raise InvalidInput("The checksum must be a SHA-256 in lowercase hex.")
    if not isinstance(file.size_bytes, int) or isinstance(file.size_bytes, bool) or file.size_bytes <= 0:
        raise InvalidInput("The file is empty.")
    if file.metadata is not None and not isinstance(file.metadata, dict):
        raise InvalidInput("Metadata must be a JSON object.")
    name = _text(file.original_name, "file name", limit=255)
    if not name:
        raise InvalidInput("A file name is required.")
    return {
        "name": name,
        "checksum": file.checksum,
        "size": file.size_bytes,
        "detected": file.detected_mime,
        "declared": _text(file.declared_mime, "declared type", limit=255) or None,
        "storage": file.storage_code,
        "key": file.object_key,
        "metadata": json.dumps(file.metadata or {}),
    }


def _insert_staged(conn: Connection, project_id: int, notes: str, rows: dict, keys: list[str]) -> dict:
    batch = [rows[k] for k in keys]

    def column(name: str) -> list:
        return [r[name] for r in batch]

    with domain_errors():
        stored = contents.store_contents(
            conn,
            checksums=keys,
            sizes=column("size"),
            storage_codes=column("storage"),
            object_keys=column("key"),
        )
        if any(s.size_bytes != rows[s.checksum]["size"] for s in stored.values()):
            raise InvalidInput("This checksum is already stored with another size: the upload is corrupt.")
        inserted = conn.execute(
            text(
                "insert into staging.documents_ingest (project_id, original_name, declared_mime,"
                " detected_mime, checksum, notes, metadata)"
                " select :p, f.name, f.declared, f.detected, f.checksum, :notes, cast(f.metadata as jsonb)"
                " from unnest(cast(:name as text[]), cast(:declared as text[]), cast(:detected as text[]),"
                " cast(:c as text[]), cast(:metadata as text[]))"
                " as f(name, declared, detected, checksum, metadata)"
                " returning checksum, id"
            ),
            {
                "p": project_id,
                "notes": notes,
                "name": column("name"),
                "declared": column("declared"),
                "detected": column("detected"),
                "c": keys,
                "metadata": column("metadata"),
            },
        ).all()
    return dict(inserted)


def _list(
    conn, view, order, after: Cursor | None, limit: int, at: str, project_id: int | None
) -> Page[StagedFile]:
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
    return Page(rows=[_from_view(r, view.removesuffix("_documents")) for r in rows], next=cursor)


def _from_view(row, status: str) -> StagedFile:
    """A row of staging.pending_documents or rejected_documents (which call the object key s3_key)."""
    values = dict(row._mapping)
    values["object_key"] = values.pop("s3_key")
    return StagedFile(status=status, **values)


def list_pending(
    conn: Connection, *, project_id: int | None = None, after: Cursor | None = None, limit: int = 50
) -> Page[StagedFile]:
    """The review queue (staging.pending_documents) of projects the user may review, oldest first."""
    return _list(conn, "pending_documents", "asc", after, limit, "uploaded_at", project_id)


def list_rejected(
    conn: Connection, *, project_id: int | None = None, after: Cursor | None = None, limit: int = 50
) -> Page[StagedFile]:
    """Rejected files (staging.rejected_documents) of projects the user may review, newest first."""
    return _list(conn, "rejected_documents", "desc", after, limit, "reviewed_at", project_id)


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


def approve_many(
    conn: Connection,
    *,
    ingest_ids: Sequence[int],
    reviewer_notes: str = "",
    images: Mapping[int, str | None] | None = None,
) -> list[Document | ProSyncError]:
    """Promote pending files into documents with a few statements for the lot (`images`: a preview
    key per file that has one); each gets its Document or the error that refused it, in order."""
    images = images or {}
    try:
        notes = _text(reviewer_notes, "reviewer notes")
        staged = get_staged_files(conn, ingest_ids=ingest_ids)
    except DatabaseUnavailable:  # the whole unit of work is lost, not one file
        raise
    except ProSyncError as error:
        return [error] * len(ingest_ids)
    errors: dict[int, ProSyncError] = {}
    for ingest_id in dict.fromkeys(ingest_ids):
        try:
            if ingest_id not in staged:
                raise NotFound("There is no such staged file, or you do not have access to it.")
            access.require_permission(conn, project_id=staged[ingest_id].project_id, permission="can_review")
        except DatabaseUnavailable:  # the whole unit of work is lost, not one file
            raise
        except ProSyncError as error:
            errors[ingest_id] = error
    wanted = [i for i in staged if i not in errors]
    # The row locks make two reviewers deciding at once take turns; the second sees the outcome.
    status = dict(
        conn.execute(
            text(
                "select id, status from staging.documents_ingest where id = any(:ids) order by id for update"
            ),
            {"ids": wanted},
        ).all()
    )
    for ingest_id in wanted:
        if ingest_id not in status:
            errors[ingest_id] = Conflict("This file was already purged by someone else.")
        elif status[ingest_id] != "pending":
            errors[ingest_id] = Conflict(
                f"This file was already handled by someone else ({status[ingest_id]})."
            )
    wanted = [i for i in wanted if i not in errors]
    promoted, refused = _all_or_each(conn, wanted, lambda ids: _promote(conn, ids, notes, images))
    errors.update(refused)
    documents = get_documents(conn, document_ids=list(promoted.values()))
    return [errors[i] if i in errors else documents[promoted[i]] for i in ingest_ids]


def _promote(conn: Connection, ids: list[int], notes: str, images: Mapping[int, str | None]) -> dict:
    with domain_errors():
        made = dict(
            conn.execute(
                text(
                    "insert into documents.documents (project_id, name, mime_type, checksum, metadata,"
                    " uploaded_by, ingest_id, image_url)"
                    " select i.project_id, i.original_name, i.detected_mime, i.checksum, i.metadata,"
                    " i.uploaded_by, i.id, f.preview_key"
                    " from unnest(cast(:ids as bigint[]), cast(:images as text[])) as f(id, preview_key)"
                    " join staging.documents_ingest i on i.id = f.id"
                    " returning ingest_id, id"
                ),
                {"ids": ids, "images": [images.get(i) for i in ids]},
            ).all()
        )
        conn.execute(
            text(
                "update staging.documents_ingest i set status = 'approved', reviewed_by = :actor,"
                " reviewed_at = now(), reviewer_notes = :notes, document_id = f.document_id"
                " from unnest(cast(:ids as bigint[]), cast(:docs as bigint[])) as f(id, document_id)"
                " where i.id = f.id"
            ),
            {"ids": list(made), "docs": list(made.values()), "actor": current_actor(conn), "notes": notes},
        )
    return made


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


def purge(conn: Connection, *, ingest_id: int) -> tuple[StagedFile, bool]:
    """Delete a rejected staging row; True when its content is now unused and no upload in flight
    claims it (the caller then removes the object).

    The audit log keeps the deleted row. The content row goes with it when nothing else uses it.
    """
    staged = _lock(conn, ingest_id, "rejected")
    contents.lock_content(conn, checksum=staged.checksum)
    conn.execute(text("delete from staging.documents_ingest where id = :id"), {"id": ingest_id})
    # A backup copying objects (db/tools/backup.py) finishes first: it may be about to copy this one.
    conn.execute(text(f"select pg_advisory_xact_lock_shared({contents.BACKUP_LOCK_KEY})"))
    # documents.release_content (revision 0016) forgets the content when nothing, in any project,
    # refers to it, and says whether its object may go: not while another document or staged file
    # uses it, nor while an upload of the same bytes in flight claims it. The caller says the same
    # thing in every case, so the answer tells nobody whether the bytes exist elsewhere.
    released = conn.execute(text("select documents.release_content(:c)"), {"c": staged.checksum}).scalar_one()
    return staged, bool(released)
