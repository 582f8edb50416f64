"""The documents page: filters, keyset pages, detail with preview, soft delete and restore."""

from tests.pages.helpers import by_label, run_page, scalar


def test_renders_for_every_role_without_exception(demo_env):
    for login in ("admin@example.com", "lead@example.com", "reviewer@example.com",
                  "contributor@example.com", "viewer@example.com", "ops@example.com"):  # fmt: skip
        at = run_page("documents", login)
        assert not at.exception, login


def test_pages_forward_and_back_without_repeating_a_document(demo_env):
    at = run_page("documents", "viewer@example.com")
    first = list(at.dataframe[0].value["Name"])
    assert len(first) == 25
    by_label(at.button, "Next page").click()
    at.run()
    second = list(at.dataframe[0].value["Name"])
    assert second and not set(first) & set(second)
    by_label(at.button, "Previous page").click()
    at.run()
    assert list(at.dataframe[0].value["Name"]) == first


def test_filters_narrow_the_list(demo_env):
    at = run_page("documents", "viewer@example.com")
    by_label(at.selectbox, "File type").set_value("image/png")
    at.run()
    assert set(at.dataframe[0].value["Type"]) == {"image/png"}
    by_label(at.text_input, "Name contains").input("no-such-file-anywhere")
    at.run()
    assert at.info[0].value == "No documents match these filters."


def test_detail_shows_history_and_a_text_preview(demo_env):
    doc = scalar(
        "select id from documents.active_documents where mime_type = 'text/plain' order by id limit 1"
    )
    at = run_page("documents", "viewer@example.com", query={"document": str(doc)})
    assert not at.exception
    assert any("Meeting notes" in c.value for c in at.code)
    assert not [b for b in at.button if b.label == "Delete document"]  # viewers cannot delete


def test_lead_deletes_with_confirmation_and_restores_from_the_trash(demo_rw_env):
    doc, project = (
        scalar(
            "select id from documents.active_documents where project_name = 'Data Platform'"
            " order by id limit 1"
        ),
        scalar("select id from projects.projects where name = 'Data Platform'"),
    )
    at = run_page("documents", "lead@example.com", query={"document": str(doc)})
    delete = by_label(at.button, "Delete document")
    assert delete.disabled
    at.checkbox(key=f"confirm-{doc}").check()
    at.run()
    by_label(at.button, "Delete document").click()
    at.run()
    assert not at.error
    assert scalar("select deleted_at is not null from documents.documents where id = :d", d=doc)
    at = run_page("documents", "lead@example.com")
    by_label(at.selectbox, "Project").set_value(None)
    at.selectbox(key="trash-project").set_value(project)
    at.run()
    at.button(key=f"restore-doc-{doc}").click()
    at.run()
    assert scalar("select deleted_at is null from documents.documents where id = :d", d=doc)
    assert (
        scalar(
            "select count(*) from documents.document_history where document_id = :d"
            " and operation in ('soft_delete', 'restore')",
            d=doc,
        )
        == 2
    )


def test_on_s3_an_image_preview_is_a_presigned_url_the_browser_loads(demo_s3_env):
    doc = scalar(
        "select id from documents.active_documents where mime_type = 'image/png' order by id limit 1"
    )
    at = run_page("documents", "viewer@example.com", query={"document": str(doc)})
    assert not at.exception
    urls = [img.url for element in at.get("image") for img in element.proto.imgs]
    assert urls and all("X-Amz-Signature=" in u and "/demo/" in u for u in urls)


def _viewer_matches(word: str) -> set[str]:
    return set(
        scalar(
            "select coalesce(array_agg(d.name), '{}') from documents.document_text t"
            " join documents.active_documents d on d.id = t.document_id"
            " join projects.project_access a on a.project_id = d.project_id"
            " join users.users u on u.id = a.user_id and u.login = 'viewer@example.com'"
            " where t.search_vector @@ plainto_tsquery('english', :w)",
            w=word,
        )
    )


def test_a_search_inside_the_files_lists_the_matches_best_first_with_where_they_occur(demo_env):
    at = run_page("documents", "viewer@example.com")
    by_label(at.text_input, "Search inside the files").input("invoice")
    at.run()
    assert not at.exception
    frame = at.dataframe[0].value
    expected = _viewer_matches("invoice")
    assert expected and set(frame["Name"]) <= expected
    assert len(frame) == min(25, len(expected))
    assert all("«invoice»" in match for match in frame["Match"])
    assert any("best match first" in c.value for c in at.caption)
    by_label(at.selectbox, "File type").set_value("application/pdf")
    at.run()
    assert set(at.dataframe[0].value["Type"]) == {"application/pdf"}
    by_label(at.text_input, "Search inside the files").input("the and of")
    at.run()
    assert "are not indexed" in at.warning[0].value and not at.dataframe


def test_a_documents_text_is_shown_as_text_in_its_snippet(demo_rw_env):
    """A file whose text is Markdown, HTML and Streamlit's directives, approved and read by the
    indexer: its snippet in the detail view holds them escaped, the matched word alone in bold."""
    import secrets
    from functools import partial
    from io import BytesIO

    from db.core.engine import system_transaction, transaction
    from db.files import fulltext, ingest
    from tests.pages.helpers import RICH

    word = "zq" + secrets.token_hex(4)
    lead = scalar("select id from users.users where login = 'lead@example.com'")
    project = scalar("select id from projects.projects where name = 'Data Platform'")
    unit = partial(transaction, actor_id=lead)
    staged = ingest.stage_file(
        unit, project_id=project, name=f"{word}.md", stream=BytesIO(f"# Notes\n\n{word} {RICH}\n".encode())
    ).staged
    document = ingest.approve_file(unit, ingest_id=staged.id).document
    fulltext.index_all(system_transaction, fulltext.as_approvers())
    at = run_page("documents", "lead@example.com", query={"document": str(document.id)})
    assert "characters" in next(m.value for m in at.markdown if "Text for search" in m.value)
    by_label(at.text_input, "Search inside the files").input(word)
    at.run()
    assert not at.exception and list(at.dataframe[0].value["Name"]) == [f"{word}.md"]
    [snippet] = [m.value for m in at.markdown if f"**{word}**" in m.value]
    for raw in ("**bold**", "![t]", "[link](", ":red[", "$x^2$", "<b>", "<a href"):
        assert raw not in snippet, (raw, snippet)
    assert "\\*\\*bold\\*\\*" in snippet
