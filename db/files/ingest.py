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

from db.core.errors import DuplicateContent, InvalidInput, NotFound, ProSyncError
from db.core.types import Document, NewStagedFile, StagedFile
from db.domain import access, contents, staging
from db.files import previews, storage
from db.files.filetypes import FileType, check_file, clean_file_name, load_filetypes

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


def _elsewhere(conn: Connection, *, project_id: int, checksums: list[str]) -> dict[str, list[str]]:
    """Other projects the uploader can see that already hold each content (never ones they cannot)."""
    visible = access.visible_project_ids(conn)
    # The batch's checksums first (50 probes of the checksum index), then the projects: with both
    # lists in one condition the planner probed the (project, checksum) index for every pair of
    # them (2,500 probes, 13 ms for 50 files at 1m).
    rows = conn.execute(
        text(
            "with found as materialized (select r.checksum, r.project_id from documents.document_registry r"
            " where r.checksum = any(:cs) and r.project_id <> :p)"
            " select f.checksum, array_agg(distinct p.name order by p.name) as names"
            " from found f join projects.projects p on p.id = f.project_id and p.deleted_at is null"
            " where cast(:everything as boolean) or f.project_id = any(:ids) group by 1"
        ),
        {"cs": checksums, "p": project_id, "everything": visible is None, "ids": visible or []},
    ).all()
    return dict(rows)


@dataclass(frozen=True)
class FileToStage:
    """One file for `stage_files`: its name, its bytes, the type the uploader says it is, metadata."""

    name: str
    stream: BinaryIO
    declared_mime: str | None = None
    metadata: dict | None = None
    # Its SHA-256 (hex), when the caller computed it from these very bytes as they arrived (the API):
    # not hashed again. The stores check it again as they write new content.
    checksum: str | None = None


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

    def new_staged_file(self) -> NewStagedFile:
        return NewStagedFile(
            original_name=self.name, checksum=self.checksum, size_bytes=self.size,
            detected_mime=self.kind.mime_type, storage_code=self.store.code, object_key=self.key,
            declared_mime=self.declared_mime, metadata=self.metadata,
        )  # fmt: skip

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
    [upload] = _stage(unit, project_id, [file], notes, workers=1)
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
    """Stage many files in three transactions for the lot instead of three each: checked together,
    their objects stored `workers` at a time, recorded together by set-based statements, where a
    refused file stops only itself. One Outcome per file, in order."""
    return [_outcome(u) for u in _stage(unit, project_id, files, notes, workers=workers)]


def _stage(
    unit: Unit, project_id: int, files: Sequence[FileToStage], notes: str, *, workers: int
) -> list[_Upload]:
    uploads = []
    for file in files:
        upload = _Upload(file.name, file.stream, file.declared_mime, file.metadata)
        upload.checksum = file.checksum or ""
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
            claims = _check(conn, project_id, [u for u in uploads if u.live])
        try:
            _each(workers, _store_object, [u for u in uploads if u.live])
            with unit() as conn:
                contents.release_claims(conn, claim_ids=claims)
                pending = [u for u in uploads if u.live]
                results = staging.enqueue_many(
                    conn, project_id=project_id, files=[u.new_staged_file() for u in pending], notes=notes
                )
                for upload, result in zip(pending, results, strict=True):
                    if isinstance(result, ProSyncError):
                        upload.error = result
                    else:
                        upload.staged = result
        except BaseException:
            _clean_up(unit, [u for u in uploads if u.created], claims)
            raise
        _clean_up(unit, [u for u in uploads if u.created and not u.live], [])  # stored, then refused
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
    if upload.checksum and not upload.spooled:  # hashed as it was received (the API): only its size
        upload.size = upload.stream.seek(0, io.SEEK_END) - upload.start
    else:
        upload.checksum, upload.size = storage.hash_stream(upload.stream)
    upload.stream.seek(upload.start)


