"""db.domain.search: search inside files over what the acting user may see (ranked, filtered, in
keyset pages, with snippets), the queue of documents waiting for their text, and the stored text's
own guarantees (row-level security, audit without the text, the index used)."""

import pytest
from sqlalchemy import text

from db.core.errors import InvalidInput, NotFound, PermissionDenied
from db.domain import documents, projects, search
from tests.conftest import acting, count, make_document, make_project, make_staged, make_user, plan_indexes


def stored(conn, doc, body: str, *, as_user=None, failure: str | None = None):
    """`doc` with its text stored, as the indexer stores it (as the approver, or the command line)."""
    with acting(conn, as_user):
        search.store_text(conn, document=doc, body=body, failure=failure)
    return doc


def claimed(conn, *, made_by_users: bool) -> list[int]:
    return [d for d, _ in search.claim_text_work(conn, limit=100, seconds=60, made_by_users=made_by_users)]


def found(conn, user, query: str, **filters) -> list[int]:
    with acting(conn, user):
        return [hit.document.id for hit in search.search_documents(conn, query=query, **filters).rows]


def test_a_search_finds_words_only_in_the_projects_one_may_see(conn):
    alice, bob, stranger = make_user(conn), make_user(conn), make_user(conn)
    admin = make_user(conn, roles=("admin",))
    mine = make_project(conn, owner=alice, members=[(bob, "viewer")])
    theirs = make_project(conn, owner=stranger)
    a = stored(conn, make_document(conn, project=mine, uploader=alice), "the turbine bearing report")
    b = stored(conn, make_document(conn, project=theirs, uploader=stranger), "turbine bearings replaced")
    assert found(conn, alice, "turbine") == found(conn, bob, "turbine") == [a.id]
    assert found(conn, stranger, "bearing") == [b.id]
    assert set(found(conn, admin, "turbine")) == {a.id, b.id}
    assert found(conn, make_user(conn), "turbine") == []
    with acting(conn, bob), pytest.raises((PermissionDenied, NotFound)):
        search.search_documents(conn, query="turbine", project_id=theirs.id)


def test_results_are_ranked_and_take_web_search_syntax(conn):
    owner = make_user(conn)
    project = make_project(conn, owner=owner)
    once = stored(conn, make_document(conn, project=project, uploader=owner), "the pump failed in March")
    often_text = "pump pressure: the pump and the pump seal"
    often = stored(conn, make_document(conn, project=project, uploader=owner), often_text)
    other = stored(conn, make_document(conn, project=project, uploader=owner), "valve seal inspected")
    assert found(conn, owner, "pump") == [often.id, once.id], "more occurrences rank higher"
    assert found(conn, owner, "pumps") == [often.id, once.id], "the language's stems match"
    assert found(conn, owner, '"pump failed"') == [once.id]
    assert found(conn, owner, "seal -pump") == [other.id]
    assert set(found(conn, owner, "march or valve")) == {once.id, other.id}


def test_a_search_combines_with_the_documents_filters_and_leaves_out_the_trash(conn):
    owner, helper = make_user(conn), make_user(conn)
    project = make_project(conn, owner=owner, members=[(helper, "contributor")])
    other = make_project(conn, owner=owner)
    by_owner = stored(conn, make_document(conn, project=project, uploader=owner), "quarterly invoice")
    by_helper = stored(
        conn, make_document(conn, project=project, uploader=helper, reviewer=owner), "quarterly invoice"
    )
    elsewhere = stored(conn, make_document(conn, project=other, uploader=owner), "quarterly invoice")
    trashed = stored(conn, make_document(conn, project=project, uploader=owner), "quarterly invoice")
    with acting(conn, owner):
        documents.soft_delete_document(conn, document_id=trashed.id)
    assert set(found(conn, owner, "invoice")) == {by_owner.id, by_helper.id, elsewhere.id}
    assert set(found(conn, owner, "invoice", project_id=project.id)) == {by_owner.id, by_helper.id}
    assert found(conn, owner, "invoice", uploaded_by=helper.id) == [by_helper.id]
    assert found(conn, owner, "invoice", name_contains=by_owner.name[-8:]) == [by_owner.id]
    assert found(conn, owner, "invoice", mime_type="text/plain") == []
    with acting(conn, owner):
        projects.soft_delete_project(conn, project_id=other.id)
    assert elsewhere.id not in found(conn, owner, "invoice"), "a deleted project's documents are not searched"


def test_a_search_of_nothing_or_of_only_common_words_is_refused_with_a_message(conn):
    owner = make_user(conn)
    with acting(conn, owner):
        with pytest.raises(InvalidInput, match="one or more words"):
            search.search_documents(conn, query="   ")
        with pytest.raises(InvalidInput, match="as common as 'the'"):
            search.search_documents(conn, query="the and of")
        with pytest.raises(InvalidInput, match="at most 500"):
            search.search_documents(conn, query="x" * 501)
        with pytest.raises(InvalidInput, match="1 to 100 rows"):
            search.search_documents(conn, query="pump", limit=101)
        # punctuation and operators alone are not an error of the database's
        with pytest.raises(InvalidInput):
            search.search_documents(conn, query='"" - or :*')


