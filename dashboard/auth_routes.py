"""Sign-in and sign-out as plain HTTP routes, so the session token travels only in an HttpOnly,
SameSite=Strict cookie (never in the URL, st.session_state or JavaScript-readable storage)."""

from __future__ import annotations

import hmac
import html
from functools import partial
from urllib.parse import urlparse

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from db.core import keys
from db.core.engine import set_actor, transaction
from db.core.errors import AuthenticationFailed
from db.core.settings import get_settings
from db.domain import sessions

SESSION_COOKIE = "prosync_session"
CSRF_COOKIE = "prosync_csrf"
SIGN_IN_PATH = "/auth/sign-in"
SIGN_OUT_PATH = "/auth/sign-out"
_OPEN_PREFIXES = ("/auth/", "/api/", "/files/", "/_stcore/", "/static/", "/component/", "/media/", "/favicon")

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


# What the sign-in page may say above its form: fixed messages chosen by a code in `?reason=`,
# never text from the address (a link to the page must not be able to put words on it).
REASONS = {
    "signed-out": "You signed out.",
    "sign-in": "Please sign in.",
    "invalid": "Your session is not valid. Please sign in.",
    "revoked": "You were signed out. Please sign in again.",
    "inactive": "Your account is not active. Ask an administrator.",
    "expired": "Your session has expired. Please sign in again.",
    "idle": "You were signed out after a period of inactivity.",
}


def reason_code(message: str) -> str:
    """The `?reason=` code of one of REASONS' messages (the session gate's), else "sign-in"."""
    return next((code for code, text in REASONS.items() if text == message), "sign-in")


CSRF_MAX_AGE = 2 * 3600  # a sign-in form is good for two hours
DEVICE_COOKIE = "prosync_device"


def _from_trusted_proxy(request: Request) -> bool:
    client = request.client.host if request.client else None
    return bool(client) and client in get_settings().trusted_proxies


def _secure(request: Request) -> bool:
    """Whether the browser reached ProSync over https: directly, by PROSYNC_PUBLIC_URL, or as a
    trusted proxy says (X-Forwarded-Proto); cookies are then Secure."""
    public = get_settings().public_url
    if request.url.scheme == "https" or (public or "").startswith("https://"):
        return True
    return _from_trusted_proxy(request) and request.headers.get("x-forwarded-proto", "") == "https"


def client_address(request: Request) -> str | None:
    """The browser's address: the connection's peer, or, when that peer is a trusted proxy, the
    last address it appended to X-Forwarded-For (the one it saw connect)."""
    peer = request.client.host if request.client else None
    if _from_trusted_proxy(request):
        forwarded = [a.strip() for a in request.headers.get("x-forwarded-for", "").split(",") if a.strip()]
        if forwarded:
            return forwarded[-1]
    return peer


def _page(
    request: Request, *, message: str = "", kind: str = "msg", email: str = "", status=200, headers=None
):
    """The sign-in form, with a fresh signed CSRF token in a cookie and in the form (double submit,
    and the token must be one this server made in the last two hours)."""
    token = keys.sign_timed("csrf")
    body = _PAGE.format(
        message=f'<p class="{kind}">{html.escape(message)}</p>' if message else "",
        action=SIGN_IN_PATH,
        csrf=html.escape(token),
        email=html.escape(email),
    )
    response = HTMLResponse(
        body, status_code=status, headers={"Cache-Control": "no-store", **(headers or {})}
    )
    response.set_cookie(
        CSRF_COOKIE, token, httponly=True, samesite="strict", secure=_secure(request), path=SIGN_IN_PATH
    )
    return response


def _same_origin(request: Request) -> bool:
    origin = request.headers.get("origin") or request.headers.get("referer")
    if not origin:
        return True  # old browsers send neither; the signed double-submit token still applies
    public = get_settings().public_url
    expected = urlparse(public).netloc if public else request.headers.get("host")
    return urlparse(origin).netloc == expected


async def sign_in_form(request: Request) -> Response:
    # A plain GET changes nothing (a link from another site must not sign anyone out): the
    # session cookie stays as it is, and the message is one of REASONS, chosen by its code.
    message = REASONS.get(request.query_params.get("reason", ""), "")
    return _page(request, message=message, kind="info")


