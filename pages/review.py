"""Review: the queue of staged files (oldest first) with preview and details; approve, reject with a
reason, one at a time or a selection at once; rejected files reopened or purged."""

from types import SimpleNamespace

import pandas as pd
import streamlit as st

from dashboard.ui import (
    act,
    human_bytes,
    localize,
    md,
    project_picker,
    reader,
    show_flash,
    show_preview,
    unit,
    write,
)
from db.core.types import Cursor
from db.domain import access, projects, staging
from db.files import ingest

PAGE_SIZE = 25

st.title("Review")
show_flash()

with reader() as conn:
    reviewable = access.project_ids_with(conn, permission="can_review")
    my_projects = [p for p in projects.list_projects(conn) if reviewable is None or p.id in set(reviewable)]

if not my_projects:
    st.info("None of your projects lets you review. Reviewers, maintainers and owners can.")
    st.stop()

everything = SimpleNamespace(id=None, name="All my projects")
project_id = project_picker([everything, *my_projects], key="review-project", label="Projects").id
# A decision changes the rows under the table: a new widget key drops the old selection with them.
version = st.session_state.setdefault("review-version", 0)


def _decided() -> None:
    st.session_state["review-version"] = version + 1


def _frame(rows: list[dict], when: str, label: str) -> pd.DataFrame:
    return localize(
        pd.DataFrame(
            {
                label: [r[when] for r in rows],
                "Project": [r["project_name"] for r in rows],
                "File": [r["original_name"] for r in rows],
                "Type": [r["detected_mime"] for r in rows],
                "Size": [human_bytes(r["size_bytes"]) for r in rows],
                "Uploader": [r["uploaded_by_login"] or "command line" for r in rows],
                "Notes": [r["notes"] for r in rows],
            }
        ),
        label,
    )


def _cursor(key: str) -> Cursor | None:
    """Keyset pages: the cursors of the pages before this one, per list and project."""
    stack = st.session_state.setdefault(f"{key}-{project_id}-stack", [])
    return stack[-1] if stack else None


def _pager(key: str, page) -> None:
    stack = st.session_state[f"{key}-{project_id}-stack"]
    left, right, _ = st.columns([1, 1, 4])
    if left.button("Previous page", key=f"{key}-prev", disabled=not stack):
        stack.pop()
        st.rerun()
    if right.button("Next page", key=f"{key}-next", disabled=page.next is None):
        stack.append(page.next)
        st.rerun()


def _details(row: dict) -> None:
    info, preview = st.columns([2, 3])
    with info:
        declared = md(row["declared_mime"] or "not given")
        uploader = md(row["uploaded_by_login"] or "command line")
        st.markdown(
            f"- **Project:** {md(row['project_name'])}\n- **Detected type:** {md(row['detected_mime'])} "
            f"(declared: {declared})\n- **Size:** {row['size_bytes']:,} bytes\n"
            f"- **SHA-256:** `{row['checksum']}`\n- **Uploaded by:** {uploader}"
            f" on {row['uploaded_at']:%Y-%m-%d %H:%M} UTC"
        )
        if row["notes"]:
            st.markdown(f"**Uploader's notes:** {md(row['notes'])}")
        if row["metadata"]:
            st.json(row["metadata"], expanded=False)
        st.link_button("Download", f"/staged/{row['id']}", icon=":material/download:")
    with preview:
        show_preview(
            storage_code=row["storage_code"],
            key=row["s3_key"],
            mime_type=row["detected_mime"],
            size_bytes=row["size_bytes"],
            name=row["original_name"],
        )


def _report(outcomes: list[ingest.Outcome], verb: str) -> None:
    done = [o for o in outcomes if o.status == verb]
    for outcome in outcomes:
        if outcome.status != verb:
            st.error(md(f"{outcome.name}: {outcome.message}"), icon=":material/error:")
    if done:
        st.session_state["flash"] = f"{len(done)} file(s) {verb}."
        st.cache_data.clear()


with reader() as conn:
    waiting = staging.count_pending(conn, project_id=project_id)
queue_tab, rejected_tab = st.tabs([f"Queue ({waiting})", "Rejected"])

