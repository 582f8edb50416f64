"""Uploads and review: files staged from a pipeline, what became of them, approve and reject."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import re
import threading
import time
from contextlib import contextmanager
from typing import Annotated

from fastapi import APIRouter, Body, Depends, Header, Query, Request
from fastapi.concurrency import run_in_threadpool

from db.core.errors import ProSyncError
from db.core.settings import get_settings
from db.domain import access, idempotency, staging
from db.files import ingest
from db.files.filetypes import upload_limits

from . import cursors
from .multipart import UploadForm, read_upload
from .problems import Problem
from .reads import CursorParam, Id, Limit, require_visible
from .schemas import (
    ApproveIn,
    ApproveManyIn,
    DecisionOut,
    DecisionsOut,
    DocumentOut,
    RejectIn,
    StagedOut,
    StagedPage,
    UploadOut,
    UploadResult,
    errors,
    json_response,
)  # fmt: skip
from .security import Caller, caller, scoped

log = logging.getLogger(__name__)
router = APIRouter()
uploader = scoped("upload")
reviewer = scoped("review")
FORM_OVERHEAD = 1024 * 1024  # room for the form's own bytes around the largest file
WAIT_FOR_FIRST = 60.0  # how long a retry waits for the first request with its key to finish
MAX_UPLOADS_AT_ONCE = 16  # per token, per process
SHA256 = re.compile(r"[0-9a-f]{64}")

UPLOAD_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["files"],
                    "properties": {
                        "files": {
                            "type": "array",
                            "items": {"type": "string", "format": "binary"},
                            "description": "one or more files (repeat the part)",
                        },
                        "notes": {"type": "string", "description": "for the reviewer"},
                        "metadata": {
                            "type": "string",
                            "description": "`key: value` lines, as on the Upload screen",
                        },
                    },
                }
            }
        },
    }
}


def _limits(who: Caller, project_id: int) -> tuple[dict[str, int], int]:
    """Refused before a byte of the body is read: a project the caller cannot see (404) or upload
    to (403). Then what the body is held to as it streams in."""
    with who.reading() as conn:
        require_visible(conn, project_id)
        access.require_permission(conn, project_id=project_id, permission="can_upload")
        return upload_limits(conn)


def _stage(who: Caller, project_id: int, form: UploadForm, workers: int) -> UploadOut:
    metadata = ingest.parse_metadata(form.fields.get("metadata", "")) or None
    files = [
        ingest.FileToStage(part.filename, part.file, part.content_type, metadata, checksum=part.sha256)
        for part in form.files
    ]
    outcomes = ingest.stage_files(
        who.writing, project_id=project_id, files=files, notes=form.fields.get("notes", ""), workers=workers
    )
    return UploadOut(
        files=[
            UploadResult(
                name=o.name,
                status=o.status,
                message=o.message,
                staged=StagedOut.of(o.staged) if o.staged else None,
            )  # fmt: skip
            for o in outcomes
        ]
    )


def _claim(who: Caller, key: str, fingerprint: str) -> idempotency.KeyState:
    with who.writing() as conn:
        return idempotency.claim_key(conn, key=key, fingerprint=fingerprint)


def _stage_once(who: Caller, project_id: int, form: UploadForm, workers: int, key: str | None) -> UploadOut:
    """`_stage`, then the form's files closed and, with an idempotency key, its answer recorded (or
    the key freed if it failed)."""
    answer = None
    try:
        answer = _stage(who, project_id, form, workers)
    finally:
        form.close()
        if key is not None:
            try:
                with who.writing() as conn:
                    if answer is None:
                        idempotency.release_key(conn, key=key)
                    else:
                        response = answer.model_dump(mode="json")
                        idempotency.finish_key(conn, key=key, status_code=200, response=response)
            except ProSyncError:
                # The files are staged: say so. A retry with the key waits, then (after
                # idempotency.ABANDONED_AFTER) stages again and is told they are duplicates.
                log.warning("could not record the answer of an idempotent upload", exc_info=True)
    return answer


async def _replay(who: Caller, key: str, fingerprint: str) -> UploadOut | None:
    """None when this request claimed the key (it does the work); else the first request's answer,
    waiting for it while it runs."""
    deadline = time.monotonic() + WAIT_FOR_FIRST
    while True:
        state = await run_in_threadpool(_claim, who, key, fingerprint)
        if state.state == "new":
            return None
        if state.state == "done":
            return UploadOut.model_validate(state.response)
        if time.monotonic() > deadline:
            raise Problem(
                409, "A request with this Idempotency-Key is still running; retry it later.",
                headers={"Retry-After": "5"},
            )  # fmt: skip
        await asyncio.sleep(0.2)


@router.post(
    "/projects/{project_id}/uploads", response_model=UploadOut, tags=["review"],
    openapi_extra=UPLOAD_BODY, responses=errors(400, 401, 403, 404, 409, 413, 415, 429, 503),
    summary="Stage files for review (multipart); per file: staged, duplicate or refused, and why",
)  # fmt: skip
async def upload(
    project_id: Id,
    request: Request,
    who: Annotated[Caller, Depends(uploader)],
    idempotency_key: Annotated[
        str | None, Header(max_length=200, description="a retry with the same key gets the first answer")
    ] = None,
    x_content_sha256: Annotated[
        str | None, Header(max_length=64, description="SHA-256 (hex) of the one file sent; verified")
    ] = None,
):
    by_extension, largest = await run_in_threadpool(_limits, who, project_id)
    length = request.headers.get("content-length")
    if length is not None and (not length.isdigit() or int(length) > largest + FORM_OVERHEAD):
        raise Problem(413, f"The body is larger than the largest file ProSync accepts ({largest:,} bytes).")
    expected = x_content_sha256.lower() if x_content_sha256 else None
    if expected is not None and not SHA256.fullmatch(expected):
        raise Problem(400, "X-Content-SHA256 is the file's SHA-256 as 64 hexadecimal characters.")
    if idempotency_key is not None:
        idempotency.clean_key(idempotency_key)
    with uploads_at_once.turn(who.grant.id):
        form = await read_upload(
            request, limit_for=lambda name: _limit_for(name, by_extension, largest),
            total_limit=largest + FORM_OVERHEAD,
        )  # fmt: skip
        try:
            _verify(form, expected)
            # The key is the token's own, and names this request's content: the same key with other
            # files is a different request (409), never an old answer for new bytes.
            key = None if idempotency_key is None else f"{who.grant.id}:{idempotency_key}"
            replayed = None if key is None else await _replay(who, key, _fingerprint(request, form))
        except BaseException:
            form.close()
            raise
        if replayed is not None:
            form.close()
            return replayed
        workers = max(1, min(len(form.files), get_settings().api_upload_workers))
        # One thread stages, records the answer and closes the files: if this request is cancelled
        # meanwhile (the client went away, the server is stopping), the thread still ends its work.
        return await run_in_threadpool(_stage_once, who, project_id, form, workers, key)


def _limit_for(name: str, by_extension: dict[str, int], largest: int) -> int:
    extension = name.rpartition(".")[2].lower() if "." in name else ""
    return by_extension.get(extension, largest)


def _verify(form: UploadForm, expected: str | None) -> None:
    if expected is None:
        return
    if len(form.files) != 1:
        raise Problem(400, "X-Content-SHA256 is for a request with one file; send files one by one.")
    if not hmac.compare_digest(form.files[0].sha256, expected):
        raise Problem(
            400, f"{form.files[0].filename[:200]}: its SHA-256 is not the X-Content-SHA256 sent; "
            "the file changed on its way. Nothing was staged.",
        )  # fmt: skip


def _fingerprint(request: Request, form: UploadForm) -> str:
    """What makes two uploads the same request: the path, each file's name and SHA-256, the fields."""
    digest = hashlib.sha256()
    for part in form.files:
        digest.update(f"{part.filename}\0{part.sha256}\0".encode(errors="replace"))
    for name, value in sorted(form.fields.items()):
        digest.update(f"{name}\0{value}\0".encode(errors="replace"))
    return f"POST {request.url.path} {digest.hexdigest()}"


