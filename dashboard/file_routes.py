"""GET /files/{document_id}: a document's bytes, streamed, for a signed-in user who may see it."""

from __future__ import annotations

from urllib.parse import quote

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, PlainTextResponse, Response
from starlette.routing import Route

from dashboard.auth_routes import SESSION_COOKIE
from db import documents, sessions
from db.engine import read_only, transaction
from db.errors import AuthenticationFailed, NotFound
from db.storage import get_storage


def _locate(token: str, document_id: int):
    with transaction(actor_id=None) as conn:
        session = sessions.resolve_session(conn, token=token)
    with read_only(actor_id=session.user_id) as conn:
        return documents.get_document(conn, document_id=document_id)


async def download(request: Request) -> Response:
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return PlainTextResponse("Sign in first.", status_code=401)
    try:
        document_id = int(request.path_params["document_id"])
        document = await run_in_threadpool(_locate, token, document_id)
    except AuthenticationFailed as error:
        return PlainTextResponse(str(error), status_code=401)
    except (NotFound, ValueError):
        return PlainTextResponse("There is no such document, or you do not have access to it.", 404)
    path = get_storage().path(document.object_key)
    if not path.is_file():
        return PlainTextResponse("The file is missing from storage; run `prosync reconcile`.", 410)
    disposition = "inline" if request.query_params.get("inline") == "1" else "attachment"
    return FileResponse(  # streamed in chunks, never read whole into memory
        path,
        media_type=document.mime_type,
        headers={
            "Content-Disposition": f"{disposition}; filename*=UTF-8''{quote(document.name)}",
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "private, no-store",
            "Content-Security-Policy": "default-src 'none'; sandbox",
        },
    )


ROUTES = [Route("/files/{document_id}", download, methods=["GET"])]
