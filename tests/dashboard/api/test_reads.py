"""dashboard/api/reads.py and app.py: projects (the onboarding summary), documents (the Documents
screen's filters), a document's bytes, the audit trail, keyset cursors, health and the documentation;
bad input is a 400 problem, never a 500."""

import hashlib
from datetime import UTC, datetime, timedelta

import pytest

from dashboard.api import cursors
from tests.conftest import bearer, make_token
from tests.pages.helpers import scalar

BUDGET = "Annual Budget"


@pytest.fixture
def reader(api):
    return bearer(make_token("reviewer@example.com"))


@pytest.fixture
def budget(api) -> int:
    return scalar("select id from projects.projects where name = :n", n=BUDGET)


def _all_pages(api, path: str, headers, limit: int) -> list[dict]:
    items, cursor = [], None
    for _ in range(1000):
        query = f"{'&' if '?' in path else '?'}limit={limit}" + (f"&cursor={cursor}" if cursor else "")
        page = api.get(path + query, headers=headers)
        assert page.status_code == 200, page.text
        items += page.json()["items"]
        cursor = page.json()["next_cursor"]
        if cursor is None:
            return items
    raise AssertionError("the cursor never ended")


def test_projects_are_the_onboarding_summary_rows_paged_by_name(api, reader):
    one_by_one = _all_pages(api, "/api/v1/projects", reader, 1)
    at_once = api.get("/api/v1/projects?limit=200", headers=reader).json()
    assert at_once["next_cursor"] is None and one_by_one == at_once["items"]
    assert [p["name"].lower() for p in one_by_one] == sorted(p["name"].lower() for p in one_by_one)
    assert len(one_by_one) == scalar("select count(*) from projects.projects where deleted_at is null")
    budget = next(p for p in one_by_one if p["name"] == BUDGET)
    assert budget["owner_login"] == "li@example.com" and set(budget["tags"]) == {"Finance", "Internal"}
    single = api.get(f"/api/v1/projects/{budget['id']}", headers=reader).json()
    assert single == budget


def test_documents_are_filtered_and_paged_as_on_the_documents_screen(api, reader, budget):
    path = f"/api/v1/projects/{budget}/documents"
    everything = _all_pages(api, path, reader, 5)
    assert len(everything) == scalar(
        "select count(*) from documents.documents where project_id = :p and deleted_at is null", p=budget
    )
    assert len({d["id"] for d in everything}) == len(everything)
    stamps = [(d["uploaded_at"], d["id"]) for d in everything]
    assert stamps == sorted(stamps, reverse=True)
    pdfs = _all_pages(api, path + "?mime_type=application/pdf", reader, 3)
    assert pdfs and all(d["mime_type"] == "application/pdf" for d in pdfs)
    named = api.get(path + "?q=BRIEF", headers=reader).json()["items"]
    assert named and all("brief" in d["name"].lower() for d in named)
    assert api.get(path + "?q=%25", headers=reader).json()["items"] == []  # a wildcard is a character
    later = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    assert api.get(path, params={"uploaded_from": later}, headers=reader).json()["items"] == []
    first = everything[0]
    document = api.get(f"/api/v1/documents/{first['id']}", headers=reader).json()
    assert document == first and document["content_url"] == f"/api/v1/documents/{first['id']}/content"


def test_a_documents_bytes_are_streamed_and_the_download_is_audited_with_the_token(api, budget):
    secret = make_token("viewer@example.com", name="downloader")
    doc = scalar("select min(id) from documents.documents where project_id = :p", p=budget)
    response = api.get(f"/api/v1/documents/{doc}/content", headers=bearer(secret))
    assert response.status_code == 200
    assert hashlib.sha256(response.content).hexdigest() == scalar(
        "select checksum from documents.documents where id = :d", d=doc
    )
    assert response.headers["content-disposition"].startswith("attachment;")
    assert response.headers["x-content-type-options"] == "nosniff"
    recorded = scalar(
        "select context from audit.audit_log where action = 'download' and record_id = :d"
        " order by id desc limit 1",
        d=str(doc),
    )
    assert recorded["token"] == "downloader" and recorded["kind"] == "document"
    inline = api.get(f"/api/v1/documents/{doc}/content?inline=true", headers=bearer(secret))
    assert inline.headers["content-disposition"].startswith("inline;")


def test_on_s3_the_content_is_a_redirect_to_a_presigned_url(demo_s3_env):
    from starlette.testclient import TestClient

    from dashboard.api.app import standalone

    secret = make_token("viewer@example.com")
    doc = scalar("select min(id) from documents.documents")
    with TestClient(standalone, base_url="http://testserver") as client:
        path = f"/api/v1/documents/{doc}/content"
        response = client.get(path, headers=bearer(secret), follow_redirects=False)
    assert response.status_code == 303
    location = response.headers["location"]
    assert "X-Amz-Signature=" in location and "X-Amz-Expires=300" in location