class _Turns:
    """At most MAX_UPLOADS_AT_ONCE uploads of one token in this process at a time (429 beyond):
    one token cannot fill the server's disk with temporary files or take every worker."""

    def __init__(self):
        self._lock = threading.Lock()
        self._running: dict[int, int] = {}

    @contextmanager
    def turn(self, token_id: int):
        with self._lock:
            if self._running.get(token_id, 0) >= MAX_UPLOADS_AT_ONCE:
                raise Problem(
                    429, f"This token has {MAX_UPLOADS_AT_ONCE} uploads running; wait for one to end.",
                    headers={"Retry-After": "5"},
                )  # fmt: skip
            self._running[token_id] = self._running.get(token_id, 0) + 1
        try:
            yield
        finally:
            with self._lock:
                self._running[token_id] -= 1
                if not self._running[token_id]:
                    del self._running[token_id]


uploads_at_once = _Turns()


@router.get(
    "/staged/{ingest_id}", response_model=StagedOut, tags=["review"], responses=errors(401, 403, 404, 429),
    summary="One staged file: pending, approved (and the document it became) or rejected (and why)",
)  # fmt: skip
def get_staged(ingest_id: Id, who: Annotated[Caller, Depends(caller)]):
    with who.reading() as conn:
        return json_response(StagedOut.of(staging.get_staged_file(conn, ingest_id=ingest_id)))