def test_keyset_pages_cover_every_match_once_and_say_when_the_matches_were_capped(conn, monkeypatch):
    owner = make_user(conn)
    project = make_project(conn, owner=owner)
    docs = [
        stored(conn, make_document(conn, project=project, uploader=owner), "gasket " * (1 + i % 3))
        for i in range(7)
    ]
    seen, after = [], None
    with acting(conn, owner):
        while True:
            page = search.search_documents(conn, query="gasket", project_id=project.id, after=after, limit=3)
            seen += [(hit.rank, hit.document.id) for hit in page.rows]
            if page.next is None:
                break
            after = page.next
    assert sorted(i for _, i in seen) == sorted(d.id for d in docs)
    assert seen == sorted(seen, reverse=True), "best first, then newest"
    assert not page.capped
    monkeypatch.setattr(search, "CANDIDATES", 4)
    with acting(conn, owner):
        page = search.search_documents(conn, query="gasket", project_id=project.id, limit=10)
    assert page.capped and {h.document.id for h in page.rows} == {d.id for d in docs[-4:]}, "the newest four"


def test_a_snippet_marks_the_matched_words_and_a_stored_text_cannot_forge_a_mark(conn):
    owner = make_user(conn)
    project = make_project(conn, owner=owner)
    body = "Intro.\x01fake\x02 The compressor <b>overheated</b> on **Monday** after the compressor reset."
    doc = stored(conn, make_document(conn, project=project, uploader=owner), body)
    with acting(conn, owner):
        [hit] = search.search_documents(conn, query="compressor").rows
    parts = search.snippet_parts(hit.snippet)
    assert [p for p, matched in parts if matched] == ["compressor", "compressor"]
    assert "fake" not in [p for p, matched in parts if matched], "control characters are stored as spaces"
    shown = "".join(p for p, _ in parts)
    assert "on **Monday** after" in shown, "the text as it is (Markdown is the screens' to escape)"
    assert "<b>" not in shown, "what the text parser takes for an HTML tag is left out (ts_headline)"
    assert hit.document.id == doc.id and hit.rank > 0


def test_text_is_capped_and_its_state_is_told(conn):
    owner = make_user(conn)
    project = make_project(conn, owner=owner)
    waiting = make_document(conn, project=project, uploader=owner)
    long = stored(conn, make_document(conn, project=project, uploader=owner), "word " * 100_000)
    none = stored(conn, make_document(conn, project=project, uploader=owner), "", failure="no text is read")
    with acting(conn, owner):
        assert search.text_state(conn, document_id=waiting.id) == search.TextState("waiting")
        assert search.text_state(conn, document_id=long.id) == search.TextState("extracted", search.MAX_CHARS)
        assert search.text_state(conn, document_id=none.id) == search.TextState("none", 0, "no text is read")


def test_a_new_document_is_queued_as_its_approver_and_claimed_by_one_indexer_at_a_time(conn):
    owner, reviewer = make_user(conn), make_user(conn)
    project = make_project(conn, owner=owner, members=[(reviewer, "reviewer")])
    doc = make_document(conn, project=project, uploader=owner, reviewer=reviewer)
    queued = count(conn, "select queued_by from documents.text_queue where document_id = :d", d=doc.id)
    assert queued == reviewer.id
    with acting(conn, reviewer), pytest.raises(Exception, match="only a text indexer"):
        search.claim_text_work(conn, limit=100, seconds=60, made_by_users=True)
    with acting(conn, None, app=True):  # the dashboard's indexer: the application, acting for nobody
        mine = search.claim_text_work(conn, limit=100, seconds=60, made_by_users=True)
        assert (doc.id, reviewer.id) in mine
        again = search.claim_text_work(conn, limit=100, seconds=60, made_by_users=True)
        assert doc.id not in [d for d, _ in again], "held by the first claim"
    conn.execute(
        text("update documents.text_queue set claimed_until = now() - interval '1 s', attempts = 5"
             " where document_id = :d"), {"d": doc.id},
    )  # fmt: skip
    with acting(conn, None, app=True):
        assert doc.id not in claimed(conn, made_by_users=True)
    with acting(conn, None):
        assert search.queue_missing_text(conn, project_id=project.id) == 1, "five failures: tried again"
        assert doc.id in claimed(conn, made_by_users=False)
    stored(conn, doc, "done", as_user=reviewer)
    assert count(conn, "select count(*) from documents.text_queue where document_id = :d", d=doc.id) == 0


def test_the_command_lines_documents_are_left_to_the_command_line(conn):
    owner = make_user(conn)
    project = make_project(conn, owner=owner)
    staged = make_staged(conn, project=project, uploader=owner)
    with acting(conn, None):
        from tests.conftest import approve_staged

        doc = approve_staged(conn, ingest_id=staged.id)
        assert doc.id not in claimed(conn, made_by_users=True)
        assert (doc.id, None) in search.claim_text_work(conn, limit=100, seconds=60, made_by_users=False)


