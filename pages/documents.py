"""Documents: active_documents with filters and keyset pages, or a search inside the files (ranked,
with snippets) under the same filters; a detail view with history, preview, text and download, soft
delete with confirmation, and each project's trash with restore."""

from datetime import UTC, datetime, time, timedelta

import pandas as pd
import streamlit as st

from dashboard.ui import (
    KeysetPager,
    admin_view_notice,
    csv_download,
    history_table,
    localize,
    md,
    project_picker,
    reader,
    run_write,
    show_flash,
    show_preview,
    snippet_markdown,
    snippet_text,
)
from db.core.errors import InvalidInput
from db.domain import access, documents, projects, search, tags

PAGE_SIZE = 25


def _text_line(state: search.TextState) -> str:
    if state.status == "extracted":
        return f"{state.characters:,} characters"
    if state.status == "none":
        return f"none ({md(state.reason)})"
    return "waiting to be extracted" + (f" ({md(state.reason)})" if state.reason else "")


st.title("Documents")
show_flash()

with reader() as conn:
    my_projects = projects.list_projects(conn)
    filetypes = documents.list_filetypes(conn)
    all_tags = tags.list_tags(conn)
    people = access.list_people(conn)

if not my_projects:
    st.info("You are not a member of any project yet. Ask a project owner to add you.")
    st.stop()

project_names = {p.id: p.name for p in my_projects}
with st.container(border=True):
    words = st.text_input(
        "Search inside the files",
        max_chars=500,
        placeholder='words, "an exact phrase", or -without',
        help="Finds documents by the words in their text (PDF text, plain text, Markdown, CSV, JSON),"
        " best matches first, within the filters below.",
    ).strip()
    c1, c2, c3 = st.columns(3)
    project_id = c1.selectbox(
        "Project",
        [None, *project_names],
        format_func=lambda i: "All projects" if i is None else project_names[i],
    )
    mime = c2.selectbox(
        "File type",
        [None, *filetypes.mime_type],
        format_func=lambda m: "Any type" if m is None else filetypes.set_index("mime_type").label[m],
    )
    tag_names = {t.id: f"{t.category} / {t.name}" for t in all_tags}
    tag_id = c3.selectbox(
        "Project tag", [None, *tag_names], format_func=lambda t: "Any tag" if t is None else tag_names[t]
    )
    c4, c5, c6 = st.columns(3)
    person = dict(people)
    uploader = c4.selectbox(
        "Uploaded by", [None, *person], format_func=lambda u: "Anyone" if u is None else person[u]
    )
    dates = c5.date_input("Uploaded between", value=(), format="YYYY-MM-DD")
    name_part = c6.text_input("Name contains", max_chars=200)
admin_view_notice(project_id)

start = datetime.combine(dates[0], time.min, UTC) if len(dates) >= 1 else None
end = datetime.combine(dates[1], time.min, UTC) + timedelta(days=1) if len(dates) == 2 else None
filters = {
    "project_id": project_id, "mime_type": mime, "tag_id": tag_id, "uploaded_by": uploader,
    "uploaded_from": start, "uploaded_to": end, "name_contains": name_part or None,
}  # fmt: skip

found = None
if words:
    pager = KeysetPager("search", scope=(words, filters))  # new words or filters: the first page again
    try:
        with reader() as conn:
            found = search.search_documents(conn, query=words, after=pager.cursor, limit=PAGE_SIZE, **filters)
    except InvalidInput as error:
        st.warning(md(error))
        st.stop()
    page, rows = found, [hit.document for hit in found.rows]
    snippets = {hit.document.id: hit.snippet for hit in found.rows}
else:
    pager = KeysetPager("documents", scope=filters)  # new filters: the first page again
    with reader() as conn:
        page = documents.list_active_documents(conn, after=pager.cursor, limit=PAGE_SIZE, **filters)
    rows, snippets = page.rows, {}

if not rows:
    if words:
        st.info("No document's text matches this search within these filters." if pager.number == 1
                else "No more matches.")  # fmt: skip
    else:
        st.info("No documents match these filters." if pager.number == 1 else "No more documents.")