@router.get(
    "/projects/{project_id}/staged", response_model=StagedPage, tags=["review"],
    responses=errors(400, 401, 403, 404, 429),
    summary="A project's review queue (pending, oldest first) or its rejected files (newest first)",
)  # fmt: skip
def list_staged(
    project_id: Id,
    who: Annotated[Caller, Depends(reviewer)],
    status: Annotated[
        str, Query(pattern="^(pending|rejected)$", description="pending or rejected")
    ] = "pending",  # noqa: E501
    cursor: CursorParam = None,
    limit: Limit = 50,
):
    after = cursors.decode_page_cursor(cursor)
    with who.reading() as conn:
        require_visible(conn, project_id)
        access.require_permission(conn, project_id=project_id, permission="can_review")
        listing = staging.list_pending if status == "pending" else staging.list_rejected
        page = listing(conn, project_id=project_id, after=after, limit=limit)
    items = [StagedOut.of(s) for s in page.rows]
    return json_response(StagedPage(items=items, next_cursor=cursors.encode_page_cursor(page.next)))


def _decided(outcome: ingest.Outcome) -> DecisionOut:
    return DecisionOut(
        name=outcome.name, status=outcome.status, message=outcome.message,
        staged=StagedOut.of(outcome.staged) if outcome.staged else None,
        document=DocumentOut.of(outcome.document) if outcome.document else None,
    )  # fmt: skip


@router.post(
    "/staged/{ingest_id}/approve", response_model=DecisionOut, tags=["review"],
    responses=errors(400, 401, 403, 404, 409, 429, 503),
    summary="Approve a pending file: it becomes a document (a preview is made where its type has one)",
)  # fmt: skip
def approve(
    ingest_id: Id, who: Annotated[Caller, Depends(reviewer)], body: Annotated[ApproveIn | None, Body()] = None
):
    notes = body.reviewer_notes if body else ""
    return _decided(ingest.approve_file(who.writing, ingest_id=ingest_id, reviewer_notes=notes))


@router.post(
    "/projects/{project_id}/staged/approve", response_model=DecisionsOut, tags=["review"],
    responses=errors(400, 401, 403, 404, 429, 503),
    summary="Approve a selection of a project's pending files at once, as the Review screen does",
)  # fmt: skip
def approve_many(project_id: Id, body: ApproveManyIn, who: Annotated[Caller, Depends(reviewer)]):
    with who.reading() as conn:
        require_visible(conn, project_id)
        access.require_permission(conn, project_id=project_id, permission="can_review")
    outcomes = ingest.approve_files(
        who.writing, ingest_ids=body.ids, reviewer_notes=body.reviewer_notes, project_id=project_id
    )
    return DecisionsOut(results=[_decided(o) for o in outcomes])


@router.post(
    "/staged/{ingest_id}/reject", response_model=DecisionOut, tags=["review"],
    responses=errors(400, 401, 403, 404, 409, 429),
    summary="Reject a pending file; the reason is required and shown to the uploader",
)  # fmt: skip
def reject(ingest_id: Id, body: RejectIn, who: Annotated[Caller, Depends(reviewer)]):
    outcome = ingest.reject_file(
        who.writing, ingest_id=ingest_id, reason=body.reason, reviewer_notes=body.reviewer_notes
    )
    return _decided(outcome)
