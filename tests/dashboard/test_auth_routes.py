"""dashboard/auth_routes.py: the sign-in and sign-out routes, the redirect middleware and the
security headers, over real HTTP semantics (Starlette's TestClient; the `client` fixture) against the
demo database."""

import pytest
from starlette.testclient import TestClient

from dashboard.auth_routes import CSRF_COOKIE, DEVICE_COOKIE, SESSION_COOKIE
from db.core.engine import transaction
from db.core.errors import AuthenticationFailed
from db.domain import sessions
from db.tools.demo import DEMO_PASSWORD
from tests.dashboard.helpers import forget_attempts, routes_app, sign_in, sign_in_form
from tests.pages.helpers import scalar


def test_signed_out_page_request_goes_to_the_sign_in_form(client):
    response = client.get("/", headers={"accept": "text/html"}, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/auth/sign-in"
    page, _ = sign_in_form(client)
    assert 'for="email">Email<' in page.text and 'for="password">Password<' in page.text
    assert ">Sign in</button>" in page.text


def test_sign_in_sets_an_httponly_strict_cookie_and_only_its_hash_is_stored(client):
    response = sign_in(client, "lead@example.com", DEMO_PASSWORD, **{"user-agent": "route-test"})
    assert response.status_code == 303 and response.headers["location"] == "/"
    header = next(h for h in response.headers.get_list("set-cookie") if h.startswith(SESSION_COOKIE))
    assert "HttpOnly" in header and "SameSite=strict" in header and "Path=/" in header
    token = client.cookies[SESSION_COOKIE]
    assert token not in response.headers["location"]
    with transaction(actor_id=None) as conn:
        session = sessions.resolve_session(conn, token=token)
    assert session.user_agent == "route-test"
    assert client.get("/", headers={"accept": "text/html"}).text == "dashboard"


def test_sign_in_without_the_csrf_token_or_from_another_origin_is_refused(client):
    sign_in_form(client)
    no_token = client.post("/auth/sign-in", data={"email": "lead@example.com", "password": DEMO_PASSWORD})
    assert no_token.status_code == 403 and SESSION_COOKIE not in client.cookies
    _, token = sign_in_form(client)
    cross = client.post(
        "/auth/sign-in",
        data={"email": "lead@example.com", "password": DEMO_PASSWORD, "csrf": token},
        headers={"origin": "https://evil.example"},
    )
    assert cross.status_code == 403 and SESSION_COOKIE not in client.cookies


def test_wrong_password_and_unknown_email_get_the_same_answer(client):
    wrong = sign_in(client, "viewer@example.com", "not-the-password")
    unknown = sign_in(client, "nobody@example.com", "not-the-password")
    assert wrong.status_code == unknown.status_code == 401
    message = "The e-mail address or password is not correct."
    assert message in wrong.text and message in unknown.text


def test_sign_out_revokes_the_session_and_clears_the_cookie(client):
    sign_in(client, "reviewer@example.com", DEMO_PASSWORD)
    token = client.cookies[SESSION_COOKIE]
    response = client.post("/auth/sign-out", headers={"origin": "http://testserver"}, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/auth/sign-in?reason=signed-out"
    assert "You signed out." in client.get(response.headers["location"]).text
    with transaction(actor_id=None) as conn, pytest.raises(AuthenticationFailed, match="signed out"):
        sessions.resolve_session(conn, token=token)
    agent = scalar(
        "select context->>'user_agent' from audit.audit_log where action = 'sign_out'"
        " and record_id = (select id::text from auth.sessions where token_hash = :h)",
        h=sessions.hash_token(token),
    )
    assert agent == "testclient", "the sign-out is in the audit log with the browser's user agent"


def test_every_response_carries_the_security_headers(client):
    sign_in(client, "viewer@example.com", DEMO_PASSWORD)
    doc = scalar("select id from documents.active_documents where project_name = 'Annual Budget' limit 1")
    for response in (client.get("/auth/sign-in"), client.get(f"/files/{doc}"), client.get("/files/999999")):
        assert response.headers["x-frame-options"] == "DENY"
        policy = response.headers["content-security-policy"]
        # A file's own, stricter policy (no script, sandboxed) stands; the dashboard's elsewhere.
        assert "frame-ancestors 'none'" in policy or "sandbox; frame-ancestors 'self'" in policy
        assert "https:" not in policy and "*" not in policy
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["referrer-policy"] == "same-origin"


def test_the_sign_in_page_says_only_its_own_fixed_messages(client):
    page = client.get("/auth/sign-in", params={"reason": "<b>Your account is locked</b>, call +1 555 0100"})
    assert "locked" not in page.text and "555" not in page.text
    assert "You signed out." in client.get("/auth/sign-in", params={"reason": "signed-out"}).text


def test_a_plain_get_of_the_sign_in_page_does_not_sign_anyone_out(client):
    sign_in(client, "viewer@example.com", DEMO_PASSWORD)
    token = client.cookies[SESSION_COOKIE]
    page = client.get("/auth/sign-in")  # what a link or an image on another site would do
    assert not any(h.startswith(SESSION_COOKIE) for h in page.headers.get_list("set-cookie"))
    with transaction(actor_id=None) as conn:
        sessions.resolve_session(conn, token=token)  # still good
    assert client.get("/auth/sign-out").status_code == 405, "signing out is a POST"


def test_the_csrf_token_must_be_one_the_server_made(client):
    client.get("/auth/sign-in")
    # A pair the client chose itself (cookie and field equal) is refused: the token is signed.
    client.cookies.set(CSRF_COOKIE, "chosen-by-the-attacker", path="/auth/sign-in")
    forged = client.post(
        "/auth/sign-in",
        data={"email": "lead@example.com", "password": DEMO_PASSWORD, "csrf": "chosen-by-the-attacker"},
        headers={"origin": "http://testserver"},
    )
    assert forged.status_code == 403 and SESSION_COOKIE not in client.cookies
    from db.core import keys

    stale = keys.sign("csrf", "1000000000:old:")  # signed, but from 2001
    client.cookies.set(CSRF_COOKIE, stale, path="/auth/sign-in")
    expired = client.post(
        "/auth/sign-in",
        data={"email": "lead@example.com", "password": DEMO_PASSWORD, "csrf": stale},
        headers={"origin": "http://testserver"},
    )
    assert expired.status_code == 403 and SESSION_COOKIE not in client.cookies


def test_cookies_are_secure_behind_an_https_proxy(demo_env, monkeypatch):
    from db.core.settings import get_settings

    for env in (
        {"PROSYNC_PUBLIC_URL": "https://prosync.example.com"},
        {"PROSYNC_TRUSTED_PROXIES": "testclient"},
    ):
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        get_settings.cache_clear()
        try:
            with TestClient(routes_app(), base_url="http://testserver") as c:
                origin = "https://prosync.example.com" if "PROSYNC_PUBLIC_URL" in env else "http://testserver"
                _, token = sign_in_form(c)
                # The browser, speaking https to the proxy, sends the (Secure) form cookie back.
                c.cookies.set(CSRF_COOKIE, token, path="/auth/sign-in")
                response = c.post(
                    "/auth/sign-in",
                    data={"email": "lead@example.com", "password": DEMO_PASSWORD, "csrf": token},
                    headers={
                        "origin": origin,
                        "x-forwarded-proto": "https",
                        "x-forwarded-for": "203.0.113.9",
                    },
                    follow_redirects=False,
                )
            assert response.status_code == 303, response.text
            for name in (SESSION_COOKIE, DEVICE_COOKIE):
                header = next(h for h in response.headers.get_list("set-cookie") if h.startswith(name))
                assert "Secure" in header, (env, name)
            if "PROSYNC_TRUSTED_PROXIES" in env:  # the proxy's word for the browser's address is taken
                token = response.headers.get_list("set-cookie")
                assert (
                    scalar("select host(ip_address) from auth.sessions order by created_at desc limit 1")
                    == "203.0.113.9"
                ), token
        finally:
            for name in env:
                monkeypatch.delenv(name)
            get_settings.cache_clear()
            forget_attempts()


def test_too_many_attempts_are_answered_429_with_retry_after(client):
    for _ in range(sessions.ACCOUNT_ATTEMPTS):
        assert sign_in(client, "maria@example.com", "wrong-password-1").status_code == 401
    refused = sign_in(client, "maria@example.com", DEMO_PASSWORD)
    assert refused.status_code == 429 and 0 < int(refused.headers["retry-after"]) <= 15 * 60
    assert "Too many failed sign-ins" in refused.text