def test_the_audit_trail_is_filtered_and_paged(api, reader, budget):
    path = f"/api/v1/projects/{budget}/audit"
    rows = _all_pages(api, path + "?table_name=documents", reader, 7)
    assert rows and all(r["table_name"] == "documents" for r in rows)
    assert len(rows) == scalar(
        "select count(*) from audit.audit_log where project_id = :p and table_name = 'documents'", p=budget
    )
    stamps = [(r["timestamp"], r["id"]) for r in rows]
    assert stamps == sorted(stamps, reverse=True)
    inserts = api.get(path + "?action=insert&limit=200", headers=reader).json()["items"]
    assert inserts and {r["action"] for r in inserts} == {"insert"}


@pytest.mark.parametrize(
    "query",
    [
        "limit=0", "limit=201", "limit=abc", "limit=99999999999999999999999", "cursor=not-a-cursor",
        "cursor=" + cursors.encode("x", "y"), "cursor=" + "A" * 1001, "cursor=%00", "uploaded_from=yesterday",
        "tag_id=1e400", "uploaded_by=-99999999999999999999999", "q=" + "x" * 201, "q=%00",
        "mime_type=" + "é" * 201,
    ],
)  # fmt: skip
def test_bad_query_parameters_are_a_400_problem_never_a_500(api, reader, budget, query):
    response = api.get(f"/api/v1/projects/{budget}/documents?{query}", headers=reader)
    assert response.status_code == 400, response.text
    assert response.headers["content-type"] == "application/problem+json" and response.json()["detail"]


@pytest.mark.parametrize("value", ["0", "-1", "9223372036854775808", "9" * 30, "1.5", "%20"])
def test_ids_that_cannot_be_are_a_404_or_400_never_a_500(api, reader, value):
    for path in (f"/api/v1/projects/{value}", f"/api/v1/documents/{value}", f"/api/v1/staged/{value}",
                 f"/api/v1/documents/{value}/content", f"/api/v1/projects/{value}/audit"):  # fmt: skip
        response = api.get(path, headers=reader)
        assert response.status_code in (400, 404), (path, response.status_code, response.text)


def test_health_says_whether_the_database_and_the_store_answer(api, monkeypatch, tmp_path):
    from db.core.settings import get_settings

    assert api.get("/api/v1/health").json() == {"status": "ok", "database": "ok", "storage": "ok"}
    blocked = tmp_path / "file-not-folder"
    blocked.write_text("x")
    monkeypatch.setenv("PROSYNC_STORAGE_DIR", str(blocked))
    get_settings.cache_clear()
    try:
        response = api.get("/api/v1/health")
    finally:
        get_settings.cache_clear()
    assert response.status_code == 503 and response.json()["storage"] == "unavailable"


def test_the_openapi_document_and_its_page_describe_every_endpoint(api):
    spec = api.get("/api/v1/openapi.json").json()
    assert spec["servers"] == [{"url": "/api/v1"}]
    assert spec["components"]["securitySchemes"]["PersonalAccessToken"]["scheme"] == "bearer"
    for path, methods in spec["paths"].items():
        for method, op in methods.items():
            assert op.get("summary"), (method, path)
            for parameter in op.get("parameters", []):
                described = parameter.get("description") or parameter["schema"].get("description")
                assert described, (path, parameter)
            assert "422" not in op["responses"], (method, path)  # refused input is a 400 problem here
            if path != "/health":
                assert {"401", "429"} <= set(op["responses"]), (method, path)
                assert op["responses"]["401"]["content"].get("application/problem+json") is not None
    upload = spec["paths"]["/projects/{project_id}/uploads"]["post"]
    assert "multipart/form-data" in upload["requestBody"]["content"]
    page = api.get("/api/v1/docs")
    assert page.status_code == 200 and "<script" not in page.text
    for path in spec["paths"]:
        assert f"/api/v1{path}" in page.text


@pytest.mark.parametrize(
    "query",
    [
        "mime_type=%00",
        "q=%ED%A0%80",
        "cursor=" + cursors.encode("\x00", 1),
        "cursor=" + cursors.encode("\ud800", 1),
    ],
)
def test_nul_and_surrogates_in_filters_and_cursors_are_a_400(api, reader, budget, query):
    for path in (f"/api/v1/projects/{budget}/documents?{query}", f"/api/v1/projects?{query}"):
        response = api.get(path, headers=reader)
        assert response.status_code in (200, 400), (path, response.text)
        if "cursor" in query or (query == "mime_type=%00" and "documents" in path):
            assert response.status_code == 400, path