async def sign_in(request: Request) -> Response:
    form = await request.form()
    email = str(form.get("email", ""))[:254]
    sent, expected = str(form.get("csrf", "")), request.cookies.get(CSRF_COOKIE, "")
    if (
        not expected
        or not hmac.compare_digest(sent, expected)
        or keys.unsign("csrf", sent, max_age=CSRF_MAX_AGE) is None
        or not _same_origin(request)
    ):
        return _page(request, message="The form expired. Please try again.", email=email, status=403)
    outcome = await run_in_threadpool(
        sessions.sign_in,
        partial(transaction, actor_id=None),
        login=email,
        password=str(form.get("password", "")),
        user_agent=request.headers.get("user-agent"),
        ip_address=client_address(request),
        device_token=request.cookies.get(DEVICE_COOKIE),
    )
    if outcome.new is None:
        if outcome.retry_after:
            return _page(
                request, message=outcome.message or "", email=email, status=429,
                headers={"Retry-After": str(outcome.retry_after)},
            )  # fmt: skip
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
    if outcome.device_token:
        response.set_cookie(
            DEVICE_COOKIE, outcome.device_token, max_age=sessions.DEVICE_COOKIE_DAYS * 86400,
            httponly=True, samesite="strict", secure=_secure(request), path=SIGN_IN_PATH,
        )  # fmt: skip
    response.delete_cookie(CSRF_COOKIE, path=SIGN_IN_PATH)
    return response


async def sign_out(request: Request) -> Response:
    token = request.cookies.get(SESSION_COOKIE)
    if token and _same_origin(request):
        user_agent = request.headers.get("user-agent")
        await run_in_threadpool(revoke_token, token, user_agent, client_address(request))
    response = RedirectResponse(SIGN_IN_PATH + "?reason=signed-out", status_code=303)
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


def content_security_policy() -> str:
    """What the browser may load on ProSync's pages: its own scripts and styles, images from itself
    and, for presigned previews, the configured bucket; no other origin, no plugins, no framing by
    anyone. Scripts keep 'unsafe-inline' and 'unsafe-eval', which Streamlit's frontend has been run
    with here and has not been tried without: what stops injected script is that user text is
    shown as text (dashboard/ui.py); this policy stops requests to other origins and framing."""
    settings = get_settings()
    images = ["'self'", "data:", "blob:"]
    bucket = settings.s3_bucket
    if bucket and settings.s3_endpoint_url:  # path-style: the endpoint, then this bucket's path
        images.append(f"{_origin(settings.s3_endpoint_url)}/{bucket}/")
    elif bucket:  # AWS, virtual-hosted: this bucket's own hosts, no other bucket's
        images += [
            f"https://{bucket}.s3.{settings.s3_region}.amazonaws.com",
            f"https://{bucket}.s3.amazonaws.com",
        ]
    return "; ".join(
        [
            "default-src 'self'",
            "script-src 'self' 'unsafe-inline' 'unsafe-eval'",
            "style-src 'self' 'unsafe-inline'",
            f"img-src {' '.join(images)}",
            "font-src 'self' data:",
            "connect-src 'self'",
            "frame-src 'self' blob: data:",
            "worker-src 'self' blob:",
            "media-src 'self' blob: data:",
            "object-src 'none'",
            "base-uri 'self'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        ]
    )


def _origin(url: str) -> str:
    parsed = urlparse(url)
    return f"{parsed.scheme}://{parsed.netloc}"


class SecurityHeaders:
    """ASGI middleware: every HTTP response carries the headers that keep the dashboard out of
    other sites' frames, stop content sniffing and keep addresses out of Referer headers."""

    def __init__(self, app):
        self.app = app
        self.headers: list[tuple[bytes, bytes]] | None = None

    def _headers(self) -> list[tuple[bytes, bytes]]:
        if self.headers is None:
            self.headers = [
                (b"content-security-policy", content_security_policy().encode()),
                (b"x-frame-options", b"DENY"),
                (b"x-content-type-options", b"nosniff"),
                (b"referrer-policy", b"same-origin"),
                (b"cross-origin-opener-policy", b"same-origin"),
                (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
            ]
        return self.headers

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        extra = self._headers()

        async def with_headers(message):
            if message["type"] == "http.response.start":
                names = {name.lower() for name, _ in message.get("headers", [])}
                message = {**message, "headers": [*message.get("headers", []),
                                                  *[(n, v) for n, v in extra if n not in names]]}  # fmt: skip
            await send(message)

        await self.app(scope, receive, with_headers)


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
