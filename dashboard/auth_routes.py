"""Sign-in and sign-out as plain HTTP routes, so the session token travels only in an HttpOnly,
SameSite=Strict cookie (never in the URL, st.session_state or JavaScript-readable storage)."""

from __future__ import annotations

import hmac
import html
import secrets
from urllib.parse import urlencode, urlparse

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from db import sessions
from db.engine import set_actor, transaction
from db.errors import AuthenticationFailed
from db.settings import get_settings

SESSION_COOKIE = "prosync_session"
CSRF_COOKIE = "prosync_csrf"
SIGN_IN_PATH = "/auth/sign-in"
SIGN_OUT_PATH = "/auth/sign-out"
_OPEN_PREFIXES = ("/auth/", "/files/", "/_stcore/", "/static/", "/component/", "/media/", "/favicon")

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Sign in · ProSync</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
 body {{ font-family: system-ui, sans-serif; background: #f6f7fb; margin: 0; }}
 main {{ max-width: 380px; margin: 12vh auto; background: #fff; padding: 2rem 2.2rem;
        border-radius: 12px; box-shadow: 0 2px 12px rgba(0,0,0,.08); }}
 h1 {{ margin: 0 0 .2rem; font-size: 1.6rem; }} p.sub {{ color: #667; margin: 0 0 1.4rem; }}
 label {{ display: block; font-weight: 600; margin: .9rem 0 .3rem; }}
 input {{ width: 100%; box-sizing: border-box; padding: .6rem; border: 1px solid #ccd;
         border-radius: 8px; font-size: 1rem; }}
 button {{ margin-top: 1.4rem; width: 100%; padding: .7rem; border: 0; border-radius: 8px;
          background: #2563eb; color: #fff; font-size: 1rem; cursor: pointer; }}
 .msg {{ background: #fdecec; color: #8a1c1c; padding: .7rem; border-radius: 8px; }}
 .info {{ background: #eef4ff; color: #1d3f8a; padding: .7rem; border-radius: 8px; }}
</style></head>
<body><main>
<h1>ProSync</h1><p class="sub">Projects, documents and access, in one place.</p>
{message}
<form method="post" action="{action}">
 <input type="hidden" name="csrf" value="{csrf}">
 <label for="email">Email</label>
 <input id="email" name="email" type="email" autocomplete="username" required value="{email}" autofocus>
 <label for="password">Password</label>
 <input id="password" name="password" type="password" autocomplete="current-password" required>
 <button type="submit">Sign in</button>
</form>
</main></body></html>"""


def _secure(request: Request) -> bool:
    return request.url.scheme == "https"


def _page(request: Request, *, message: str = "", kind: str = "msg", email: str = "", status=200):
    """The sign-in form, with a fresh CSRF token in a cookie and in the form (double submit)."""
    token = secrets.token_urlsafe(32)
    body = _PAGE.format(
        message=f'<p class="{kind}">{html.escape(message)}</p>' if message else "",
        action=SIGN_IN_PATH,
        csrf=token,
        email=html.escape(email),
    )
    response = HTMLResponse(body, status_code=status, headers={"Cache-Control": "no-store"})
    response.set_cookie(
        CSRF_COOKIE, token, httponly=True, samesite="strict", secure=_secure(request), path=SIGN_IN_PATH
    )
    return response


def _same_origin(request: Request) -> bool:
    origin = request.headers.get("origin") or request.headers.get("referer")
    if not origin:
        return True  # old browsers send neither; the double-submit token still applies
    return urlparse(origin).netloc == request.headers.get("host")


async def sign_in_form(request: Request) -> Response:
    reason = request.query_params.get("reason", "")
    response = _page(request, message=reason, kind="info")
    # Whatever session cookie was there is no longer good (that is why we are here).
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


async def sign_in(request: Request) -> Response:
    form = await request.form()
    email = str(form.get("email", ""))[:254]
    sent, expected = str(form.get("csrf", "")), request.cookies.get(CSRF_COOKIE, "")
    if not expected or not hmac.compare_digest(sent, expected) or not _same_origin(request):
        return _page(request, message="The form expired. Please try again.", email=email, status=403)
    client = request.client.host if request.client else None
    user_agent = request.headers.get("user-agent")

    def work():
        with transaction(actor_id=None) as conn:
            return sessions.sign_in(
                conn,
                login=email,
                password=str(form.get("password", "")),
                user_agent=user_agent,
                ip_address=client,
            )

    outcome = await run_in_threadpool(work)
    if outcome.new is None:
        return _page(request, message=outcome.message or "", email=email, status=401)
    response = RedirectResponse("/", status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        outcome.new.token,
        max_age=get_settings().session_lifetime_hours * 3600,
        httponly=True,
        samesite="strict",
        secure=_secure(request),
        path="/",
    )
    response.delete_cookie(CSRF_COOKIE, path=SIGN_IN_PATH)
    return response


async def sign_out(request: Request) -> Response:
    token = request.cookies.get(SESSION_COOKIE)
    if token and _same_origin(request):
        client = request.client.host if request.client else None
        await run_in_threadpool(revoke_token, token, request.headers.get("user-agent"), client)
    response = RedirectResponse(
        SIGN_IN_PATH + "?" + urlencode({"reason": "You signed out."}), status_code=303
    )
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


def revoke_token(token: str, user_agent: str | None = None, ip_address: str | None = None) -> None:
    """Revoke the session behind a token, if it is still live."""
    with transaction(actor_id=None) as conn:
        try:
            session = sessions.resolve_session(conn, token=token)
        except AuthenticationFailed:
            return
        set_actor(conn, session.user_id)
        sessions.revoke_session(
            conn, session_id=session.id, reason="signed out", user_agent=user_agent, ip_address=ip_address
        )


class SignInRedirect:
    """ASGI middleware: a page request without a session cookie goes straight to the sign-in form.

    Only presence is checked here; the script checks validity on every run and says why a
    session stopped working.
    """

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and scope["method"] == "GET":
            request = Request(scope)
            path = request.url.path
            wants_html = "text/html" in request.headers.get("accept", "")
            if wants_html and not path.startswith(_OPEN_PREFIXES) and SESSION_COOKIE not in request.cookies:
                await RedirectResponse(SIGN_IN_PATH, status_code=303)(scope, receive, send)
                return
        await self.app(scope, receive, send)


ROUTES = [
    Route(SIGN_IN_PATH, sign_in_form, methods=["GET"]),
    Route(SIGN_IN_PATH, sign_in, methods=["POST"]),
    Route(SIGN_OUT_PATH, sign_out, methods=["POST"]),
]
