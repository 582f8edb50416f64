"""Onboarding: onboarding_project_summary for the projects the signed-in user can see."""

import streamlit as st

from dashboard.ui import engine, signed_in_user
from db import projects
from db.engine import read_only

user = signed_in_user()
st.title("Onboarding")
with read_only(actor_id=user.id, engine=engine()) as conn:
    summary = projects.onboarding_summary(conn)

if summary.empty:
    st.info("You are not a member of any project yet. Ask a project owner to add you.")
    st.stop()

left, middle, right, last = st.columns(4)
left.metric("Projects", len(summary))
middle.metric("Documents", int(summary.document_count.sum()))
right.metric("Participants", int(summary.participant_count.sum()))
last.metric("Pending files", int(summary.pending_files.sum()))
st.dataframe(
    summary[
        [
            "project_name",
            "owner_name",
            "tags",
            "document_count",
            "total_bytes",
            "participant_count",
            "pending_files",
            "last_activity_at",
        ]
    ],  # fmt: skip
    hide_index=True,
    column_config={
        "project_name": "Project",
        "owner_name": "Owner",
        "tags": st.column_config.ListColumn("Tags"),
        "document_count": "Documents",
        "total_bytes": st.column_config.NumberColumn("Bytes", format="%d"),
        "participant_count": "Participants",
        "pending_files": "Pending",
        "last_activity_at": st.column_config.DatetimeColumn("Last activity"),
    },
)
