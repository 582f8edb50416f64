"""Shared UI pieces: the process's engine (cached resource), the signed-in user, the session gate."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlencode

import streamlit as st
from sqlalchemy import Engine

from dashboard.auth_routes import SESSION_COOKIE, SIGN_IN_PATH
from db import sessions, users
from db.engine import get_engine, transaction
from db.errors import AuthenticationFailed
from db.types import Session, User


@st.cache_resource
def engine() -> Engine:
    """One engine per Streamlit server process."""
    return get_engine()


@dataclass(frozen=True)
class SignedIn:
    user: User
    session: Session


def resolve_visitor(token: str | None) -> SignedIn | str:
    """The signed-in user behind a session token, or the reason there is none."""
    if not isinstance(token, str) or not token:
        return "Please sign in."
    try:
        with transaction(actor_id=None, engine=engine()) as conn:
            session = sessions.resolve_session(conn, token=token)
            sessions.touch_session(conn, session_id=session.id)  # at most once a minute
            user = users.get_user(conn, user_id=session.user_id)
    except AuthenticationFailed as error:
        return str(error)
    return SignedIn(user=user, session=session)


def session_gate() -> SignedIn | None:
    """Resolve the browser's session cookie on every run; show why and stop when it is not good."""
    visitor = resolve_visitor(st.context.cookies.get(SESSION_COOKIE))
    if isinstance(visitor, str):
        st.session_state.pop("user", None)
        st.title("ProSync")
        st.info(visitor)
        st.link_button("Sign in", f"{SIGN_IN_PATH}?{urlencode({'reason': visitor})}", type="primary")
        return None
    st.session_state["user"] = visitor.user
    st.session_state["session_id"] = visitor.session.id
    return visitor


def signed_in_user() -> User:
    """The user the router resolved for this run (pages run only after the gate)."""
    return st.session_state["user"]
