"""Errors as RFC 9457 problem details (application/problem+json), with the screens' own messages."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from db.core.errors import (
    AuthenticationFailed,
    Conflict,
    DatabaseUnavailable,
    DuplicateContent,
    InvalidInput,
    NotFound,
    PermissionDenied,
    ProSyncError,
    StorageUnavailable,
)

log = logging.getLogger(__name__)
MEDIA_TYPE = "application/problem+json"
TITLES = {
    400: "Bad request",
    401: "Not authenticated",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    410: "Gone",
    413: "Content too large",
    415: "Unsupported media type",
    429: "Too many requests",
    500: "Internal server error",
    503: "Service unavailable",
}
# A refusal of something the caller may not see is a 404 with this text, whatever the reason, so
# that "exists but not yours" and "does not exist" cannot be told apart.
HIDDEN = "There is no such {what}, or you do not have access to it."


class Problem(Exception):
    """Raised by a route: answered as a problem with this status and detail."""

    def __init__(self, status: int, detail: str, *, headers: dict[str, str] | None = None, **extra):
        super().__init__(detail)
        self.status, self.detail, self.headers, self.extra = status, detail, headers or {}, extra


def problem(status: int, detail: str, *, headers: dict[str, str] | None = None, **extra) -> JSONResponse:
    body = {"type": "about:blank", "title": TITLES.get(status, "Error"), "status": status, "detail": detail}
    body.update(extra)
    return JSONResponse(body, status_code=status, media_type=MEDIA_TYPE, headers=headers)


def status_of(error: ProSyncError) -> int:
    """The HTTP status of a domain error."""
    if isinstance(error, AuthenticationFailed):
        return 401
    if isinstance(error, NotFound):
        return 404
    if isinstance(error, PermissionDenied):
        return 403
    if isinstance(error, InvalidInput):
        return 400
    if isinstance(error, DuplicateContent | Conflict):
        return 409
    if isinstance(error, DatabaseUnavailable | StorageUnavailable):
        return 503
    return 400


def install(app: FastAPI) -> None:
    """Answer every error of `app` as a problem; never a traceback, never a driver's message."""

    @app.exception_handler(Problem)
    async def _problem(_request: Request, error: Problem):
        return problem(error.status, error.detail, headers=error.headers, **error.extra)

    @app.exception_handler(ProSyncError)
    async def _domain(_request: Request, error: ProSyncError):
        return problem(status_of(error), str(error))

    @app.exception_handler(RequestValidationError)
    async def _invalid(_request: Request, error: RequestValidationError):
        # Where and what, never the value sent (it may be huge or hostile).
        errors = [
            {"where": ".".join(map(str, e.get("loc", ()))), "message": str(e.get("msg", ""))[:200]}
            for e in error.errors()[:20]
        ]
        return problem(400, "The request is not valid: " + "; ".join(
            f"{e['where']}: {e['message']}" for e in errors[:3]), errors=errors)  # fmt: skip

    @app.exception_handler(StarletteHTTPException)
    async def _http(_request: Request, error: StarletteHTTPException):
        detail = error.detail if isinstance(error.detail, str) else TITLES.get(error.status_code, "Error")
        if error.status_code == 404 and detail == "Not Found":
            detail = "There is no such endpoint in the ProSync API (see /api/v1/docs)."
        return problem(error.status_code, detail, headers=getattr(error, "headers", None))

    @app.exception_handler(Exception)
    async def _unexpected(_request: Request, error: Exception):
        log.exception("the API failed on a request")
        return problem(500, "ProSync could not complete this request; the error has been logged.")
