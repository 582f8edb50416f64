"""dashboard/file_routes.py: a document's, a preview's or a staged file's bytes, only for someone
who may see them, from a local folder (streamed) or from S3 (a presigned redirect), each download in
the project's audit trail; over Starlette's TestClient against the demo database."""

import hashlib

import pytest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.testclient import TestClient

from dashboard import file_routes
from dashboard.auth_routes import ROUTES, SignInRedirect
from db.tools.demo import DEMO_PASSWORD
from tests.dashboard.helpers import sign_in
from tests.pages.helpers import scalar


def test_download_streams_a_document_only_to_someone_who_may_see_it(client):
    doc = scalar("select id from documents.active_documents where project_name = 'Annual Budget' limit 1")
    assert client.get(f"/files/{doc}").status_code == 401
    sign_in(client, "viewer@example.com", DEMO_PASSWORD)
    response = client.get(f"/files/{doc}")
    assert response.status_code == 200
    assert response.headers["content-disposition"].startswith("attachment; filename*=UTF-8''annual-budget")
    assert response.headers["x-content-type-options"] == "nosniff"
    assert hashlib.sha256(response.content).hexdigest() == scalar(
        "select checksum from documents.documents where id = :d", d=doc
    )
    client.cookies.clear()
    sign_in(client, "ops@example.com", DEMO_PASSWORD)  # a member of no project
    refused = client.get(f"/files/{doc}")
    assert refused.status_code == 404 and b"%PDF" not in refused.content
    assert client.get("/files/999999999").status_code == 404


def test_previews_and_staged_files_are_served_to_members_only(client):
    doc = scalar(
        "select id from documents.documents where image_url is not null"
        " and project_id = (select id from projects.projects where name = 'Annual Budget') limit 1"
    )
    preview_key = scalar("select image_url from documents.documents where id = :d", d=doc)
    staged = scalar("select id from staging.pending_documents where project_name = 'Annual Budget' limit 1")
    assert client.get(f"/files/{doc}/preview").status_code == 401
    sign_in(client, "reviewer@example.com", DEMO_PASSWORD)
    preview = client.get(f"/files/{doc}/preview")
    assert preview.status_code == 200 and preview.content.startswith(b"\x89PNG")
    assert preview.headers["content-disposition"].startswith("inline")
    staged_file = client.get(f"/staged/{staged}")
    assert staged_file.status_code == 200
    assert hashlib.sha256(staged_file.content).hexdigest() == scalar(
        "select checksum from staging.documents_ingest where id = :i", i=staged
    )
    client.cookies.clear()
    sign_in(client, "viewer@example.com", DEMO_PASSWORD)  # a member, but not yet a document
    assert client.get(f"/staged/{staged}").status_code == 404
    client.cookies.clear()
    sign_in(client, "ops@example.com", DEMO_PASSWORD)
    assert client.get(f"/staged/{staged}").status_code == 404
    assert client.get(f"/files/{doc}/preview").status_code == 404
    assert preview_key.startswith("previews/")


@pytest.fixture
def s3_client(demo_s3_env):
    app = Starlette(routes=[*ROUTES, *file_routes.ROUTES], middleware=[Middleware(SignInRedirect)])
    with TestClient(app, base_url="http://testserver") as c:
        yield c


def test_s3_downloads_redirect_to_a_short_lived_presigned_url(s3_client):
    import urllib.request

    doc = scalar("select id from documents.active_documents where project_name = 'Annual Budget' limit 1")
    sign_in(s3_client, "viewer@example.com", DEMO_PASSWORD)
    answer = s3_client.get(f"/files/{doc}", follow_redirects=False)
    assert answer.status_code == 303
    url = answer.headers["location"]
    assert "X-Amz-Signature=" in url and "X-Amz-Expires=300" in url and "/demo/sha256/" in url
    with urllib.request.urlopen(url, timeout=10) as fetched:
        assert hashlib.sha256(fetched.read()).hexdigest() == scalar(
            "select checksum from documents.documents where id = :d", d=doc
        )
    assert scalar("select count(*) from documents.contents where storage_code = 's3'") == scalar(
        "select count(*) from documents.contents"
    ), "the whole demo went to S3"


def _downloads(doc_kind: str, item: int) -> list:
    from sqlalchemy import text

    from db.core.engine import system_transaction

    with system_transaction() as conn:
        return conn.execute(
            text(
                "select actor_id, project_id, context ->> 'kind' as kind, context ->> 'user_agent' as agent"
                " from audit.audit_log where action = 'download' and record_id = :r and table_name = :t"
                " order by id"
            ),
            {"r": str(item), "t": doc_kind},
        ).all()


def test_every_download_is_in_the_projects_audit_trail_and_a_refused_one_is_not(client):
    """Found: downloads (/files, previews, presigned links) by anyone, admins included, left no trace."""
    doc = scalar(
        "select id from documents.documents where image_url is not null and deleted_at is null"
        " and project_id = (select id from projects.projects where name = 'Annual Budget') limit 1"
    )
    project = scalar("select project_id from documents.documents where id = :d", d=doc)
    before = len(_downloads("documents", doc))
    sign_in(client, "viewer@example.com", DEMO_PASSWORD)
    viewer = scalar("select id from users.users where login = 'viewer@example.com'")
    assert client.get(f"/files/{doc}", headers={"user-agent": "download-test"}).status_code == 200
    assert client.get(f"/files/{doc}/preview").status_code == 200
    rows = _downloads("documents", doc)[before:]
    assert [(r.actor_id, r.project_id, r.kind) for r in rows] == [
        (viewer, project, "document"),
        (viewer, project, "preview"),
    ]
    assert rows[0].agent == "download-test"
    client.cookies.clear()
    sign_in(client, "ops@example.com", DEMO_PASSWORD)  # not a member: refused, and nothing recorded
    assert client.get(f"/files/{doc}").status_code == 404
    assert len(_downloads("documents", doc)) == before + 2
    client.cookies.clear()
    sign_in(client, "admin@example.com", DEMO_PASSWORD)  # an admin's download is recorded too
    assert client.get(f"/files/{doc}").status_code == 200
    admin = scalar("select id from users.users where login = 'admin@example.com'")
    assert _downloads("documents", doc)[-1].actor_id == admin
