"""A cross-cutting suite on reads: keyset pages, filters, the review lists, the audit trail, and the
named indexes that serve them."""

from datetime import UTC, datetime, timedelta

from sqlalchemy import text

from db.core.types import Cursor
from db.domain import audit, documents, projects, staging
from tests.conftest import (
    acting,
    approve_staged,
    make_checksum,
    make_document,
    make_project,
    make_staged,
    make_user,
    plan_indexes,
)


def _documents(conn, project, owner, n):
    ids = []
    for _ in range(n):
        staged = make_staged(conn, project=project, uploader=owner)
        with acting(conn, owner):
            ids.append(approve_staged(conn, ingest_id=staged.id).id)
    return ids


def test_keyset_pages_walk_every_document_once_newest_first(conn):
    owner = make_user(conn)
    project = make_project(conn, owner=owner)
    ids = _documents(conn, project, owner, 7)
    # Spread them over time (and partitions) so the order is by date, then id.
    for i, doc_id in enumerate(ids):
        conn.execute(
            text(
                "update documents.documents set uploaded_at = now() - make_interval(days => :d)"
                " where id = :id"
            ),
            {"d": (i % 3) * 100, "id": doc_id},
        )
    seen, cursor, pages = [], None, 0
    with acting(conn, owner):
        while True:
            page = documents.list_active_documents(conn, project_id=project.id, after=cursor, limit=3)
            seen += page.rows
            pages += 1
            if page.next is None:
                break
            cursor = page.next
    assert pages == 3 and sorted(d.id for d in seen) == sorted(ids)
    keys = [(d.uploaded_at, d.id) for d in seen]
    assert keys == sorted(keys, reverse=True)


def test_document_filters(conn):
    owner = make_user(conn)
    project = make_project(conn, owner=owner)
    pdf = make_staged(conn, project=project, uploader=owner, original_name="Budget_2026.pdf")
    png = make_staged(
        conn, project=project, uploader=owner, original_name="logo.png", detected_mime="image/png"
    )
    with acting(conn, owner):
        approve_staged(conn, ingest_id=pdf.id)
        approve_staged(conn, ingest_id=png.id)
        by_type = documents.list_active_documents(conn, project_id=project.id, mime_type="image/png")
        by_name = documents.list_active_documents(conn, project_id=project.id, name_contains="get_2")
        wildcard = documents.list_active_documents(conn, project_id=project.id, name_contains="%")
        recent = documents.list_active_documents(
            conn, project_id=project.id, uploaded_from=datetime.now(UTC) - timedelta(days=1)
        )
        future = documents.list_active_documents(
            conn, project_id=project.id, uploaded_from=datetime.now(UTC) + timedelta(days=1)
        )
    assert [d.name for d in by_type.rows] == ["logo.png"]
    assert [d.name for d in by_name.rows] == ["Budget_2026.pdf"]  # "_" is literal, not a wildcard
    assert wildcard.rows == []
    assert len(recent.rows) == 2 and future.rows == []


def test_review_lists_only_cover_projects_the_user_may_review(conn):
    owner, contributor, reviewer = make_user(conn), make_user(conn), make_user(conn)
    project = make_project(conn, owner=owner, members=[(contributor, "contributor"), (reviewer, "reviewer")])
    other = make_project(conn, owner=owner)
    first = make_staged(conn, project=project, uploader=contributor)
    second = make_staged(conn, project=project, uploader=contributor)
    make_staged(conn, project=other, uploader=owner)
    with acting(conn, reviewer):
        queue = staging.list_pending(conn)
        staging.reject(
            conn, ingest_id=second.id, reason="Duplicate of the signed copy", reviewer_notes="ask Li"
        )
        rejected = staging.list_rejected(conn)
    assert [r.id for r in queue.rows] == [first.id, second.id]  # oldest first
    assert [(r.id, r.rejection_reason) for r in rejected.rows] == [
        (second.id, "Duplicate of the signed copy")
    ]
    with acting(conn, contributor):
        assert staging.list_pending(conn).rows == []


def test_audit_trail_filters(conn):
    owner, member = make_user(conn), make_user(conn)
    project = make_project(conn, owner=owner, members=[(member, "maintainer")])
    with acting(conn, member):
        projects.update_project(conn, project_id=project.id, description="edited by member")
    with acting(conn, owner):
        everything = audit.audit_trail(conn, project_id=project.id)
        by_member = audit.audit_trail(conn, project_id=project.id, actor_id=member.id)
        updates = audit.audit_trail(conn, project_id=project.id, action="update", table_name="projects")
        none_yet = audit.audit_trail(
            conn, project_id=project.id, since=datetime.now(UTC) + timedelta(hours=1)
        )
    assert len(everything) >= 3  # project insert, owner grant, member grant, update
    assert set(by_member.action) == {"update"} and set(by_member.actor_login) == {member.login}
    assert updates.new_values.tolist() == [{"description": "edited by member"}]
    assert none_yet.empty
    assert list(everything["timestamp"]) == sorted(everything["timestamp"], reverse=True)


