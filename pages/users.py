"""Users and sessions (admins): create users, deactivate, reset a password, soft delete and restore,
system roles; every open session with user agent, IP and last activity, and revoke any of them."""

import pandas as pd
import streamlit as st

from dashboard.ui import client, csv_download, localize, md, reader, run_write, show_flash, signed_in_user
from db.domain import sessions, users

me = signed_in_user()
st.title("Users and sessions")
show_flash()
if not me.is_admin:  # the router hides this screen too; the data layer refuses regardless
    st.error("Only an administrator can manage users.")
    st.stop()

SHOWN = 200  # rows sent to the browser at once: an organisation has thousands of users

search = st.text_input("Find users", placeholder="part of an e-mail address or a name", key="user-search")
with reader() as conn:
    everyone = users.list_users(conn, include_deleted=True, search=search, limit=SHOWN + 1)
    open_sessions = sessions.list_sessions(conn, open_only=True)
    session_users = users.list_users(
        conn, include_deleted=True, ids=sorted({s.user_id for s in open_sessions})
    )
more = len(everyone) > SHOWN
everyone = everyone[:SHOWN]

tab_users, tab_sessions = st.tabs(["Users", "Sessions"])
with tab_users:
    if more:
        st.caption(f"The first {SHOWN} by e-mail address; type in “Find users” to narrow them down.")
    if not everyone:
        st.info("No user matches this search.")
    frame = localize(
        pd.DataFrame(
            [
                {
                    "E-mail": u.login,
                    "Name": u.display_name,
                    "Active": u.is_active,
                    "System roles": ", ".join(u.system_roles),
                    "Last sign-in": u.last_login_at,
                    "Deleted": u.deleted_at is not None,
                }
                for u in everyone
            ]  # fmt: skip
        ),
        "Last sign-in",
    )
    st.dataframe(frame, hide_index=True)
    csv_download(frame, "users", key="users-csv")
    create, manage = st.columns(2)
    with create, st.form("new-user", clear_on_submit=True):
        st.markdown("**New user**")
        email = st.text_input("E-mail", key="new-user-email")
        name = st.text_input("Display name", key="new-user-name")
        password = st.text_input(
            "Initial password",
            type="password",
            key="new-user-password",
            help="At least 10 characters, not the e-mail address, not a common password",
        )
        roles = st.multiselect("System roles", list(users.SYSTEM_ROLES), key="new-user-roles")
        if st.form_submit_button("Create user", type="primary"):
            if run_write(
                lambda conn: users.create_user(
                    conn, login=email, display_name=name, password=password, system_roles=tuple(roles)
                ),
                f"User {email.strip()} created.",
            ):
                st.rerun()
    with manage:
        st.markdown("**Manage a user**")
        by_id = {u.id: u for u in everyone}
        if not by_id:
            st.caption("No user to manage in this search.")
        else:
            chosen = st.selectbox(
                "User", list(by_id), format_func=lambda i: by_id[i].login, key="manage-user"
            )
            user = by_id[chosen]
            sure = st.checkbox(f"I mean it: change {md(user.login)}'s account", key="manage-confirm")
            b1, b2, b3 = st.columns(3)
            if user.is_active:
                if b1.button("Deactivate", help="Stops sign-in and ends their sessions", disabled=not sure):
                    if run_write(
                        lambda conn: users.deactivate_user(conn, user_id=user.id),
                        f"{user.login} deactivated.",
                    ):
                        st.rerun()
            elif b1.button("Activate"):
                if run_write(
                    lambda conn: users.activate_user(conn, user_id=user.id), f"{user.login} activated."
                ):
                    st.rerun()
            if user.deleted_at is None:
                if b2.button("Delete", help="Hidden everywhere; can be restored", disabled=not sure):
                    if run_write(
                        lambda conn: users.soft_delete_user(conn, user_id=user.id), f"{user.login} deleted."
                    ):
                        st.rerun()
            elif b2.button("Restore"):
                if run_write(
                    lambda conn: users.restore_user(conn, user_id=user.id), f"{user.login} restored."
                ):
                    st.rerun()
            for role in users.SYSTEM_ROLES:
                has = role in user.system_roles
                if b3.button(f"{'Remove' if has else 'Make'} {role}", key=f"role-{role}"):
                    change = users.revoke_system_role if has else users.grant_system_role
                    if run_write(
                        lambda conn, c=change, r=role: c(
                            conn, user_id=user.id, role=r, keep_session=st.session_state.get("session_id")
                        ),
                        f"System roles saved; {user.login}'s sessions were ended.",
                    ):
                        st.rerun()
            with st.form("reset-password", clear_on_submit=True):
                new_password = st.text_input("New password", type="password", key="reset-password")
                if st.form_submit_button("Reset password"):
                    if run_write(
                        lambda conn: users.set_password(
                            conn,
                            user_id=user.id,
                            password=new_password,
                            keep_session=st.session_state.get("session_id"),
                        ),
                        f"Password of {user.login} reset; their sessions were ended.",
                    ):
                        st.rerun()

with tab_sessions:
    logins = {u.id: u.login for u in session_users}
    if not open_sessions:
        st.info("No open sessions.")
    else:
        frame = localize(
            pd.DataFrame(
                [
                    {
                        "id": s.id,
                        "User": logins.get(s.user_id),
                        "Browser": s.user_agent,
                        "IP": s.ip_address,
                        "Signed in": s.created_at,
                        "Last activity": s.last_active_at,
                        "Expires": s.expires_at,
                    }
                    for s in open_sessions
                ]  # fmt: skip
            ),
            "Signed in",
            "Last activity",
            "Expires",
        )
        event = st.dataframe(
            frame, hide_index=True, on_select="rerun", selection_mode="multi-row", column_config={"id": None}
        )
        chosen_ids = [frame.iloc[i]["id"] for i in event.selection.rows]
        if st.button(f"Revoke {len(chosen_ids)} selected", disabled=not chosen_ids, type="primary"):

            def revoke(conn):
                for session_id in chosen_ids:
                    sessions.revoke_session(
                        conn, session_id=session_id, reason="revoked by an administrator", **client()
                    )

            if run_write(revoke, f"{len(chosen_ids)} session(s) revoked."):
                st.rerun()
