"""Review: the queue of staged files (oldest first) with preview and details; approve, reject with a
reason, one at a time or a selection at once; rejected files reopened or purged."""

from types import SimpleNamespace

import pandas as pd
import streamlit as st

from dashboard.ui import (
    KeysetPager,
    human_bytes,
    localize,
    md,
    project_picker,
    reader,
    run_write,
    show_flash,
    show_preview,
)
from db.core.types import StagedFile
from db.domain import projects, staging
from db.files import ingest

PAGE_SIZE = 25

st.title("Review")
show_flash()

with reader() as conn:
    my_projects = projects.list_projects(conn, permission="can_review")

if not my_projects:
    st.info("None of your projects lets you review. Reviewers, maintainers and owners can.")
    st.stop()

everything = SimpleNamespace(id=None, name="All my projects")
project_id = project_picker([everything, *my_projects], key="review-project", label="Projects").id
# A decision changes the rows under the table: a new widget key drops the old selection with them.
version = st.session_state.setdefault("review-version", 0)


def _decided() -> None:
    st.session_state["review-version"] = version + 1


def _frame(rows: list[StagedFile], when: str, label: str) -> pd.DataFrame:
    return localize(
        pd.DataFrame(
            {
                label: [getattr(r, when) for r in rows],
                "Project": [r.project_name for r in rows],
                "File": [r.original_name for r in rows],
                "Type": [r.detected_mime for r in rows],
                "Size": [human_bytes(r.size_bytes) for r in rows],
                "Uploader": [r.uploaded_by_login or "command line" for r in rows],
                "Notes": [r.notes for r in rows],
            }
        ),
        label,
    )


def _details(row: StagedFile) -> None:
    info, preview = st.columns([2, 3])
    with info:
        declared = md(row.declared_mime or "not given")
        uploader = md(row.uploaded_by_login or "command line")
        st.markdown(
            f"- **Project:** {md(row.project_name)}\n- **Detected type:** {md(row.detected_mime)} "
            f"(declared: {declared})\n- **Size:** {row.size_bytes:,} bytes\n"
            f"- **SHA-256:** `{row.checksum}`\n- **Uploaded by:** {uploader}"
            f" on {row.uploaded_at:%Y-%m-%d %H:%M} UTC"
        )
        if row.notes:
            st.markdown(f"**Uploader's notes:** {md(row.notes)}")
        if row.metadata:
            st.json(row.metadata, expanded=False)
        st.link_button("Download", f"/staged/{row.id}", icon=":material/download:")
    with preview:
        show_preview(
            storage_code=row.storage_code,
            key=row.object_key,
            mime_type=row.detected_mime,
            size_bytes=row.size_bytes,
            name=row.original_name,
        )


def _report(outcomes: list[ingest.Outcome], verb: str) -> None:
    done = [o for o in outcomes if o.status == verb]
    for outcome in outcomes:
        if outcome.status != verb:
            st.error(md(f"{outcome.name}: {outcome.message}"), icon=":material/error:")
    if done:
        st.session_state["flash"] = f"{len(done)} file(s) {verb}."


with reader() as conn:
    waiting = staging.count_pending(conn, project_id=project_id)
queue_tab, rejected_tab = st.tabs([f"Queue ({waiting})", "Rejected"])