def test_a_cursor_from_another_query_cannot_leak_rows(conn):
    owner, stranger = make_user(conn), make_user(conn)
    project = make_project(conn, owner=owner)
    _documents(conn, project, owner, 2)
    with acting(conn, stranger):
        page = documents.list_active_documents(
            conn, after=Cursor(datetime.now(UTC) + timedelta(days=1), 10**9)
        )
    assert page.rows == []


def test_named_indexes_serve_their_queries(conn):
    owner = make_user(conn)
    project = make_project(conn, owner=owner)
    make_document(conn, project=project, uploader=owner)
    # Enough rows that the planner's choice means something.
    conn.execute(
        text(
            "insert into documents.contents (checksum, size_bytes, storage_code, object_key)"
            " select encode(sha256(g::text::bytea), 'hex'), 10, 'local', 'k/' || g"
            " from generate_series(1, 3000) g"
        )
    )
    conn.execute(
        text(
            "insert into staging.documents_ingest (project_id, original_name, detected_mime, checksum)"
            " select :p, 'f' || g, 'text/plain', encode(sha256(g::text::bytea), 'hex')"
            " from generate_series(1, 3000) g"
        ),
        {"p": project.id},
    )
    stranger = make_user(conn)
    other = make_project(conn, owner=stranger)
    with acting(conn, stranger):
        conn.execute(
            text(
                "insert into documents.documents (project_id, name, mime_type, checksum)"
                " select :p, 'f' || g, 'text/plain', encode(sha256(g::text::bytea), 'hex')"
                " from generate_series(1, 3000) g"
            ),
            {"p": other.id},
        )
    # 3,000 members of the other project, so that the membership lookup by user is a choice
    # between one index entry and a scan of the whole primary key, whatever other tests left
    # behind in the shared database. (Users are made by administrators: as the owner here.)
    conn.execute(
        text(
            "with made as (insert into users.users (login, display_name, password_hash)"
            " select 'plan' || g || '-' || :p || '@example.com', 'Plan ' || g, '$argon2id$x'"
            " from generate_series(1, 3000) g returning id)"
            " insert into projects.project_access (project_id, user_id, role)"
            " select :p, id, 'viewer' from made"
        ),
        {"p": other.id},
    )
    conn.execute(
        text("analyze documents.documents, staging.documents_ingest, projects.project_access, users.users")
    )
    plan = plan_indexes(
        conn,
        "select id from documents.documents where project_id = :p"
        " order by uploaded_at desc, id desc limit 50",
        p=project.id,
    )
    assert "idx_documents_project_date" in plan
    plan = plan_indexes(
        conn,
        "select id from staging.documents_ingest where checksum = :c and status = 'pending'",
        c=make_checksum(),
    )
    assert "idx_documents_ingest_checksum" in plan
    plan = plan_indexes(
        conn,
        "select project_id from projects.project_access where user_id = :u and role = 'owner'",
        u=owner.id,
    )
    assert "idx_project_access_user_role" in plan


def _plan_nodes(conn, sql: str, **params) -> list[dict]:
    plan = conn.execute(text("explain (analyze, format json) " + sql), params).scalar_one()
    nodes, stack = [], [plan[0]["Plan"]]
    while stack:
        node = stack.pop()
        nodes.append(node)
        stack.extend(node.get("Plans", []))
    return nodes


def test_an_audit_page_after_a_bulk_change_reads_its_own_rows_not_the_whole_change(conn):
    owner = make_user(conn)
    project = make_project(conn, owner=owner)
    # One statement's 5,000 audit rows share its transaction's timestamp: the newest page of 50 is
    # ordered by id among them, and the index gives that order without sorting the 5,000.
    conn.execute(
        text(
            "insert into audit.audit_log (actor_id, project_id, action, schema_name, table_name, record_id)"
            " select :u, :p, 'update', 'documents', 'documents', g::text from generate_series(1, 5000) g"
        ),
        {"u": owner.id, "p": project.id},
    )
    conn.execute(text("analyze audit.audit_log"))
    page = 'select id from audit.audit_log where project_id = :p order by "timestamp" desc, id desc limit 50'
    nodes = _plan_nodes(conn, page, p=project.id)
    assert not [n for n in nodes if "Sort" in n["Node Type"]], "no sort of the tied rows"
    read = sum(n.get("Actual Rows", 0) for n in nodes if n["Node Type"].startswith("Index"))
    assert read <= 51 * 2, f"the page read {read} index rows"
    assert "audit_log_project_time_idx" in plan_indexes(conn, page, p=project.id)


def test_the_staged_file_a_document_came_from_is_found_by_index(conn):
    plan = plan_indexes(conn, "select id from staging.documents_ingest where document_id = :d", d=1)
    assert "documents_ingest_document_idx" in plan
