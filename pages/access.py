"""Access management: a project's members and roles; grant, change and revoke (never above your own
role, and a project keeps its owner); transfer ownership; what each role may do."""

import pandas as pd
import streamlit as st

from dashboard.ui import csv_download, localize, project_picker, reader, run_write, show_flash
from db.domain import access, projects

st.title("Access management")
show_flash()

with reader() as conn:
    my_projects = projects.list_projects(conn)
    roles = access.list_roles(conn)

project = project_picker(my_projects, key="access-project")
if project is None:
    st.stop()
with reader() as conn:
    members = access.list_members(conn, project_id=project.id)
    mine = access.project_role(conn, project_id=project.id)

frame = localize(
    pd.DataFrame(
        [{"Name": m.display_name, "E-mail": m.login, "Role": m.role, "Since": m.granted_at} for m in members]
    ),
    "Since",
)
st.dataframe(
    frame, hide_index=True, column_config={"Since": st.column_config.DatetimeColumn(format="YYYY-MM-DD")}
)
csv_download(frame, f"members-{project.name}", key="members-csv")

if mine is None or not mine.can_manage_access:
    st.caption(f"Your role here ({mine.role if mine else 'none'}) does not manage access.")
else:
    grantable = [r.role for r in roles if r.rank <= mine.rank]
    manageable = {
        m.user_id: m for m in members if next(r for r in roles if r.role == m.role).rank <= mine.rank
    }
    grant, change, revoke = st.columns(3)
    with grant, st.form("grant", clear_on_submit=True):
        st.markdown("**Add a member**")
        email = st.text_input("E-mail", key="grant-email")
        role = st.selectbox("Role", grantable, index=len(grantable) - 1, key="grant-role")
        if st.form_submit_button("Grant access", type="primary"):
            if run_write(
                lambda conn: access.grant_access_by_login(
                    conn, project_id=project.id, login=email, role=role
                ),
                f"{email.strip()} is now {role} of {project.name!r}.",
            ):
                st.rerun()
    label = {uid: f"{m.display_name} ({m.role})" for uid, m in manageable.items()}
    with change, st.form("change"):
        st.markdown("**Change a role**")
        who = st.selectbox("Member", list(label), format_func=label.get, key="change-member")
        new_role = st.selectbox("New role", grantable, key="change-role")
        if st.form_submit_button("Change role"):
            if run_write(
                lambda conn: access.change_role(conn, project_id=project.id, user_id=who, role=new_role),
                f"{label.get(who, 'The member')} is now {new_role}.",
            ):
                st.rerun()
    with revoke, st.form("revoke"):
        st.markdown("**Remove a member**")
        gone = st.selectbox("Member", list(label), format_func=label.get, key="revoke-member")
        sure = st.checkbox("They lose access to this project at once", key="revoke-confirm")
        if st.form_submit_button("Remove member"):
            if not sure:
                st.warning("Tick the box to confirm.")
            elif run_write(
                lambda conn: access.revoke_access(conn, project_id=project.id, user_id=gone),
                f"{label.get(gone, 'The member')} no longer has access to {project.name!r}.",
            ):
                st.rerun()

if mine is not None and mine.can_delete_project:
    others = {m.user_id: f"{m.display_name} ({m.login})" for m in members if m.user_id != project.owner_id}
    with st.expander("Transfer ownership"), st.form("transfer"):
        st.caption(
            "The new owner, an active member, becomes accountable for the project and gets the owner role."
        )
        heir = st.selectbox("New owner", list(others), format_func=others.get, key="transfer-to")
        sure = st.checkbox("Make them the project's owner", key="transfer-confirm")
        if st.form_submit_button("Transfer ownership", disabled=not others):
            if not sure:
                st.warning("Tick the box to confirm.")
            elif run_write(
                lambda conn: projects.transfer_ownership(conn, project_id=project.id, new_owner_id=heir),
                f"{others.get(heir, 'The member')} now owns {project.name!r}.",
            ):
                st.rerun()

st.subheader("What each role may do")
st.dataframe(
    pd.DataFrame(
        [
            {
                "Role": r.role,
                "Rank": r.rank,
                "Description": r.description,
                **{f.removeprefix("can_").replace("_", " "): getattr(r, f) for f in access.PERMISSION_FLAGS},
            }
            for r in roles
        ]  # fmt: skip
    ),
    hide_index=True,
)
