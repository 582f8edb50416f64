"""dashboard/api/security.py and problems.py: every route but /health wants a live token; a token
can do at most what its user can, narrowed to its projects and scopes; what it may not see is a
404 indistinguishable from what does not exist; errors are problem details; rate limits are 429."""

import pytest
from sqlalchemy import text

from db.core.engine import acting_as, system_transaction
from db.domain import tokens, users
from tests.conftest import bearer, make_token
from tests.pages.helpers import scalar

BUDGET = "Annual Budget"


def _id(sql: str, **params) -> int:
    return scalar(sql, **params)


def _routes(ids: dict[str, int]) -> list[tuple[str, str]]:
    p, d, s = ids["project"], ids["document"], ids["staged"]
    return [
        ("get", "/api/v1/projects"),
        ("get", f"/api/v1/projects/{p}"),
        ("get", f"/api/v1/projects/{p}/documents"),
        ("get", f"/api/v1/documents/{d}"),
        ("get", f"/api/v1/documents/{d}/content"),
        ("get", f"/api/v1/projects/{p}/audit"),
        ("get", f"/api/v1/search?q=invoice&project_id={p}"),
        ("post", f"/api/v1/projects/{p}/uploads"),
        ("get", f"/api/v1/staged/{s}"),
        ("get", f"/api/v1/projects/{p}/staged"),
        ("post", f"/api/v1/staged/{s}/approve"),
        ("post", f"/api/v1/staged/{s}/reject"),
        ("post", f"/api/v1/projects/{p}/staged/approve"),
    ]


@pytest.fixture
def ids(api):
    project = _id("select id from projects.projects where name = :n", n=BUDGET)
    return {
        "project": project,
        "document": _id("select min(id) from documents.documents where project_id = :p", p=project),
        "staged": _id("select min(id) from staging.documents_ingest where project_id = :p", p=project),
    }


def test_every_route_but_health_wants_a_token_and_says_so_as_a_problem(api, ids):
    assert api.get("/api/v1/health").status_code == 200
    spec = api.get("/api/v1/openapi.json").json()
    assert len(_routes(ids)) == sum(len(m) for p, m in spec["paths"].items() if p != "/health")
    for method, path in _routes(ids):
        basic = {"Authorization": "Basic dXNlcjpwYXNz"}
        for headers in ({}, basic, bearer("psy_" + "x" * 43), bearer("nope")):
            response = getattr(api, method)(path, headers=headers)
            assert response.status_code == 401, (method, path, headers)
            assert response.headers["content-type"] == "application/problem+json"
            assert response.headers["www-authenticate"].startswith("Bearer")
            body = response.json()
            assert body["status"] == 401 and body["title"] == "Not authenticated" and body["detail"]


def _token_user(secret: str) -> int:
    return scalar("select user_id from auth.api_tokens where token_hash = sha256(:s)", s=secret.encode())


@pytest.mark.parametrize("how", ["expired", "revoked", "deactivated", "password reset"])
def test_an_ended_token_is_refused_with_the_reason_on_every_route(api, ids, how):
    with system_transaction() as conn:
        login = f"ended-{how.replace(' ', '-')}@example.com"
        user = users.create_user(conn, login=login, display_name="Ended", password="a long passphrase 12")
        conn.execute(
            text(
                "insert into projects.project_access (project_id, user_id, role)"
                " select id, :u, 'viewer' from projects.projects where name = :n"
            ),
            {"u": user.id, "n": BUDGET},
        )
    secret = make_token(login)
    assert api.get("/api/v1/projects", headers=bearer(secret)).status_code == 200
    with system_transaction() as conn:
        if how == "expired":
            # Back in time, past the guard that keeps a token's expiry fixed (this test's own change).
            conn.execute(text("set local session_replication_role = replica"))
            conn.execute(
                text(
                    "update auth.api_tokens set created_at = now() - interval '3 days', last_used_at = null,"
                    " expires_at = now() - interval '1 second' where user_id = :u"
                ),
                {"u": user.id},
            )
            conn.execute(
                text("update users.users set password_changed_at = now() - interval '4 days' where id = :u"),
                {"u": user.id},
            )
        elif how == "revoked":
            with acting_as(conn, user.id):
                for t in tokens.list_tokens(conn):
                    tokens.revoke_token(conn, token_id=t.id)
        elif how == "deactivated":
            users.deactivate_user(conn, user_id=user.id)
        else:
            users.set_password(conn, user_id=user.id, password="another long passphrase 34")
    expected = {"expired": "expired", "revoked": "revoked", "deactivated": "not active"}.get(how, "revoked")
    for method, path in _routes(ids):
        response = getattr(api, method)(path, headers=bearer(secret))
        assert response.status_code == 401, (method, path)
        assert expected in response.json()["detail"]


