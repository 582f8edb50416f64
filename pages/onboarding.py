"""Onboarding (project leads): onboarding_project_summary for the projects the user can see, charts,
and a project's detail: members, tags, recent documents, recent audit events, history."""

import pandas as pd
import plotly.express as px
import streamlit as st

from dashboard.ui import (
    admin_view_notice,
    chart_text,
    csv_download,
    history_table,
    human_bytes,
    just_wrote,
    localize,
    md,
    reader,
    run_write,
    show_flash,
    signed_in_user,
)
from db.core.settings import get_settings
from db.domain import access, audit, documents, projects, tags

user = signed_in_user()
st.title("Onboarding")
show_flash()


@st.cache_data(ttl=30, max_entries=200, show_spinner=False)
def overview(user_id: int, primary: bool) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The summary and the weekly uploads of the projects `user_id` may see. Kept for 30 s: each
    click on a filter or a project below reruns this page, and at a million documents these two
    reads are most of its time. A write from this server clears them (dashboard.ui.run_write)."""
    with reader(user_id, primary=primary) as conn:
        return projects.onboarding_summary(conn), documents.uploads_per_week(conn, weeks=26)


summary, weekly = overview(user.id, just_wrote())

with st.expander("New project", icon=":material/add:"):
    with st.form("new-project", clear_on_submit=True):
        name = st.text_input("Name", max_chars=200, key="new-name")
        description = st.text_area("Description", max_chars=10000, key="new-description")
        if st.form_submit_button("Create project", type="primary"):
            if run_write(
                lambda conn: projects.create_project(conn, name=name, description=description),
                f"Project {name.strip()!r} created; you are its owner.",
            ):
                st.rerun()

with reader() as conn:
    restorable = projects.list_deleted_projects(conn)
if restorable:
    with st.expander(f"Deleted projects ({len(restorable)})", icon=":material/delete:"):
        for p in restorable:
            left, right = st.columns([4, 1])
            left.write(f"**{md(p.name)}**, deleted {p.deleted_at:%Y-%m-%d}")
            if right.button("Restore", key=f"restore-{p.id}"):
                if run_write(
                    lambda conn, p=p: projects.restore_project(conn, project_id=p.id), f"{p.name!r} restored."
                ):
                    st.rerun()

if summary.empty:
    st.info("You are not a member of any project yet. Ask a project owner to add you, or create one.")
    st.stop()

cols = st.columns(5)
cols[0].metric("Projects", len(summary))
cols[1].metric("Documents", f"{int(summary.document_count.sum()):,}")
cols[2].metric("Storage", human_bytes(summary.total_bytes.sum()))
cols[3].metric("Participants", f"{int(summary.participant_count.sum()):,}")
cols[4].metric("Pending files", f"{int(summary.pending_files.sum()):,}")
refreshed = summary.totals_refreshed_at.dropna()
fresh, button = st.columns([5, 1], vertical_alignment="center")
every = get_settings().summary_refresh_seconds
fresh.caption(
    "Documents and storage as of "
    + (f"{localize(refreshed.to_frame(), 'totals_refreshed_at').iloc[0, 0]:%Y-%m-%d %H:%M:%S %Z}"
       if not refreshed.empty else "never: not counted yet")
    + (f" (recounted every {every} s)" if every > 0 else " (recounted by `prosync refresh-totals`)")
    + "; members, tags and pending files at most 30 s old."
)  # fmt: skip
if button.button("Recount now", icon=":material/refresh:", key="recount"):
    if run_write(lambda conn: projects.refresh_totals(conn), "Documents and storage recounted."):
        st.rerun()

st.subheader("Projects")
all_tags = sorted({t for ts in summary.tags for t in ts})
all_categories = sorted({c for cs in summary.tag_categories for c in cs})
f1, f2, f3, f4 = st.columns(4)
tag_filter = f1.multiselect("Tag", all_tags)
category_filter = f2.multiselect("Tag category", all_categories)
owner_filter = f3.multiselect("Owner", sorted(summary.owner_name.dropna().unique()))
active_days = f4.selectbox(
    "Activity", [None, 7, 30, 90], format_func=lambda d: "Any time" if d is None else f"Last {d} days"
)
shown = summary
if tag_filter:
    shown = shown[shown.tags.map(lambda ts: bool(set(ts) & set(tag_filter)))]
if category_filter:
    shown = shown[shown.tag_categories.map(lambda cs: bool(set(cs) & set(category_filter)))]
if owner_filter:
    shown = shown[shown.owner_name.isin(owner_filter)]
if active_days:
    since = pd.Timestamp.now(tz="UTC") - pd.Timedelta(days=active_days)
    shown = shown[pd.to_datetime(shown.last_activity_at, utc=True) >= since]

table = localize(shown, "last_activity_at", "created_at")[
    ["project_id", "project_name", "owner_name", "tags", "document_count", "total_bytes",
     "participant_count", "pending_files", "last_activity_at"]
]  # fmt: skip
st.dataframe(
    table,
    hide_index=True,
    height=min(38 + 35 * len(table), 560),
    column_config={
        "project_id": None,
        "project_name": "Project",
        "owner_name": "Owner",
        "tags": st.column_config.ListColumn("Tags"),
        "document_count": st.column_config.NumberColumn("Documents", format="%d"),
        "total_bytes": st.column_config.NumberColumn("Size", format="bytes"),
        "participant_count": "Participants",
        "pending_files": "Pending",
        "last_activity_at": st.column_config.DatetimeColumn("Last activity", format="YYYY-MM-DD HH:mm z"),
    },
)
if shown.empty:
    st.caption("No project matches these filters.")
csv_download(table.drop(columns=["project_id"]), "projects", key="projects-csv")

chart1, chart2, chart3 = st.columns(3)
with chart1:
    st.markdown("**Documents uploaded per week**")
    if weekly.empty:
        st.caption("No uploads in the last 26 weeks.")
    else:
        # One bar colour per project for the 8 busiest; the rest as one: a trace per project of a
        # thousand is more than a browser draws quickly, and more than anyone can tell apart.
        busiest = weekly.groupby("project_name").documents.sum().nlargest(8).index
        bars = weekly.assign(
            project_name=weekly.project_name.where(weekly.project_name.isin(busiest), "others")
        )
        bars = bars.groupby(["week", "project_name"], as_index=False).documents.sum()
        bars["project_name"] = bars.project_name.map(chart_text)
        figure = px.bar(bars, x="week", y="documents", color="project_name", height=320)
        figure.update_layout(legend_title_text="", margin=dict(l=0, r=0, t=10, b=0), showlegend=False)
        st.plotly_chart(figure, width="stretch")
with chart2:
    st.markdown("**Participants by role**")
    roles = (
        pd.DataFrame([r for r in shown.participants_by_role])
        .sum()
        .rename_axis("role")
        .reset_index(name="participants")
    )
    roles["role"] = roles.role.map(chart_text)
    figure = px.pie(roles, names="role", values="participants", hole=0.45, height=320)
    figure.update_layout(margin=dict(l=0, r=0, t=10, b=0))
    st.plotly_chart(figure, width="stretch")
with chart3:
    st.markdown("**Storage, the 20 biggest projects**")
    biggest = shown.nlargest(20, "total_bytes").sort_values("total_bytes")
    figure = px.bar(
        biggest.assign(project_name=biggest.project_name.map(chart_text)),
        x="total_bytes", y="project_name", orientation="h", height=320,
    )  # fmt: skip
    figure.update_layout(margin=dict(l=0, r=0, t=10, b=0), xaxis_title="bytes", yaxis_title="")
    st.plotly_chart(figure, width="stretch")

st.subheader("Project detail")
names = dict(zip(summary.project_id, summary.project_name, strict=True))
project_id = st.selectbox("Project", list(names), format_func=names.get, key="detail-project")
admin_view_notice(project_id)
with reader() as conn:
    project = projects.get_project(conn, project_id=project_id)
    role = access.project_role(conn, project_id=project_id)
    members = access.list_members(conn, project_id=project_id)
    project_tags = tags.project_tags(conn, project_id=project_id)
    recent = documents.list_active_documents(conn, project_id=project_id, limit=10)
    events = audit.audit_trail(conn, project_id=project_id, limit=15)
    history = projects.project_history(conn, project_id=project_id, limit=20)

st.caption(
    f"{md(project.description) or 'No description.'}  ·  your role: **{md(role.role) if role else 'none'}**"
)
tab_members, tab_docs, tab_events, tab_history, tab_settings = st.tabs(
    ["Members", "Recent documents", "Recent activity", "History", "Settings"]
)
with tab_members:
    st.dataframe(
        pd.DataFrame([{"Name": m.display_name, "E-mail": m.login, "Role": m.role} for m in members]),
        hide_index=True,
    )
    st.write("Tags: " + (", ".join(f"{md(t.category)}/{md(t.name)}" for t in project_tags) or "none"))
with tab_docs:
    if recent.rows:
        frame = pd.DataFrame(
            [
                {
                    "Name": d.name,
                    "Type": d.mime_type,
                    "Size": d.size_bytes,
                    "Uploaded": d.uploaded_at,
                    "By": d.uploaded_by_login,
                }
                for d in recent.rows
            ]  # fmt: skip
        )
        st.dataframe(
            localize(frame, "Uploaded"),
            hide_index=True,
            column_config={"Size": st.column_config.NumberColumn(format="bytes")},
        )
    else:
        st.caption("No documents yet.")
with tab_events:
    if events.empty:
        st.caption("No activity recorded yet.")
    else:
        st.dataframe(
            localize(events, "timestamp")[["timestamp", "actor_login", "action", "table_name", "record_id"]],
            hide_index=True,
        )
with tab_history:
    history_table(history, with_values=True)
with tab_settings:
    if role and role.can_edit_project:
        with st.form("edit-project"):
            new_name = st.text_input("Name", value=project.name, max_chars=200, key="edit-name")
            new_description = st.text_area(
                "Description", value=project.description, max_chars=10000, key="edit-description"
            )
            if st.form_submit_button("Save changes"):
                if run_write(
                    lambda conn: projects.update_project(
                        conn, project_id=project.id, name=new_name, description=new_description
                    ),
                    "Project saved.",
                ):
                    st.rerun()
    if role and role.can_delete_project:
        confirm = st.checkbox(f"I understand that '{md(project.name)}' disappears from every screen")
        if st.button("Delete project", type="primary", disabled=not confirm):
            if run_write(
                lambda conn: projects.soft_delete_project(conn, project_id=project.id),
                f"Project {project.name!r} moved to the trash. An owner or admin can restore it.",
            ):
                st.rerun()
    if not role or not (role.can_edit_project or role.can_delete_project):
        st.caption("Only owners and maintainers change a project's settings.")
