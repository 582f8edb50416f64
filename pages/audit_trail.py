"""Audit trail: audit_trail_by_project with filters, a timeline, old and new values side by side,
and the filtered trail as CSV."""

from datetime import UTC, datetime, time, timedelta

import plotly.express as px
import streamlit as st

from dashboard.ui import chart_text, csv_download, localize, md, project_picker, reader
from db.domain import access, audit, projects

ACTIONS = ["insert", "update", "soft_delete", "restore", "delete", "rls_bypass"]
TABLES = ["projects", "project_access", "project_tag", "documents", "documents_ingest"]

st.title("Audit trail")
with reader() as conn:
    my_projects = projects.list_projects(conn)
    people = dict(access.list_people(conn))

project = project_picker(my_projects, key="audit-project")
if project is None:
    st.stop()

with st.container(border=True):
    c1, c2, c3, c4 = st.columns(4)
    actor = c1.selectbox("Actor", [None, *people], format_func=lambda u: "Anyone" if u is None else people[u])
    action = c2.selectbox("Action", [None, *ACTIONS], format_func=lambda a: a or "Any action")
    table = c3.selectbox("Table", [None, *TABLES], format_func=lambda t: t or "Any table")
    since_days = c4.selectbox(
        "Period", [7, 30, 90, 365, None], index=1, format_func=lambda d: f"Last {d} days" if d else "All time"
    )
    limit = st.slider("Rows at most", 100, 5000, 1000, step=100)
since = (
    datetime.combine(datetime.now(UTC).date(), time.min, UTC) - timedelta(days=since_days)
    if since_days
    else None
)

with reader() as conn:
    trail = audit.audit_trail(
        conn, project_id=project.id, actor_id=actor, action=action, table_name=table, since=since, limit=limit
    )

if trail.empty:
    st.info("No audit events match these filters.")
    st.stop()

trail = localize(trail, "timestamp")
trail["day"] = trail["timestamp"].dt.floor("D")
timeline = trail.groupby(["day", "action"]).size().reset_index(name="events")
timeline["action"] = timeline.action.map(chart_text)
figure = px.bar(timeline, x="day", y="events", color="action", height=260)
figure.update_layout(margin=dict(l=0, r=0, t=10, b=0), legend_title_text="")
# A bar is a day wide and the axis spans the chosen period: with events on one day only, plotly
# would otherwise stretch that day across fractions of a millisecond.
figure.update_traces(width=86_400_000 * 0.8)
figure.update_xaxes(tickformat="%b %d")
if since is not None:
    figure.update_xaxes(range=[since, datetime.now(UTC) + timedelta(days=1)])
st.plotly_chart(figure, width="stretch")

shown = trail[
    ["id", "timestamp", "actor_login", "via_token", "action", "table_name", "record_id", "changed_columns"]
]
event = st.dataframe(
    shown,
    hide_index=True,
    on_select="rerun",
    selection_mode="single-row",
    column_config={
        "id": None,
        "timestamp": st.column_config.DatetimeColumn("When", format="YYYY-MM-DD HH:mm:ss z"),
        "actor_login": "Who",
        "via_token": st.column_config.TextColumn("Through token", help="the API token a change came through"),
        "action": "Action",
        "table_name": "Table",
        "record_id": "Row",
        "changed_columns": st.column_config.ListColumn("Changed"),
    },
)
events = f"{len(trail):,} event" + ("" if len(trail) == 1 else "s")
st.caption(f"{events}, newest first" + (" (limit reached)" if len(trail) == limit else ""))
csv_download(trail.drop(columns=["day"]), f"audit-{project.name}", key="audit-csv")

if event.selection.rows:
    row = trail.iloc[event.selection.rows[0]]
    st.subheader(md(f"{row.action} on {row.table_name} {row.record_id}"))
    st.caption(f"{row.timestamp:%Y-%m-%d %H:%M:%S %Z} by {md(row.actor_login or 'outside the application')}")
    old, new = st.columns(2)
    with old:
        st.markdown("**Before**")
        st.json(row.old_values if row.old_values is not None else {}, expanded=True)
    with new:
        st.markdown("**After**")
        st.json(row.new_values if row.new_values is not None else {}, expanded=True)
else:
    st.caption("Select a row to see its old and new values side by side.")