def test_a_scope_the_token_lacks_is_a_403_before_anything_is_looked_up(api, ids):
    read_only, upload_only = make_token("lead@example.com"), make_token("lead@example.com", scopes=["upload"])
    p, s = ids["project"], ids["staged"]
    cases = [
        (read_only, "post", f"/api/v1/projects/{p}/uploads", "upload"),
        (read_only, "post", f"/api/v1/staged/{s}/approve", "review"),
        (read_only, "post", "/api/v1/staged/999999999/reject", "review"),
        (read_only, "get", f"/api/v1/projects/{p}/staged", "review"),
        (upload_only, "get", "/api/v1/projects", "read"),
        (upload_only, "get", "/api/v1/documents/999999999", "read"),
    ]
    for secret, method, path, scope in cases:
        response = getattr(api, method)(path, headers=bearer(secret))
        assert response.status_code == 403, (method, path)
        assert f"the {scope} scope" in response.json()["detail"]
    assert scalar("select status from staging.documents_ingest where id = :s", s=s) == "pending"


def test_a_role_that_does_not_allow_it_is_a_403_with_the_screens_words(api, ids):
    viewer = make_token("viewer@example.com", scopes=["read", "upload", "review"])
    p, s = ids["project"], ids["staged"]
    upload = api.post(
        f"/api/v1/projects/{p}/uploads", headers=bearer(viewer), files=[("files", ("a.txt", b"hi"))]
    )
    assert upload.status_code == 403
    assert "Your role (viewer) does not allow you to upload" in upload.json()["detail"]
    approve = api.post(f"/api/v1/staged/{s}/approve", headers=bearer(viewer))
    assert approve.status_code == 403 and "does not allow you to review" in approve.json()["detail"]
    listing = api.get(f"/api/v1/projects/{p}/staged", headers=bearer(viewer))
    assert listing.status_code == 403
    assert scalar("select status from staging.documents_ingest where id = :s", s=s) == "pending"


def test_a_token_for_one_project_sees_nothing_of_another_even_by_guessing_ids(api):
    budget = _id("select id from projects.projects where name = :n", n=BUDGET)
    secret = make_token("lead@example.com", scopes=["read", "upload", "review"], projects=["Billing Revamp"])
    top = {
        "project": _id("select max(id) from projects.projects"),
        "document": _id("select max(id) from documents.documents"),
        "staged": _id("select max(id) from staging.documents_ingest"),
    }
    own = {
        "project": set(scalar("select array_agg(id) from projects.projects where name = 'Billing Revamp'")),
        "document": set(
            scalar(
                "select array_agg(d.id) from documents.documents d"
                " join projects.projects p on p.id = d.project_id where p.name = 'Billing Revamp'"
            )
        ),
        "staged": set(
            scalar(
                "select coalesce(array_agg(i.id), '{}') from staging.documents_ingest i"
                " join projects.projects p on p.id = i.project_id where p.name = 'Billing Revamp'"
            )
        ),
    }
    paths = {
        "project": ["/api/v1/projects/{}", "/api/v1/projects/{}/documents", "/api/v1/projects/{}/audit",
                    "/api/v1/projects/{}/staged"],
        "document": ["/api/v1/documents/{}", "/api/v1/documents/{}/content"],
        "staged": ["/api/v1/staged/{}"],
    }  # fmt: skip
    for kind, templates in paths.items():
        for template in templates:
            nowhere = api.get(template.format(top[kind] + 1000), headers=bearer(secret))
            assert nowhere.status_code == 404
            for guess in range(1, top[kind] + 1):
                response = api.get(template.format(guess), headers=bearer(secret))
                if guess in own[kind]:
                    assert response.status_code == 200, (template, guess)
                else:  # the same answer as for an id that does not exist
                    assert (response.status_code, response.json()) == (404, nowhere.json()), (template, guess)
    listed = api.get("/api/v1/projects", headers=bearer(secret)).json()["items"]
    assert [p["name"] for p in listed] == ["Billing Revamp"]
    for path in (f"/api/v1/projects/{budget}/uploads",):
        response = api.post(path, headers=bearer(secret), files=[("files", ("x.txt", b"not here"))])
        assert response.status_code == 404
    staged_elsewhere = _id("select min(id) from staging.documents_ingest where project_id = :p", p=budget)
    for action, body in (("approve", None), ("reject", {"reason": "no"})):
        response = api.post(f"/api/v1/staged/{staged_elsewhere}/{action}", headers=bearer(secret), json=body)
        assert response.status_code == 404
    status = scalar("select status from staging.documents_ingest where id = :s", s=staged_elsewhere)
    assert status == "pending"


def test_a_user_who_is_a_member_of_nothing_sees_nothing(api, ids):
    secret = make_token("ops@example.com", scopes=["read", "upload", "review"])
    assert api.get("/api/v1/projects", headers=bearer(secret)).json() == {"items": [], "next_cursor": None}
    for method, path in _routes(ids)[1:]:
        extra = {"json": {"reason": "a reason"}} if path.endswith("/reject") else {}
        extra = {"json": {"ids": [ids["staged"]]}} if path.endswith("/staged/approve") else extra
        response = getattr(api, method)(path, headers=bearer(secret), **extra)
        assert response.status_code == 404, (method, path)