def test_the_trail_names_the_token_to_readers_and_shows_addresses_to_managers_only(api, budget):
    viewer = make_token("viewer@example.com", name="viewer download")
    doc = scalar("select min(id) from documents.documents where project_id = :p", p=budget)
    api.get(f"/api/v1/documents/{doc}/content", headers=bearer(viewer))
    rows = api.get(f"/api/v1/projects/{budget}/audit?action=download&limit=5", headers=bearer(viewer)).json()
    mine = next(r for r in rows["items"] if (r["context"] or {}).get("token") == "viewer download")
    assert mine["context"] == {"token": "viewer download"}  # no address, no browser


def _matching(login: str, word: str, where: str = "true", **params) -> set[int]:
    """Active documents of live projects `login` belongs to whose stored text holds `word` (the
    test's own SQL, as the owner), and meet `where`."""
    rows = scalar(
        "select coalesce(array_agg(t.document_id), '{}') from documents.document_text t"
        " join documents.documents d on d.id = t.document_id and d.deleted_at is null"
        " join projects.projects p on p.id = d.project_id and p.deleted_at is null"
        " join projects.project_access a on a.project_id = p.id"
        " join users.users u on u.id = a.user_id and u.login = :login"
        " where t.search_vector @@ plainto_tsquery('english', :word) and " + where,
        login=login,
        word=word,
        **params,
    )
    return set(rows)


def test_search_finds_words_inside_the_files_of_the_callers_projects_ranked_with_snippets(api, reader):
    everything = _all_pages(api, "/api/v1/search?q=invoice", reader, 3)
    expected = _matching("reviewer@example.com", "invoice")
    assert expected and {hit["document"]["id"] for hit in everything} == expected
    assert len(everything) == len(expected), "each document once across the pages"
    ranks = [hit["rank"] for hit in everything]
    assert ranks == sorted(ranks, reverse=True)
    for hit in everything:
        matched = [part["text"] for part in hit["snippet"] if part["match"]]
        assert matched and all(word.lower().startswith("invoice") for word in matched), hit["snippet"]
    narrowed = bearer(make_token("reviewer@example.com", projects=[BUDGET]))
    only_budget = {
        hit["document"]["id"] for hit in _all_pages(api, "/api/v1/search?q=invoice", narrowed, 100)
    }
    assert only_budget == _matching("reviewer@example.com", "invoice", "p.name = :n", n=BUDGET)


def test_search_combines_with_the_filters_and_hides_projects_the_caller_may_not_see(api, reader, budget):
    def ids(query: str, headers=reader) -> set[int]:
        return {
            hit["document"]["id"]
            for hit in _all_pages(api, f"/api/v1/search?q=invoice&{query}", headers, 100)
        }

    pdfs = _matching("reviewer@example.com", "invoice", "d.mime_type = 'application/pdf'")
    assert pdfs and ids("mime_type=application/pdf") == pdfs
    in_budget = _matching("reviewer@example.com", "invoice", "d.project_id = :p", p=budget)
    assert in_budget and ids(f"project_id={budget}") == in_budget
    other = scalar(
        "select min(p.id) from projects.projects p join documents.document_text t on t.project_id = p.id"
        " where p.id <> :p and p.deleted_at is null",
        p=budget,
    )
    narrowed = bearer(make_token("reviewer@example.com", projects=[BUDGET]))
    response = api.get(f"/api/v1/search?q=invoice&project_id={other}", headers=narrowed)
    assert response.status_code == 404 and response.headers["content-type"] == "application/problem+json"
    assert api.get(f"/api/v1/search?q=invoice&project_id={other}", headers=reader).status_code == 200


@pytest.mark.parametrize(
    ("query", "detail"),
    [
        ("q=the+and+of", "as common as 'the'"),
        ("q=", ""),
        ("q=" + "x" * 501, ""),
        ("q=invoice&limit=101", ""),
        ("q=invoice&cursor=" + cursors.encode("high", 1), ""),
        ("q=invoice&cursor=" + cursors.encode(1.5, "x"), ""),
        ("q=invoice&uploaded_from=yesterday", ""),
        ("q=%00", ""),
    ],
)
def test_a_search_that_cannot_be_made_is_a_400_problem_that_says_why(api, reader, query, detail):
    response = api.get(f"/api/v1/search?{query}", headers=reader)
    assert response.status_code == 400, response.text
    assert (
        response.headers["content-type"] == "application/problem+json" and detail in response.json()["detail"]
    )


def test_search_needs_a_token_with_the_read_scope(api):
    assert api.get("/api/v1/search?q=invoice").status_code == 401
    upload_only = bearer(make_token("reviewer@example.com", scopes=("upload",)))
    assert api.get("/api/v1/search?q=invoice", headers=upload_only).status_code == 403
