"""Shared UI pieces: the process's engine (cached resource) and the signed-in user."""

from __future__ import annotations

import streamlit as st
from sqlalchemy import Engine

from db.engine import get_engine
from db.types import User


@st.cache_resource
def engine() -> Engine:
    """One engine per Streamlit server process."""
    return get_engine()


def signed_in_user() -> User | None:
    return st.session_state.get("user")
