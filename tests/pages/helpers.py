"""Running page scripts in AppTest as a given user, and checking the database afterwards."""

from pathlib import Path

from sqlalchemy import text
from streamlit.testing.v1 import AppTest

from db import users
from db.engine import system_transaction

ROOT = Path(__file__).resolve().parents[2]


def run_page(name: str, login: str, *, query: dict | None = None, session_id: str | None = None) -> AppTest:
    """A page script run as the demo user `login` (as the router would have resolved them, in the
    session `session_id`)."""
    at = AppTest.from_file(str(ROOT / "pages" / f"{name}.py"), default_timeout=30)
    with system_transaction() as conn:
        at.session_state["user"] = users.find_user_by_login(conn, login=login)
    at.session_state["session_id"] = session_id
    for key, value in (query or {}).items():
        at.query_params[key] = value
    return at.run()


def scalar(sql: str, **params):
    with system_transaction() as conn:
        return conn.execute(text(sql), params).scalar_one()


def by_label(elements, label: str):
    return next(e for e in elements if e.label == label)