def _check(conn: Connection, project_id: int, uploads: list[_Upload]) -> list[int]:
    """Type, duplicates, where else the content is, and which store holds or will hold it; then a
    claim on each content that passed, so that nothing removes its object before it is recorded."""
    contents.lock_contents(conn, checksums=[u.checksum for u in uploads])  # a purge takes turns with us
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
        except ProSyncError as error:
            upload.error = error
    checksums = sorted({u.checksum for u in uploads if u.live})
    duplicates = staging.duplicate_reasons(conn, project_id=project_id, checksums=checksums)
    elsewhere = _elsewhere(conn, project_id=project_id, checksums=checksums)
    known = contents.stored_contents(conn, checksums=checksums)
    for upload in (u for u in uploads if u.live):
        if upload.checksum in duplicates:
            upload.error = DuplicateContent(f"{upload.name}: {duplicates[upload.checksum]}")
            continue
        upload.elsewhere = elsewhere.get(upload.checksum, [])
        row = known.get(upload.checksum)
        upload.known = row is not None
        upload.store = store(row.storage_code if row else None)
        upload.key = row.object_key if row else storage.object_key(upload.checksum)
    return contents.claim_contents(conn, checksums=[u.checksum for u in uploads if u.live])


def _store_object(upload: _Upload) -> None:
    # New content goes straight up (a leftover object under its key holds the same bytes, so writing
    # over it is harmless); known content is only written if its object went missing. The claim
    # taken by _check keeps the object there until the upload is recorded.
    if not upload.known or not upload.store.exists(upload.key):
        upload.put()


def _outcome(upload: _Upload) -> Outcome:
    if isinstance(upload.error, DuplicateContent):
        return Outcome(name=upload.name, status="duplicate", message=str(upload.error))
    if upload.error is not None:
        return Outcome(name=upload.name, status="refused", message=str(upload.error))
    message = f"staged for review ({upload.kind.label}, {upload.size:,} bytes)"
    if upload.elsewhere:
        message += "; the same content is also in " + ", ".join(upload.elsewhere)
    return Outcome(name=upload.name, status="staged", message=message, staged=upload.staged)


def _clean_up(unit: Unit, stored: list[_Upload], claims: list[int]) -> None:
    """Release this call's claims and remove the objects it stored that no row refers to and no other
    upload in flight claims; `prosync reconcile` finds any this leaves (if the database is gone)."""
    if not stored and not claims:
        return
    checksums = [u.checksum for u in stored]
    try:
        with unit() as conn:
            contents.lock_contents(conn, checksums=checksums)
            contents.release_claims(conn, claim_ids=claims)
            keep = contents.claimed(conn, checksums=checksums) | set(
                contents.stored_contents(conn, checksums=checksums)
            )
            for upload in stored:
                if upload.checksum not in keep:
                    upload.store.delete(upload.key)
    except Exception:
        for upload in stored:
            log.warning(
                "left an unrecorded object %s in %s; `prosync reconcile --fix` removes it",
                upload.key,
                upload.store.code,
            )


def try_stage(unit: Unit, *, project_id: int, name: str, stream: BinaryIO, **details) -> Outcome:
    """`stage_file`, with a refusal turned into an Outcome (for screens and commands that list results)."""
    try:
        return stage_file(unit, project_id=project_id, name=name, stream=stream, **details)
    except DuplicateContent as error:
        return Outcome(name=str(name), status="duplicate", message=str(error))
    except ProSyncError as error:
        return Outcome(name=str(name), status="refused", message=str(error))