with queue_tab:
    with reader() as conn:
        page = staging.list_pending(conn, project_id=project_id, after=_cursor("queue"), limit=PAGE_SIZE)
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
        _pager("queue", page)
        selected = [rows[i] for i in picked.selection.rows if i < len(rows)]
        if not selected:
            st.caption("Select a file to see it and decide; select several to decide them together.")
        elif len(selected) == 1:
            row = selected[0]
            st.subheader(md(row["original_name"]))
            _details(row)
            notes = st.text_input("Reviewer notes", key=f"notes-{row['id']}", max_chars=10000)
            approve_col, reject_col = st.columns(2)
            with approve_col:
                if st.button("Approve", type="primary", icon=":material/check:", key=f"approve-{row['id']}"):
                    if act(
                        lambda u: ingest.approve_file(u, ingest_id=row["id"], reviewer_notes=notes),
                        f"{row['original_name']!r} approved: it is now a document of {row['project_name']}.",
                    ):
                        _decided()
                        st.rerun()
            with reject_col:
                reason = st.text_input("Reason for rejecting", key=f"reason-{row['id']}", max_chars=2000)
                if st.button("Reject", icon=":material/close:", key=f"reject-{row['id']}"):
                    if act(
                        lambda u: ingest.reject_file(
                            u, ingest_id=row["id"], reason=reason, reviewer_notes=notes
                        ),
                        f"{row['original_name']!r} rejected.",
                    ):
                        _decided()
                        st.rerun()
        else:
            st.subheader(f"{len(selected)} files selected")
            ids = [r["id"] for r in selected]
            approve_col, reject_col = st.columns(2)
            with approve_col:
                if st.button(f"Approve {len(ids)} files", type="primary", key="bulk-approve"):
                    _report(ingest.approve_files(unit(), ingest_ids=ids), "approved")
                    _decided()
                    st.rerun()
            with reject_col:
                reason = st.text_input("Reason for rejecting them all", key="bulk-reason", max_chars=2000)
                if st.button(f"Reject {len(ids)} files", key="bulk-reject"):
                    outcomes = ingest.each(
                        ids, lambda i: ingest.reject_file(unit(), ingest_id=i, reason=reason)
                    )
                    _report(outcomes, "rejected")
                    if any(o.status == "rejected" for o in outcomes):
                        _decided()
                        st.rerun()

with rejected_tab:
    with reader() as conn:
        page = staging.list_rejected(conn, project_id=project_id, after=_cursor("rejected"), limit=PAGE_SIZE)
    rows = page.rows
    if not rows:
        st.info("No rejected files here.")
    else:
        frame = _frame(rows, "reviewed_at", "Rejected")
        frame.insert(3, "Reason", [r["rejection_reason"] for r in rows])
        frame.insert(4, "By", [r["reviewed_by_login"] for r in rows])
        picked = st.dataframe(
            frame,
            hide_index=True,
            on_select="rerun",
            selection_mode="single-row",
            key=f"rejected-{version}",
            height=36 * (len(rows) + 1) + 2,
            column_config={"Rejected": st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm z")},
        )
        _pager("rejected", page)
        if picked.selection.rows and picked.selection.rows[0] < len(rows):
            row = rows[picked.selection.rows[0]]
            st.subheader(md(row["original_name"]))
            st.markdown(f"**Rejected by {md(row['reviewed_by_login'])}:** {md(row['rejection_reason'])}")
            _details(row)
            reopen_col, purge_col = st.columns(2)
            with reopen_col:
                if st.button("Reopen for review", key=f"reopen-{row['id']}", icon=":material/undo:"):
                    if write(
                        lambda conn: staging.reopen(conn, ingest_id=row["id"]),
                        f"{row['original_name']!r} is back in the queue.",
                    ):
                        _decided()
                        st.rerun()
            with purge_col:
                confirm = st.checkbox(
                    "Delete this staged file and, if nothing else uses it, its stored bytes",
                    key=f"confirm-purge-{row['id']}",
                )
                if st.button(
                    "Purge", key=f"purge-{row['id']}", disabled=not confirm, icon=":material/delete:"
                ):
                    if act(
                        lambda u: ingest.purge_file(u, ingest_id=row["id"]),
                        f"{row['original_name']!r} purged.",
                    ):
                        _decided()
                        st.rerun()
        else:
            st.caption("Select a rejected file to reopen or purge it.")