with queue_tab:
    pager = KeysetPager("queue", scope=project_id)
    with reader() as conn:
        page = staging.list_pending(conn, project_id=project_id, after=pager.cursor, limit=PAGE_SIZE)
    rows = page.rows
    if not rows:
        st.info("Nothing waits for review here.")
    else:
        picked = st.dataframe(
            _frame(rows, "uploaded_at", "Uploaded"),
            hide_index=True,
            on_select="rerun",
            selection_mode="multi-row",
            key=f"queue-{version}",
            height=36 * (len(rows) + 1) + 2,  # the whole page of the queue, no inner scrolling
            column_config={"Uploaded": st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm z")},
        )
        pager.buttons(page)
        selected = [rows[i] for i in picked.selection.rows if i < len(rows)]
        if not selected:
            st.caption("Select a file to see it and decide; select several to decide them together.")
        elif len(selected) == 1:
            row = selected[0]
            st.subheader(md(row.original_name))
            _details(row)
            notes = st.text_input("Reviewer notes", key=f"notes-{row.id}", max_chars=10000)
            approve_col, reject_col = st.columns(2)
            with approve_col:
                if st.button("Approve", type="primary", icon=":material/check:", key=f"approve-{row.id}"):
                    if run_write(
                        lambda units: ingest.approve_file(units, ingest_id=row.id, reviewer_notes=notes),
                        f"{row.original_name!r} approved: it is now a document of {row.project_name}.",
                        own_transactions=True,
                    ):
                        _decided()
                        st.rerun()
            with reject_col:
                reason = st.text_input("Reason for rejecting", key=f"reason-{row.id}", max_chars=2000)
                if st.button("Reject", icon=":material/close:", key=f"reject-{row.id}"):
                    if run_write(
                        lambda units: ingest.reject_file(
                            units, ingest_id=row.id, reason=reason, reviewer_notes=notes
                        ),
                        f"{row.original_name!r} rejected.",
                        own_transactions=True,
                    ):
                        _decided()
                        st.rerun()
        else:
            st.subheader(f"{len(selected)} files selected")
            ids = [r.id for r in selected]
            approve_col, reject_col = st.columns(2)
            with approve_col:
                if st.button(f"Approve {len(ids)} files", type="primary", key="bulk-approve"):
                    approved = run_write(
                        lambda units: ingest.approve_files(units, ingest_ids=ids), own_transactions=True
                    )
                    if approved:
                        _report(approved.result, "approved")
                        _decided()
                        st.rerun()
            with reject_col:
                reason = st.text_input("Reason for rejecting them all", key="bulk-reason", max_chars=2000)
                if st.button(f"Reject {len(ids)} files", key="bulk-reject"):
                    rejected = run_write(
                        lambda units: ingest.each(
                            ids, lambda i: ingest.reject_file(units, ingest_id=i, reason=reason)
                        ),
                        own_transactions=True,
                    )
                    if rejected:
                        _report(rejected.result, "rejected")
                        if any(o.status == "rejected" for o in rejected.result):
                            _decided()
                            st.rerun()

with rejected_tab:
    pager = KeysetPager("rejected", scope=project_id)
    with reader() as conn:
        page = staging.list_rejected(conn, project_id=project_id, after=pager.cursor, limit=PAGE_SIZE)
    rows = page.rows
    if not rows:
        st.info("No rejected files here.")
    else:
        frame = _frame(rows, "reviewed_at", "Rejected")
        frame.insert(3, "Reason", [r.rejection_reason for r in rows])
        frame.insert(4, "By", [r.reviewed_by_login for r in rows])
        picked = st.dataframe(
            frame,
            hide_index=True,
            on_select="rerun",
            selection_mode="single-row",
            key=f"rejected-{version}",
            height=36 * (len(rows) + 1) + 2,
            column_config={"Rejected": st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm z")},
        )
        pager.buttons(page)
        if picked.selection.rows and picked.selection.rows[0] < len(rows):
            row = rows[picked.selection.rows[0]]
            st.subheader(md(row.original_name))
            st.markdown(f"**Rejected by {md(row.reviewed_by_login)}:** {md(row.rejection_reason)}")
            _details(row)
            reopen_col, purge_col = st.columns(2)
            with reopen_col:
                if st.button("Reopen for review", key=f"reopen-{row.id}", icon=":material/undo:"):
                    if run_write(
                        lambda conn: staging.reopen(conn, ingest_id=row.id),
                        f"{row.original_name!r} is back in the queue.",
                    ):
                        _decided()
                        st.rerun()
            with purge_col:
                confirm = st.checkbox(
                    "Delete this staged file and, if nothing else uses it, its stored bytes",
                    key=f"confirm-purge-{row.id}",
                )
                if st.button("Purge", key=f"purge-{row.id}", disabled=not confirm, icon=":material/delete:"):
                    if run_write(
                        lambda units: ingest.purge_file(units, ingest_id=row.id),
                        f"{row.original_name!r} purged.",
                        own_transactions=True,
                    ):
                        _decided()
                        st.rerun()
        else:
            st.caption("Select a rejected file to reopen or purge it.")
