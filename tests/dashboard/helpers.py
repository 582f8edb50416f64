"""The HTTP routes as dashboard/server.py mounts them beside Streamlit, and signing in through them
as a browser would (the `client` fixture in tests/conftest.py serves them over Starlette's TestClient)."""

import re

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import Route

from dashboard import file_routes
from dashboard.auth_routes import ROUTES, SecurityHeaders, SignInRedirect


def routes_app(home=None):
    """The routes as dashboard/server.py mounts them beside Streamlit, with its middleware."""
    extra = [Route("/", home)] if home else []
    return Starlette(
        routes=[*ROUTES, *file_routes.ROUTES, *extra],
        middleware=[Middleware(SecurityHeaders), Middleware(SignInRedirect)],
    )


def forget_attempts() -> None:
    """Sign-in attempts are counted per database: the next test starts with none."""
    from sqlalchemy import text

    from db.core.engine import system_transaction

    with system_transaction() as conn:
        conn.execute(text("delete from auth.sign_in_attempts"))


def sign_in_form(client):
    """The sign-in page and the CSRF token in its form."""
    page = client.get("/auth/sign-in")
    token = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
    return page, token


def sign_in(client, email, password, **headers):
    """Post the sign-in form as the browser would, from the dashboard's own origin."""
    _, token = sign_in_form(client)
    return client.post(
        "/auth/sign-in",
        data={"email": email, "password": password, "csrf": token},
        headers={"origin": "http://testserver", **headers},
        follow_redirects=False,
    )
