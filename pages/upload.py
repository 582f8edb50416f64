"""Upload: files into a project's review queue, each checked (size, type from its bytes, duplicates)
and answered on its own line; the uploader's recent files with their outcome."""

import pandas as pd
import streamlit as st

from dashboard.ui import human_bytes, localize, md, project_picker, reader, run_write, show_flash
from db.core.errors import ProSyncError
from db.domain import projects, staging
from db.files import ingest
from db.files.filetypes import allowed_table

st.title("Upload")
show_flash()

with reader() as conn:
    my_projects = projects.list_projects(conn, permission="can_upload")
    accepted = allowed_table(conn)

if not my_projects:
    st.info("None of your projects lets you upload. Contributors, reviewers, maintainers and owners can.")
    st.stop()

with st.expander("What can be uploaded"):
    st.caption(
        "The type is read from the file's bytes and must match its extension. Executables, scripts, "
        "HTML and SVG are refused. Files wait for a reviewer before they become documents."
    )
    st.dataframe(
        accepted.assign(max_size=accepted.max_size_bytes.map(human_bytes)).drop(columns="max_size_bytes"),
        hide_index=True,
        column_config={"max_size": "largest file"},
    )

with st.form("upload", clear_on_submit=True, border=True):
    project = project_picker(my_projects, key="upload-project")
    files = st.file_uploader("Files", accept_multiple_files=True, key="upload-files")
    notes = st.text_area("Notes for the reviewer", max_chars=10000, placeholder="Optional")
    metadata_text = st.text_area(
        "Metadata", placeholder="Optional, one per line:\nclient: Acme\ncontract: 2026-114", height=100
    )
    submitted = st.form_submit_button("Upload for review", type="primary", icon=":material/upload:")

if submitted:
    if not files:
        st.error("Choose at least one file.")
    else:
        try:
            metadata = ingest.parse_metadata(metadata_text)
        except ProSyncError as error:
            st.error(md(error))
        else:
            bar = st.progress(0.0, text=f"Uploading {len(files)} file(s)…")

            def upload_each(units) -> list[ingest.Outcome]:
                outcomes = []
                for done, uploaded in enumerate(files, 1):
                    outcomes.append(
                        ingest.try_stage(
                            units,
                            project_id=project.id,
                            name=uploaded.name,
                            stream=uploaded,
                            declared_mime=uploaded.type,
                            notes=notes,
                            metadata=metadata,
                        )
                    )
                    bar.progress(done / len(files), text=f"{done} of {len(files)}: {md(uploaded.name)}")
                return outcomes

            uploads = run_write(upload_each, own_transactions=True)
            outcomes = uploads.result if uploads else []
            staged = sum(o.status == "staged" for o in outcomes)
            bar.progress(1.0, text=f"{staged} of {len(files)} staged for review in {md(project.name)}")
            for outcome in outcomes:
                if outcome.status == "staged":
                    st.success(
                        f"**{md(outcome.name)}**: {md(outcome.message)}", icon=":material/check_circle:"
                    )
                elif outcome.status == "duplicate":
                    st.warning(f"**Duplicate** · {md(outcome.message)}", icon=":material/content_copy:")
                else:
                    st.error(f"**Refused** · {md(outcome.message)}", icon=":material/block:")

st.subheader("Your recent uploads")
with reader() as conn:
    mine = staging.list_my_uploads(conn, limit=50)
if not mine:
    st.caption("Nothing uploaded yet.")
else:
    frame = pd.DataFrame(
        {
            "Uploaded": [s.uploaded_at for s in mine],
            "Project": [s.project_name for s in mine],
            "File": [s.original_name for s in mine],
            "Type": [s.detected_mime for s in mine],
            "Size": [human_bytes(s.size_bytes) for s in mine],
            "Status": [s.status for s in mine],
            "Reason": [s.rejection_reason or "" for s in mine],
        }
    )
    st.dataframe(
        localize(frame, "Uploaded"),
        hide_index=True,
        column_config={"Uploaded": st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm z")},
    )