def test_an_admins_token_acts_as_a_member_of_their_projects_only(api, ids):
    secret = make_token("admin@example.com", scopes=["read", "review"])
    assert api.get("/api/v1/projects", headers=bearer(secret)).json()["items"] == []
    assert api.get(f"/api/v1/documents/{ids['document']}", headers=bearer(secret)).status_code == 404


def test_every_use_is_in_the_audit_log_as_the_tokens_user_with_the_token_named(api, ids):
    secret = make_token("reviewer@example.com", name="audit probe")
    api.get(f"/api/v1/projects/{ids['project']}/documents?limit=1", headers=bearer(secret))
    row = scalar(
        "select jsonb_build_object('actor', u.login, 'context', a.context) from audit.audit_log a"
        " join users.users u on u.id = a.actor_id where a.action = 'api_request'"
        " and a.context ->> 'token' = 'audit probe' order by a.id desc limit 1"
    )
    assert row["actor"] == "reviewer@example.com"
    assert row["context"]["request"] == f"GET /api/v1/projects/{ids['project']}/documents"
    assert secret not in str(row)


def test_past_the_rate_limit_a_token_gets_429_with_retry_after(api, monkeypatch):
    from db.core.settings import get_settings

    monkeypatch.setenv("PROSYNC_API_RATE_PER_MINUTE", "3")
    get_settings.cache_clear()
    secret, other = make_token("viewer@example.com"), make_token("viewer@example.com")
    answers = [api.get("/api/v1/projects", headers=bearer(secret)) for _ in range(4)]
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert 1 <= int(answers[-1].headers["retry-after"]) <= 60
    assert answers[-1].headers["content-type"] == "application/problem+json"
    assert api.get("/api/v1/projects", headers=bearer(other)).status_code == 200  # per token
    get_settings.cache_clear()


def test_an_unknown_route_and_method_are_problems_too(api):
    secret = make_token("viewer@example.com")
    missing = api.get("/api/v1/nothing-here", headers=bearer(secret))
    assert missing.status_code == 404 and missing.headers["content-type"] == "application/problem+json"
    wrong = api.delete("/api/v1/projects", headers=bearer(secret))
    assert wrong.status_code == 405 and wrong.json()["status"] == 405


@pytest.mark.parametrize(
    "path", ["/api/v1/projects/%00", "/api/v1/projects/%ED%A0%80", "/api/v1/projects/%0A"]
)
def test_a_hostile_request_line_with_any_token_is_never_a_500(api, path):
    for secret in ("psy_" + "A" * 43, make_token("viewer@example.com")):
        response = api.get(path, headers={**bearer(secret), "User-Agent": "bad\x01agent"})
        assert response.status_code in (400, 401, 404), (path, response.status_code, response.text)
        assert response.headers["content-type"] == "application/problem+json"


def test_an_upload_only_token_reads_back_its_users_own_staged_files_only(api, ids):
    mine = make_token("contributor@example.com", scopes=["upload"])
    lead = make_token("lead@example.com", scopes=["upload"])
    theirs = api.post(
        f"/api/v1/projects/{ids['project']}/uploads", headers=bearer(lead),
        files=[("files", ("theirs.txt", f"theirs {lead}".encode()))],
    ).json()["files"][0]["staged"]["id"]  # fmt: skip
    assert api.get(f"/api/v1/staged/{theirs}", headers=bearer(mine)).status_code == 404
    uploaded = api.post(
        f"/api/v1/projects/{ids['project']}/uploads", headers=bearer(mine),
        files=[("files", ("mine.txt", f"mine {mine}".encode()))],
    ).json()["files"][0]  # fmt: skip
    assert uploaded["status"] == "staged", uploaded
    staged = uploaded["staged"]
    assert api.get(f"/api/v1/staged/{staged['id']}", headers=bearer(mine)).json()["name"] == "mine.txt"
    reviewer = make_token("reviewer@example.com", scopes=["review"])
    assert api.get(f"/api/v1/staged/{theirs}", headers=bearer(reviewer)).status_code == 200


def test_a_request_refused_by_the_rate_limit_costs_no_lookup_and_no_audit_row(api, monkeypatch):
    from db.core.settings import get_settings

    monkeypatch.setenv("PROSYNC_API_RATE_PER_MINUTE", "2")
    get_settings.cache_clear()
    try:
        secret = make_token("viewer@example.com", name="limited")
        before = scalar("select count(*) from audit.audit_log where context ->> 'token' = 'limited'")
        answers = [api.get("/api/v1/projects", headers=bearer(secret)).status_code for _ in range(6)]
        after = scalar("select count(*) from audit.audit_log where context ->> 'token' = 'limited'")
        assert answers == [200, 200, 429, 429, 429, 429] and after - before == 2
        guesses = [
            api.get("/api/v1/projects", headers=bearer(f"psy_{n:043d}")).status_code for n in range(25)
        ]
        assert guesses.count(429) >= 5  # many secrets from one address: the address is limited too
    finally:
        get_settings.cache_clear()
