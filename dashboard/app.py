"""ProSync's entrypoint: the sign-in gate and the st.navigation router."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from dashboard.ui import engine, signed_in_user
from db import users
from db.engine import system_transaction
from db.errors import ProSyncError

PAGES = Path(__file__).resolve().parent.parent / "pages"

st.set_page_config(page_title="ProSync", page_icon=":material/folder_shared:", layout="wide")


def sign_in() -> None:
    st.title("ProSync")
    with st.form("sign-in"):
        email = st.text_input("Email")
        password = st.text_input("Password", type="password")
        submitted = st.form_submit_button("Sign in")
    if submitted:
        try:
            with system_transaction(engine=engine()) as conn:
                st.session_state["user"] = users.authenticate(conn, login=email, password=password)
        except ProSyncError as error:
            st.error(str(error))
            return
        st.rerun()


user = signed_in_user()
if user is None:
    st.navigation([st.Page(sign_in, title="Sign in", icon=":material/login:")], position="hidden").run()
else:
    with st.sidebar:
        st.write(f"**{user.display_name}**  \n{user.login}")
        if user.system_roles:
            st.caption("Roles: " + ", ".join(user.system_roles))
        if st.button("Sign out"):
            st.session_state.clear()
            st.rerun()
    st.navigation(
        [
            st.Page(
                PAGES / "onboarding.py",
                title="Onboarding",
                icon=":material/dashboard:",
                default=True,
            )
        ]
    ).run()