def test_only_those_who_may_review_store_a_text_and_the_audit_records_it_without_the_text(conn):
    owner, viewer = make_user(conn), make_user(conn)
    project = make_project(conn, owner=owner, members=[(viewer, "viewer")])
    doc = make_document(conn, project=project, uploader=owner)
    with acting(conn, viewer), pytest.raises(Exception, match="row-level security|permission"):
        search.store_text(conn, document=doc, body="forged words", failure=None)
    assert count(conn, "select count(*) from documents.document_text where document_id = :d", d=doc.id) == 0
    stored(conn, doc, "secret figures 4711", as_user=owner)
    audited = conn.execute(
        text(
            "select actor_id, new_values::text from audit.audit_log"
            " where table_name = 'document_text' and record_id = :d"
        ),
        {"d": str(doc.id)},
    ).one()
    assert audited.actor_id == owner.id
    assert "4711" not in audited.new_values and "secret" not in audited.new_values


def test_a_documents_text_goes_with_the_document(conn):
    owner = make_user(conn)
    project = make_project(conn, owner=owner)
    doc = stored(conn, make_document(conn, project=project, uploader=owner), "flange")
    with acting(conn, None):
        conn.execute(text("delete from documents.document_registry where id = :d"), {"d": doc.id})
    assert count(conn, "select count(*) from documents.document_text where document_id = :d", d=doc.id) == 0


def test_a_search_as_the_application_uses_the_text_index(conn):
    owner = make_user(conn)
    project = make_project(conn, owner=owner)
    stored(conn, make_document(conn, project=project, uploader=owner), "impeller")
    with acting(conn, owner):
        used = plan_indexes(
            conn,
            "select document_id from documents.document_text"
            " where search_vector @@ websearch_to_tsquery('english', 'impeller')",
        )
    assert "document_text_search_idx" in used


def test_the_language_is_the_installations_and_an_unknown_one_falls_back_to_simple(conn, monkeypatch):
    from db.core.settings import get_settings

    owner = make_user(conn)
    project = make_project(conn, owner=owner)
    monkeypatch.setenv("PROSYNC_TEXT_SEARCH_LANGUAGE", "klingon")
    get_settings.cache_clear()
    try:
        with acting(conn, owner):
            assert search.language(conn) == "simple"
        doc = stored(conn, make_document(conn, project=project, uploader=owner), "The pumps were running")
        assert found(conn, owner, "pumps") == [doc.id] and found(conn, owner, "pump") == [], "no stems"
        assert found(conn, owner, "the") == [doc.id], "simple has no stop words"
        monkeypatch.setenv("PROSYNC_TEXT_SEARCH_LANGUAGE", "english")
        get_settings.cache_clear()
        with acting(conn, None):
            assert search.relanguage(conn) >= 1
        assert found(conn, owner, "pump") == [doc.id], "the words taken again with english stems"
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()


def test_a_document_filter_few_matches_pass_is_answered_past_the_walk(conn, monkeypatch):
    """The walk newest first gives up after WALK matches and asks for the whole answer at once: the
    helper's two older documents are found behind the owner's newer ones all the same."""
    owner, helper = make_user(conn), make_user(conn)
    project = make_project(conn, owner=owner, members=[(helper, "contributor")])
    helpers = [
        stored(conn, make_document(conn, project=project, uploader=helper, reviewer=owner), "gasket")
        for _ in range(2)
    ]
    for _ in range(6):
        stored(conn, make_document(conn, project=project, uploader=owner), "gasket")
    monkeypatch.setattr(search, "CANDIDATES", 2)
    monkeypatch.setattr(search, "WALK", 3)
    with acting(conn, owner):
        page = search.search_documents(conn, query="gasket", uploaded_by=helper.id)
    assert {hit.document.id for hit in page.rows} == {d.id for d in helpers} and not page.capped
    with acting(conn, owner):
        page = search.search_documents(conn, query="gasket", project_id=project.id)
    assert len(page.rows) == 2 and page.capped, "eight match, the newest two are ranked"


def test_a_trashed_projects_documents_wait_for_its_restore_without_spending_their_tries(conn):
    """No one may read a trashed project's documents, their approver included: the indexer leaves
    them queued (a try spent on each would park them for `prosync reindex-text` for good)."""
    owner = make_user(conn)
    project = make_project(conn, owner=owner)
    doc = make_document(conn, project=project, uploader=owner)
    with acting(conn, owner):
        projects.soft_delete_project(conn, project_id=project.id)
    with acting(conn, None, app=True):
        assert doc.id not in claimed(conn, made_by_users=True)
    assert count(conn, "select attempts from documents.text_queue where document_id = :d", d=doc.id) == 0
    with acting(conn, owner):
        projects.restore_project(conn, project_id=project.id)
    with acting(conn, None, app=True):
        assert doc.id in claimed(conn, made_by_users=True)
