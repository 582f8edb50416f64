"""ProSync's entrypoint: the session gate and the st.navigation router, built from the user's roles."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from dashboard.ui import client, md, reader, run_write, session_gate
from db.domain import access, sessions

PAGES = Path(__file__).resolve().parent.parent / "pages"

# A local icon: a Material icon here is fetched from Google's font servers, which the dashboard's
# Content-Security-Policy (dashboard/auth_routes.py) rightly refuses, as it does any other origin.
st.set_page_config(page_title="ProSync", page_icon=str(Path(__file__).with_name("icon.png")), layout="wide")


def sign_out(session_id: str) -> None:
    signed_out = run_write(
        lambda conn: sessions.revoke_session(conn, session_id=session_id, reason="signed out", **client()),
        changes_reads=False,
    )
    if signed_out:
        st.session_state.clear()


visitor = session_gate()
if visitor is None:
    st.stop()

user = visitor.user
with st.sidebar:
    st.write(f"**{md(user.display_name)}**  \n{md(user.login)}")
    st.caption("Roles: " + (", ".join(user.system_roles) or "project member"))
    st.button("Sign out", on_click=sign_out, args=(visitor.session.id,))

with reader() as conn:
    can_upload = access.project_ids_with(conn, permission="can_upload") != []
    can_review = access.project_ids_with(conn, permission="can_review") != []

ingest_pages = []
if can_upload:
    ingest_pages.append(st.Page(PAGES / "upload.py", title="Upload", icon=":material/upload_file:"))
if can_review:
    ingest_pages.append(st.Page(PAGES / "review.py", title="Review", icon=":material/fact_check:"))

screens = {
    "Projects": [
        st.Page(PAGES / "onboarding.py", title="Onboarding", icon=":material/dashboard:", default=True),
        st.Page(PAGES / "documents.py", title="Documents", icon=":material/description:"),
        *ingest_pages,
        st.Page(PAGES / "audit_trail.py", title="Audit trail", icon=":material/history:"),
        st.Page(PAGES / "tags.py", title="Tags", icon=":material/sell:"),
        st.Page(PAGES / "access.py", title="Access", icon=":material/group:"),
    ],
}
if {"ops", "admin"} & set(user.system_roles):
    screens["Operations"] = [st.Page(PAGES / "ops.py", title="Ops", icon=":material/monitor_heart:")]
screens["You"] = [st.Page(PAGES / "account.py", title="Your account", icon=":material/person:")]
if user.is_admin:
    screens["Administration"] = [
        st.Page(PAGES / "users.py", title="Users and sessions", icon=":material/manage_accounts:"),
    ]
st.navigation(screens).run()
