"""File routes for a signed-in user who may see the file.

GET /files/{document_id}           a document's bytes (add ?inline=1 to view instead of save)
GET /files/{document_id}/preview   its preview image, when one was made at approval
GET /staged/{ingest_id}            a staged file's bytes, for the review queue

A local folder's bytes are streamed in chunks; for S3 the browser is redirected to a presigned URL
that lives for PROSYNC_PRESIGNED_URL_SECONDS (five minutes by default), so the bytes never pass
through ProSync.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

from dashboard.auth_routes import SESSION_COOKIE, client_address
from db.core.engine import read_only, transaction
from db.core.errors import AuthenticationFailed, NotFound, PermissionDenied, ProSyncError
from db.core.types import TokenGrant
from db.domain import audit, documents, sessions, staging
from db.files import storage

# A served file runs nothing and is framed only by the dashboard itself.
FILE_POLICY = "default-src 'none'; img-src 'self'; sandbox; frame-ancestors 'self'"


@dataclass(frozen=True)
class Located:
    store: storage.ObjectStore
    key: str
    name: str
    mime_type: str


def _locate(token: str, kind: str, item_id: int, client: dict) -> Located:
    """The file, if the session's user may have it (see `locate`)."""
    with transaction(actor_id=None) as conn:
        session = sessions.resolve_session(conn, token=token)
    return locate(session.user_id, kind, item_id, client)


def locate(
    user_id: int, kind: str, item_id: int, client: dict, *, grant: TokenGrant | None = None
) -> Located:
    """The file, if the user (through the API token `grant`, if any) may have it; the download is
    recorded first (its project's audit trail: who, which file, from where, through which token),
    so that no file leaves without a record."""
    found = _find(user_id, kind, item_id, grant)
    with transaction(actor_id=user_id, token=grant) as conn:
        audit.record_download(conn, kind=kind, item_id=item_id, **client)
    return found


def _find(user_id: int, kind: str, item_id: int, grant: TokenGrant | None) -> Located:
    with read_only(actor_id=user_id, token=grant) as conn:
        if kind == "staged":
            staged = staging.get_staged_file_for_download(conn, ingest_id=item_id)
            store = storage.store_for(conn, staged.storage_code)
            return Located(store, staged.object_key, staged.original_name, staged.detected_mime)
        document = documents.get_document(conn, document_id=item_id)
        store = storage.store_for(conn, document.storage_code)
        if kind == "preview":
            if not document.preview_key:
                raise NotFound("This document has no preview.")
            return Located(store, document.preview_key, f"{document.name}.png", "image/png")
        return Located(store, document.object_key, document.name, document.mime_type)


async def send_file(found: Located, *, inline: bool) -> Response:
    """The file's bytes, streamed in chunks from a local folder, or a redirect to a presigned URL
    for S3; 410 when the object is missing, 503 when the store does not answer."""
    headers = {"Cache-Control": "private, no-store", "X-Content-Type-Options": "nosniff"}
    try:
        url = await run_in_threadpool(
            found.store.download_url,
            found.key,
            filename=found.name,
            content_type=found.mime_type,
            inline=inline,
        )
    except ProSyncError as error:
        return PlainTextResponse(str(error), status_code=503)
    if url is not None:
        return RedirectResponse(url, status_code=303, headers=headers)
    path = found.store.path(found.key)
    if not path.is_file():
        return PlainTextResponse("The file is missing from storage; run `prosync reconcile`.", 410)
    disposition = "inline" if inline else "attachment"
    return FileResponse(  # streamed in chunks, never read whole into memory
        path,
        media_type=found.mime_type,
        headers={
            **headers,
            "Content-Disposition": f"{disposition}; filename*=UTF-8''{quote(found.name)}",
            "Content-Security-Policy": FILE_POLICY,
        },
    )


def _serve(kind: str, id_param: str):
    async def endpoint(request: Request) -> Response:
        token = request.cookies.get(SESSION_COOKIE)
        if not token:
            return PlainTextResponse("Sign in first.", status_code=401)
        try:
            item_id = int(request.path_params[id_param])
            client = {"user_agent": request.headers.get("user-agent"), "ip_address": client_address(request)}
            found = await run_in_threadpool(_locate, token, kind, item_id, client)
        except AuthenticationFailed as error:
            return PlainTextResponse(str(error), status_code=401)
        except (NotFound, PermissionDenied, ValueError):
            return PlainTextResponse("There is no such file, or you do not have access to it.", 404)
        except ProSyncError as error:
            return PlainTextResponse(str(error), status_code=503)
        inline = kind == "preview" or request.query_params.get("inline") == "1"
        return await send_file(found, inline=inline)

    return endpoint


ROUTES = [
    Route("/files/{document_id}", _serve("document", "document_id"), methods=["GET"]),
    Route("/files/{document_id}/preview", _serve("preview", "document_id"), methods=["GET"]),
    Route("/staged/{ingest_id}", _serve("staged", "ingest_id"), methods=["GET"]),
]