def _make_preview(store: storage.ObjectStore, staged: StagedFile) -> tuple[str | None, str | None]:
    """The preview key for a staged file's content, made (in a worker process) and stored if it is
    not there yet; or None and why there is none."""
    if staged.detected_mime not in previews.PREVIEW_TYPES:
        return None, None
    key = storage.preview_key(staged.checksum)
    try:
        if store.exists(key):
            return key, None
        with store.open(staged.object_key) as source:
            made = previews.render_preview(source, staged.detected_mime)
        if made.png is None:
            return None, made.reason
        store.put(
            io.BytesIO(made.png),
            key=key,
            checksum=hashlib.sha256(made.png).hexdigest(),
            size_bytes=len(made.png),
            content_type="image/png",
        )
        return key, None
    except ProSyncError as error:  # the document is approved without a preview rather than not at all
        log.warning("no preview for staged file %s: %s", staged.id, error)
        return None, f"the file store did not answer ({error})"


def approve_file(unit: Unit, *, ingest_id: int, reviewer_notes: str = "") -> Outcome:
    """Promote a pending file to a document (one transaction), with a preview made first when possible."""
    [(outcome, error)] = _approve(unit, [ingest_id], reviewer_notes)
    if error is not None:
        raise error
    return outcome


def approve_files(
    unit: Unit, *, ingest_ids: Sequence[int], reviewer_notes: str = "", project_id: int | None = None
) -> list[Outcome]:
    """Approve many pending files: previews made first where their type has one, then the approvals
    in one transaction by set-based statements, where a refused file stops only itself. In order.
    With `project_id`, a file of another project is refused (a selection from one project's queue)."""
    return [outcome for outcome, _ in _approve(unit, list(ingest_ids), reviewer_notes, project_id)]


def _approve(
    unit: Unit, ids: list[int], notes: str, project_id: int | None = None
) -> list[tuple[Outcome, ProSyncError | None]]:
    with unit() as conn:
        found = staging.get_staged_files(conn, ingest_ids=ids)
        # A selection from one project's queue: a file of another is refused as one that does not exist.
        elsewhere = set()
        if project_id is not None:
            elsewhere = {i for i in ids if i not in found or found[i].project_id != project_id}
        ours = [i for i in ids if i not in elsewhere]
        wanted = [
            s
            for s in found.values()
            if s.id not in elsewhere
            and s.status == "pending"
            and s.detected_mime in previews.PREVIEW_TYPES
            and access.has_permission(conn, project_id=s.project_id, permission="can_review")
        ]
        stores = {s.id: storage.store_for(conn, s.storage_code) for s in wanted}
        results = []
        if ours and not wanted:  # nothing to render: the approvals go in this same transaction
            results = staging.approve_many(conn, ingest_ids=ours, reviewer_notes=notes)
    why_not: dict[int, str] = {}
    if wanted:
        made = {s.id: _make_preview(stores[s.id], s) for s in wanted}  # outside any transaction
        images = {i: key for i, (key, _) in made.items()}
        why_not = {i: reason for i, (_, reason) in made.items() if reason}
        with unit() as conn:
            results = staging.approve_many(conn, ingest_ids=ours, reviewer_notes=notes, images=images)
    decided = iter(results)
    not_here = NotFound("There is no such staged file in this project, or you do not have access to it.")
    outcomes = []
    for ingest_id in ids:
        result = not_here if ingest_id in elsewhere else next(decided)
        if isinstance(result, ProSyncError):
            name = found[ingest_id].original_name if ingest_id in found else f"#{ingest_id}"
            name = f"#{ingest_id}" if ingest_id in elsewhere else name
            outcomes.append((Outcome(name=name, status="refused", message=str(result)), result))
        else:
            message = f"approved; no preview: {why_not[ingest_id]}" if ingest_id in why_not else "approved"
            outcomes.append((Outcome(result.name, "approved", message, document=result), None))
    return outcomes


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
            store.delete(staged.object_key)
            store.delete(storage.preview_key(staged.checksum))
    # One message whether or not the bytes were kept: whether the same content is used elsewhere,
    # perhaps in a project this person may not see, is not theirs to learn (docs/security.md).
    return Outcome(name=staged.original_name, status="purged", message="purged", staged=staged)


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