else:
    frame = pd.DataFrame(
        [
            {
                "id": d.id,
                "Name": d.name,
                **({"Match": snippet_text(snippets.get(d.id, ""))} if words else {}),
                "Project": d.project_name,
                "Type": d.mime_type,
                "Size": d.size_bytes,
                "Uploaded": d.uploaded_at,
                "By": d.uploaded_by_login,
            }
            for d in rows
        ]  # fmt: skip
    )
    frame = localize(frame, "Uploaded")
    event = st.dataframe(
        frame,
        hide_index=True,
        on_select="rerun",
        selection_mode="single-row",
        key=f"doc-table-{'search' if words else 'list'}-{pager.number}",
        column_config={
            "id": None,
            "Match": st.column_config.TextColumn(width="large"),
            "Size": st.column_config.NumberColumn(format="bytes"),
            "Uploaded": st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm z"),
        },
    )
    csv_download(frame.drop(columns=["id"]), "documents", key="documents-csv")
    order = "newest first"
    if found is not None:
        order = "best match first" + (
            f"; more than {search.CANDIDATES:,} documents match, so the newest {search.CANDIDATES:,} of them"
            " are ranked: add a word to narrow it"
            if found.capped
            else ""
        )
    counted = f"{len(rows)} document" + ("" if len(rows) == 1 else "s")
    pager.buttons(page, caption=f"Page {pager.number} · {counted}, {order}")

    selected = event.selection.rows
    linked = st.query_params.get("document", "")
    document_id = (
        int(frame.iloc[selected[0]]["id"]) if selected else (int(linked) if linked.isdigit() else None)
    )
    if document_id is not None:
        with reader() as conn:
            document = documents.get_document(conn, document_id=document_id)
            history = documents.document_history(conn, document_id=document_id)
            role = access.project_role(conn, project_id=document.project_id)
            text_state = search.text_state(conn, document_id=document_id)
        st.subheader(md(document.name))
        if snippets.get(document.id):
            st.markdown(snippet_markdown(snippets[document.id]))
        info, preview = st.columns([2, 3])
        with info:
            st.markdown(
                f"- **Project:** {md(document.project_name)}\n- **Type:** {md(document.mime_type)}\n"
                f"- **Size:** {document.size_bytes:,} bytes\n- **SHA-256:** `{document.checksum}`\n"
                f"- **Uploaded by:** {md(document.uploaded_by_login or 'unknown')}\n"
                f"- **Text for search:** {_text_line(text_state)}"
            )
            if document.metadata:
                st.json(document.metadata, expanded=False)
            st.link_button("Download", f"/files/{document.id}", icon=":material/download:")
            if role and role.can_delete:
                confirm = st.checkbox("Move this document to the trash", key=f"confirm-{document.id}")
                if st.button("Delete document", type="primary", disabled=not confirm):
                    if run_write(
                        lambda conn: documents.soft_delete_document(conn, document_id=document.id),
                        f"{document.name!r} moved to the project's trash.",
                    ):
                        st.rerun()
        with preview:
            show_preview(
                storage_code=document.storage_code,
                key=document.object_key,
                mime_type=document.mime_type,
                size_bytes=document.size_bytes,
                name=document.name,
                preview_key=document.preview_key,
            )
        st.markdown("**History**")
        history_table(history)
    else:
        st.caption("Select a row to see the document, its history and a preview.")

st.divider()
st.subheader("Trash")
trash_project = project_picker(my_projects, key="trash-project").id
with reader() as conn:
    trashed = documents.list_deleted_documents(conn, project_id=trash_project)
    trash_role = access.project_role(conn, project_id=trash_project)
if not trashed:
    st.caption("The trash of this project is empty.")
for d in trashed:
    left, right = st.columns([5, 1])
    left.write(f"**{md(d.name)}** · {d.size_bytes:,} bytes · deleted {d.deleted_at:%Y-%m-%d %H:%M} UTC")
    if trash_role and trash_role.can_delete and right.button("Restore", key=f"restore-doc-{d.id}"):
        if run_write(
            lambda conn, d=d: documents.restore_document(conn, document_id=d.id), f"{d.name!r} restored."
        ):
            st.rerun()
