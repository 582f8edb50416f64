"""Tags: the catalogue by category (create, edit), tagging projects, and tag analytics."""

import plotly.express as px
import streamlit as st

from dashboard.ui import (
    chart_text,
    csv_download,
    project_picker,
    reader,
    run_write,
    show_flash,
    signed_in_user,
)
from db.domain import projects, tags

st.title("Tags")
show_flash()

with reader() as conn:
    catalogue = tags.list_tags(conn)
    usage = tags.tag_usage(conn)
    taggable = projects.list_projects(conn, permission="can_tag")

tab_projects, tab_catalogue, tab_analytics = st.tabs(["Tag projects", "Catalogue", "Analytics"])

with tab_projects:
    if not taggable:
        st.info("Your roles do not let you tag any project (contributors and above can).")
    else:
        project = project_picker(taggable, key="tag-project")
        with reader() as conn:
            current = {t.id for t in tags.project_tags(conn, project_id=project.id)}
        labels = {t.id: f"{t.category} / {t.name}" for t in catalogue}
        with st.form("project-tags"):
            wanted = st.multiselect(
                "Tags of this project", list(labels), default=sorted(current), format_func=labels.get
            )
            if st.form_submit_button("Save tags", type="primary"):
                if set(wanted) == current:
                    st.info("Nothing changed.")
                elif run_write(
                    lambda conn: tags.set_project_tags(conn, project_id=project.id, tag_ids=wanted),
                    lambda changes: (
                        f"Tags of {project.name!r} saved: {len(changes.added)} added,"
                        f" {len(changes.removed)} removed."
                    ),
                ):
                    st.rerun()

with tab_catalogue:
    st.dataframe(
        [
            {"Category": t.category, "Tag": t.name, "Description": t.description, "Colour": t.color}
            for t in catalogue
        ],
        hide_index=True,
    )
    if not signed_in_user().is_admin:
        st.caption(
            "The catalogue is shared by every project, so administrators curate it: ask one to add or"
            " change a tag. Contributors and above tag their projects with it."
        )
    else:
        left, right = st.columns(2)
        with left, st.form("new-tag", clear_on_submit=True):
            st.markdown("**New tag**")
            name = st.text_input("Name", max_chars=60, key="tag-name")
            category = st.text_input("Category", max_chars=40, key="tag-category",
                                     help="Lowercase letters, digits, '-' or '_', e.g. team")  # fmt: skip
            description = st.text_input("Description", max_chars=500, key="tag-description")
            color = st.color_picker("Colour", "#2563eb", key="tag-color")
            if st.form_submit_button("Create tag"):
                if run_write(
                    lambda conn: tags.create_tag(
                        conn, name=name, category=category, description=description, color=color
                    ),
                    f"Tag {name.strip()!r} created in {category.strip().lower()!r}.",
                ):
                    st.rerun()
        with right, st.form("edit-tag"):
            st.markdown("**Edit a tag**")
            by_id = {t.id: t for t in catalogue}
            tag_id = st.selectbox(
                "Tag", list(by_id), format_func=lambda i: f"{by_id[i].category} / {by_id[i].name}"
            )
            new_name = st.text_input("New name (empty keeps it)", max_chars=60, key="edit-tag-name")
            new_description = st.text_input("New description (empty keeps it)", max_chars=500)
            if st.form_submit_button("Save tag"):
                if run_write(
                    lambda conn: tags.update_tag(
                        conn, tag_id=tag_id, name=new_name or None, description=new_description or None
                    ),
                    "Tag saved.",
                ):
                    st.rerun()

with tab_analytics:
    if usage.empty:
        st.info("No tags yet.")
    else:
        charted = usage.assign(tag=usage.tag.map(chart_text), category=usage.category.map(chart_text))
        figure = px.bar(charted, x="tag", y="projects", color="category", height=320,
                        hover_data=["documents"], title="Projects per tag")  # fmt: skip
        figure.update_layout(margin=dict(l=0, r=0, t=40, b=0))
        st.plotly_chart(figure, width="stretch")
        per_category = charted.groupby("category", as_index=False)[["projects", "documents"]].sum()
        figure = px.bar(per_category, x="category", y=["projects", "documents"], barmode="group",
                        height=300, title="Per category")  # fmt: skip
        figure.update_layout(margin=dict(l=0, r=0, t=40, b=0), legend_title_text="")
        st.plotly_chart(figure, width="stretch")
        st.dataframe(usage, hide_index=True)
        csv_download(usage, "tag-usage", key="tags-csv")
