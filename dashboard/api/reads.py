"""Reading routes: projects (their onboarding summary), documents and their content, the audit trail."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from sqlalchemy import Connection

from dashboard import file_routes
from db.core.errors import NotFound, PermissionDenied
from db.domain import access, audit, documents, projects, search

from . import cursors
from .problems import HIDDEN, Problem
from .schemas import (
    AuditOut,
    AuditPage,
    DocumentOut,
    DocumentsPage,
    ProjectOut,
    ProjectsPage,
    SearchHitOut,
    SearchPage,
    SnippetPart,
    errors,
    json_response,
)  # fmt: skip
from .security import Caller, scoped

router = APIRouter()
Id = Annotated[int, Path(description="the id, a whole number")]
Limit = Annotated[int, Query(ge=1, le=200, description="rows per page (1 to 200)")]
CursorParam = Annotated[str | None, Query(max_length=1000, description="next_cursor of the previous page")]
reader = scoped("read")
BIGINT = 2**63 - 1
SEARCH_SYNTAX = 'web-search syntax: words (all of them), "an exact phrase", a or b, -without'


def _id_query(description: str):
    return Query(ge=1, le=BIGINT, description=description)


def require_visible(conn: Connection, project_id: int) -> None:
    """404 unless the caller may see the project (the same answer whether it exists or not)."""
    try:
        if access.project_role(conn, project_id=project_id) is None:
            raise Problem(404, HIDDEN.format(what="project"))
    except NotFound:
        raise Problem(404, HIDDEN.format(what="project")) from None


@router.get(
    "/projects", response_model=ProjectsPage, tags=["projects"], responses=errors(400, 401, 403, 429),
    summary="The projects this token can see, by name",
)  # fmt: skip
def list_projects(who: Annotated[Caller, Depends(reader)], cursor: CursorParam = None, limit: Limit = 50):
    after = cursors.decode(cursor, str, int)
    with who.reading() as conn:
        rows = projects.list_summaries(conn, after=after, limit=limit + 1)
    more = len(rows) > limit
    rows = rows[:limit]
    last = rows[-1] if rows and more else None
    return json_response(
        ProjectsPage(
            items=[ProjectOut.of(r) for r in rows],
            next_cursor=cursors.encode(last.sort_key, last.project_id) if last else None,
        )
    )


@router.get(
    "/projects/{project_id}", response_model=ProjectOut, tags=["projects"],
    responses=errors(401, 403, 404, 429), summary="One project's onboarding summary row",
)  # fmt: skip
def get_project(project_id: Id, who: Annotated[Caller, Depends(reader)]):
    with who.reading() as conn:
        require_visible(conn, project_id)
        rows = projects.list_summaries(conn, project_id=project_id, limit=1)
    if not rows:
        raise Problem(404, HIDDEN.format(what="project"))
    return json_response(ProjectOut.of(rows[0]))


@router.get(
    "/projects/{project_id}/documents", response_model=DocumentsPage, tags=["documents"],
    responses=errors(400, 401, 403, 404, 429),
    summary="A project's active documents, newest first, filtered as on the Documents screen",
)  # fmt: skip
def list_documents(
    project_id: Id,
    who: Annotated[Caller, Depends(reader)],
    q: Annotated[str | None, Query(max_length=200, description="part of the name (any case)")] = None,
    mime_type: Annotated[str | None, Query(max_length=200, description="e.g. application/pdf")] = None,
    tag_id: Annotated[int | None, _id_query("with this tag (its id)")] = None,
    uploaded_by: Annotated[int | None, _id_query("the uploader's user id")] = None,
    uploaded_from: Annotated[datetime | None, Query(description="uploaded at or after (ISO 8601)")] = None,
    uploaded_to: Annotated[datetime | None, Query(description="uploaded before (ISO 8601)")] = None,
    cursor: CursorParam = None,
    limit: Limit = 50,
):
    after = cursors.decode_page_cursor(cursor)
    with who.reading() as conn:
        require_visible(conn, project_id)
        page = documents.list_active_documents(
            conn, project_id=project_id, mime_type=mime_type, tag_id=tag_id, uploaded_by=uploaded_by,
            uploaded_from=uploaded_from, uploaded_to=uploaded_to, name_contains=q, after=after, limit=limit,
        )  # fmt: skip
    return json_response(
        DocumentsPage(
            items=[DocumentOut.of(d) for d in page.rows], next_cursor=cursors.encode_page_cursor(page.next)
        )
    )


@router.get(
    "/search", response_model=SearchPage, tags=["documents"], responses=errors(400, 401, 403, 404, 429),
    summary="Documents whose text holds these words, best match first, with where they occur",
)  # fmt: skip
def search_documents(
    who: Annotated[Caller, Depends(reader)],
    q: Annotated[str, Query(min_length=1, max_length=500, description=SEARCH_SYNTAX)],
    project_id: Annotated[int | None, _id_query("only this project (its id); default: all it sees")] = None,
    name: Annotated[str | None, Query(max_length=200, description="part of the name (any case)")] = None,
    mime_type: Annotated[str | None, Query(max_length=200, description="e.g. application/pdf")] = None,
    tag_id: Annotated[int | None, _id_query("with this tag (its id)")] = None,
    uploaded_by: Annotated[int | None, _id_query("the uploader's user id")] = None,
    uploaded_from: Annotated[datetime | None, Query(description="uploaded at or after (ISO 8601)")] = None,
    uploaded_to: Annotated[datetime | None, Query(description="uploaded before (ISO 8601)")] = None,
    cursor: CursorParam = None,
    limit: Annotated[int, Query(ge=1, le=100, description="rows per page (1 to 100)")] = 20,
):
    values = cursors.decode(cursor, float, int)
    after = search.SearchCursor(*values) if values else None
    with who.reading() as conn:
        if project_id is not None:
            require_visible(conn, project_id)
        page = search.search_documents(
            conn, query=q, project_id=project_id, name_contains=name, mime_type=mime_type, tag_id=tag_id,
            uploaded_by=uploaded_by, uploaded_from=uploaded_from, uploaded_to=uploaded_to, after=after,
            limit=limit,
        )  # fmt: skip
    return json_response(
        SearchPage(
            items=[
                SearchHitOut(
                    document=DocumentOut.of(hit.document),
                    rank=hit.rank,
                    snippet=[SnippetPart(text=t, match=m) for t, m in search.snippet_parts(hit.snippet)],
                )
                for hit in page.rows
            ],
            next_cursor=cursors.encode(page.next.rank, page.next.id) if page.next else None,
            capped=page.capped,
        )
    )


@router.get(
    "/documents/{document_id}", response_model=DocumentOut, tags=["documents"],
    responses=errors(401, 403, 404, 429), summary="One document (active or in the trash)",
)  # fmt: skip
def get_document(document_id: Id, who: Annotated[Caller, Depends(reader)]):
    with who.reading() as conn:
        return json_response(DocumentOut.of(documents.get_document(conn, document_id=document_id)))


@router.get(
    "/documents/{document_id}/content", tags=["documents"],
    responses={
        200: {"description": "the bytes (local store), streamed", "content": {"application/octet-stream": {}}},  # noqa: E501
        303: {"description": "a redirect to a presigned URL (S3) that lives a few minutes"},
        **errors(401, 403, 404, 410, 429, 503),
    },
    summary="A document's bytes; every download is in the project's audit trail",
)  # fmt: skip
async def get_content(
    document_id: Id,
    request: Request,
    who: Annotated[Caller, Depends(reader)],
    inline: Annotated[bool, Query(description="Content-Disposition inline instead of attachment")] = False,
):
    try:
        found = await run_in_threadpool(
            file_routes.locate, who.user_id, "document", document_id, who.client(), grant=who.grant
        )
    except (NotFound, PermissionDenied):
        raise Problem(404, HIDDEN.format(what="document")) from None
    response = await file_routes.send_file(found, inline=inline)
    if response.status_code in (410, 503):
        raise Problem(response.status_code, response.body.decode())
    return response


@router.get(
    "/projects/{project_id}/audit", response_model=AuditPage, tags=["audit"],
    responses=errors(400, 401, 403, 404, 429),
    summary="A project's audit trail, newest first, filtered as on the Audit trail screen",
)  # fmt: skip
def list_audit(
    project_id: Id,
    who: Annotated[Caller, Depends(reader)],
    actor_id: Annotated[int | None, _id_query("changes by this user id")] = None,
    action: Annotated[str | None, Query(max_length=50, description="insert, update, download…")] = None,
    table_name: Annotated[
        str | None, Query(max_length=100, description="documents, documents_ingest")
    ] = None,
    since: Annotated[datetime | None, Query(description="at or after (ISO 8601)")] = None,
    until: Annotated[datetime | None, Query(description="before (ISO 8601)")] = None,
    cursor: CursorParam = None,
    limit: Limit = 50,
):
    after = cursors.decode_page_cursor(cursor)
    with who.reading() as conn:
        require_visible(conn, project_id)
        page = audit.list_trail(
            conn, project_id=project_id, actor_id=actor_id, action=action, table_name=table_name,
            since=since, until=until, after=after, limit=limit,
        )  # fmt: skip
    items = [AuditOut.of(r) for r in page.rows]
    return json_response(AuditPage(items=items, next_cursor=cursors.encode_page_cursor(page.next)))
