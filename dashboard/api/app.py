"""The API application: /api/v1 (mounted by dashboard/server.py beside the dashboard, or served alone
by `prosync api` as `standalone`), its health route and its documentation page."""

from __future__ import annotations

import html
import logging

from fastapi import FastAPI
from fastapi.concurrency import run_in_threadpool
from fastapi.openapi.utils import get_openapi
from fastapi.responses import HTMLResponse, JSONResponse
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import Mount

from dashboard import background
from dashboard.auth_routes import SecurityHeaders
from db.core.engine import read_only
from db.core.errors import ProSyncError
from db.files import storage

from . import problems, reads, review
from .schemas import HealthOut

log = logging.getLogger(__name__)
PREFIX = "/api/v1"
DESCRIPTION = """ProSync's HTTP API: projects, documents, uploads for review, decisions and the audit
trail, over the same data-access module and row-level security as the dashboard.

Every request but `/health` carries a personal access token (`Authorization: Bearer psy_…`), made on
the dashboard's Account screen or with `prosync token create`. A token acts as its user, narrowed
to its projects and scopes (`read`, `upload`, `review`); every use is in the audit log. Errors are
RFC 9457 problem details. Lists are keyset pages: pass `next_cursor` back as `?cursor=`.
See docs/api.md."""

api = FastAPI(
    title="ProSync API",
    version="1",
    description=DESCRIPTION,
    openapi_url="/openapi.json",
    docs_url=None,  # the page below needs no script from a CDN
    redoc_url=None,
)
problems.install(api)
api.include_router(reads.router)
api.include_router(review.router)


def _openapi() -> dict:
    """FastAPI's OpenAPI document, with its stock 422 replaced by what ProSync answers for input it
    refuses: a 400 problem (problems.install)."""
    if api.openapi_schema is None:
        spec = get_openapi(
            title=api.title, version=api.version, description=api.description, routes=api.routes
        )
        problem = {"$ref": "#/components/schemas/ProblemOut"}
        for methods in spec.get("paths", {}).values():
            for op in methods.values():
                if op.get("responses", {}).pop("422", None) is not None:
                    op["responses"].setdefault("400", {
                        "description": "bad input (what is wrong, in `detail`)",
                        "content": {"application/problem+json": {"schema": problem}},
                    })  # fmt: skip
        for name in ("HTTPValidationError", "ValidationError"):
            spec.get("components", {}).get("schemas", {}).pop(name, None)
        api.openapi_schema = spec
    return api.openapi_schema


api.openapi = _openapi


def _health() -> tuple[str, str]:
    database = store = "ok"
    try:
        with read_only(actor_id=None) as conn:
            conn.exec_driver_sql("select 1")
            upload_store = storage.upload_store(conn)
    except ProSyncError as error:
        log.warning("health: the database did not answer: %s", error)
        return "unavailable", "not checked"
    except Exception:
        log.exception("health: the database did not answer")
        return "unavailable", "not checked"
    try:
        upload_store.check()
    except ProSyncError as error:
        log.warning("health: the store did not answer: %s", error)
        store = "unavailable"
    return database, store


@api.get(
    "/health", response_model=HealthOut, tags=["health"],
    responses={503: {"model": HealthOut, "description": "the database or the store is unavailable"}},
    summary="Whether the database and the object store answer (no token needed)",
)  # fmt: skip
async def health():
    database, store = await run_in_threadpool(_health)
    ok = database == "ok" and store == "ok"
    body = HealthOut(status="ok" if ok else "unavailable", database=database, storage=store)
    status = 200 if ok else 503
    return JSONResponse(body.model_dump(), status_code=status, headers={"Cache-Control": "no-store"})


@api.get("/docs", include_in_schema=False)
async def docs_page():
    return HTMLResponse(render_docs(api.openapi()))


def render_docs(spec: dict) -> str:
    """The OpenAPI document as one static HTML page (no scripts, every text escaped)."""
    e = html.escape
    out = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'><title>ProSync API</title>",
        "<style>body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;"
        "color:#1f2937}code,pre{background:#f3f4f6;padding:.1rem .3rem;border-radius:4px}"
        "section{border-top:1px solid #e5e7eb;padding:.6rem 0}.m{font-weight:700;display:inline-block;"
        "width:4rem}table{border-collapse:collapse}td,th{border:1px solid #e5e7eb;padding:.2rem .5rem;"
        "text-align:left;vertical-align:top}</style></head><body>",
        f"<h1>{e(spec['info']['title'])} v{e(spec['info']['version'])}</h1>",
        f"<p>{e(spec['info'].get('description', '')).replace(chr(10) + chr(10), '</p><p>')}</p>",
        f"<p>Machine-readable: <a href='{PREFIX}/openapi.json'>{PREFIX}/openapi.json</a>.</p>",
    ]
    for path, methods in spec.get("paths", {}).items():
        for method, op in methods.items():
            out.append(f"<section id='{e(op.get('operationId', ''))}'>")
            out.append(f"<h3><span class='m'>{e(method.upper())}</span> <code>{e(PREFIX + path)}</code></h3>")
            out.append(f"<p>{e(op.get('summary', ''))}</p>")
            params = op.get("parameters", [])
            if params:
                out.append("<table><tr><th>parameter</th><th>in</th><th>type</th><th>description</th></tr>")
                for p in params:
                    schema = p.get("schema", {})
                    kinds = [s.get("type", "") for s in schema.get("anyOf", [])]
                    kind = schema.get("type") or " | ".join(kinds)
                    required = " (required)" if p.get("required") else ""
                    out.append(
                        f"<tr><td><code>{e(p['name'])}</code>{required}</td><td>{e(p['in'])}</td>"
                        f"<td>{e(str(kind))}</td><td>{e(p.get('description', ''))}</td></tr>"
                    )
                out.append("</table>")
            body = op.get("requestBody", {}).get("content", {})
            for media in body:
                out.append(f"<p>Body: <code>{e(media)}</code></p>")
            answers = [
                f"<b>{e(status)}</b> {e(r.get('description', ''))}"
                for status, r in op.get("responses", {}).items()
            ]
            out.append("<p>Responses: " + ", ".join(answers) + "</p></section>")
    out.append("</body></html>")
    return "".join(out)


# `prosync api`: the API alone, at the same paths as beside the dashboard.
standalone = Starlette(
    routes=[Mount(PREFIX, app=api)], middleware=[Middleware(SecurityHeaders)], lifespan=background.jobs
)
