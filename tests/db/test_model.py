"""The data model itself: constraints, audit and history, partitions, soft delete, indexes."""

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from db.core.engine import set_actor
from db.core.errors import Conflict, DuplicateContent, InvalidInput, NotFound, PermissionDenied
from db.core.sql import domain_errors
from db.core.types import NewStagedFile
from db.domain import access, documents, partitions, projects, staging, tags, users
from db.files import storage
from tests.conftest import (
    acting,
    approve_staged,
    count,
    make_checksum,
    make_project,
    make_staged,
    make_user,
    plan_indexes,
)


def _approved_document(conn, project, reviewer, uploader):
    staged = make_staged(conn, project=project, uploader=uploader)
    with acting(conn, reviewer):
        return approve_staged(conn, ingest_id=staged.id)


# --- constraints: each refuses a bad row with a domain error a person can act on -------------


@pytest.mark.parametrize(
    "login",
    [
        "no-at-sign",
        "two@@example.com",
        "a@b",
        "spaces in@example.com",
        "a@-bad.com",
        "x" * 250 + "@e.io",
    ],
)
def test_invalid_email_is_refused(conn, login):
    with pytest.raises(InvalidInput, match="e-mail address is not valid"):
        make_user(conn, login=login)


def test_login_is_unique_whatever_its_case(conn):
    make_user(conn, login="Alice@Example.com")
    with pytest.raises(Conflict, match="already exists"):
        make_user(conn, login="alice@example.COM")


def test_weak_password_is_refused(conn):
    with pytest.raises(InvalidInput, match="at least 10"):
        make_user(conn, password="short")
    with pytest.raises(InvalidInput, match="too common"):
        make_user(conn, password="password123")


def test_passwords_are_argon2id_and_never_audited(conn):
    user = make_user(conn)
    stored = count(
        conn,
        "select count(*) from users.users where id = :id and password_hash like '$argon2id$%'",
        id=user.id,
    )
    assert stored == 1
    leaked = count(
        conn,
        "select count(*) from audit.audit_log where table_name = 'users'"
        " and (new_values ? 'password_hash' or old_values ? 'password_hash')",
    )
    assert leaked == 0


def test_empty_content_is_refused(conn):
    owner = make_user(conn)
    project = make_project(conn, owner=owner)
    with pytest.raises(InvalidInput, match="empty"):
        make_staged(conn, project=project, uploader=owner, size_bytes=0)


def test_database_refuses_zero_size_even_outside_the_app(conn):
    with pytest.raises(Exception, match="contents_size_positive"):
        conn.execute(
            text(
                "insert into documents.contents (checksum, size_bytes, storage_code, object_key)"
                " values (:c, 0, 'local', 'k')"
            ),
            {"c": make_checksum()},
        )


def test_bad_staging_status_is_refused_by_the_database(conn):
    owner = make_user(conn)
    staged = make_staged(conn, project=make_project(conn, owner=owner), uploader=owner)
    with pytest.raises(Exception, match="documents_ingest_status_check"):
        conn.execute(
            text("update staging.documents_ingest set status = 'lost', reviewed_at = now() where id = :id"),
            {"id": staged.id},
        )


def test_rejection_needs_a_reason(conn):
    owner = make_user(conn)
    staged = make_staged(conn, project=make_project(conn, owner=owner), uploader=owner)
    with acting(conn, owner), pytest.raises(InvalidInput, match="needs a reason"):
        staging.reject(conn, ingest_id=staged.id, reason="   ")
    with pytest.raises(Exception, match="documents_ingest_rejection_reason"):
        conn.execute(
            text(
                "update staging.documents_ingest set status = 'rejected', reviewed_at = now() where id = :id"
            ),
            {"id": staged.id},
        )


def test_session_must_expire_after_it_starts(conn):
    user = make_user(conn)
    with pytest.raises(Exception, match="sessions_expiry_after_creation"):
        conn.execute(
            text(
                "insert into auth.sessions (user_id, token_hash, expires_at)"
                " values (:u, sha256('x'), now() - interval '1 hour')"
            ),
            {"u": user.id},
        )


def test_file_names_with_path_parts_are_refused(conn):
    owner = make_user(conn)
    project = make_project(conn, owner=owner)
    with pytest.raises(InvalidInput, match="file name"):
        make_staged(conn, project=project, uploader=owner, original_name="../etc/passwd")


def test_project_name_rules(conn):
    owner = make_user(conn)
    make_project(conn, owner=owner, name="Apollo")
    with pytest.raises(Conflict, match="already exists"):
        make_project(conn, owner=owner, name="apollo")
    with acting(conn, owner), pytest.raises(InvalidInput, match="1 to 200"):
        projects.create_project(conn, name="x" * 201)


def test_a_project_keeps_its_owner(conn):
    owner = make_user(conn)
    project = make_project(conn, owner=owner)
    with acting(conn, None), pytest.raises(Conflict, match="must keep its owner"):
        access.change_role(conn, project_id=project.id, user_id=owner.id, role="viewer")


# --- permissions --------------------------------------------------------------------------------


def test_grant_cannot_exceed_own_role(conn):
    owner, maintainer, someone = make_user(conn), make_user(conn), make_user(conn)
    project = make_project(conn, owner=owner, members=[(maintainer, "maintainer")])
    with acting(conn, maintainer), pytest.raises(PermissionDenied, match="above your own role"):
        access.grant_access(conn, project_id=project.id, user_id=someone.id, role="owner")
    with acting(conn, maintainer):
        access.grant_access(conn, project_id=project.id, user_id=someone.id, role="reviewer")
        assert access.project_role(conn, project_id=project.id).role == "maintainer"


def test_viewer_cannot_upload_or_review(conn):
    owner, viewer = make_user(conn), make_user(conn)
    project = make_project(conn, owner=owner, members=[(viewer, "viewer")])
    with pytest.raises(PermissionDenied, match="viewer"):
        make_staged(conn, project=project, uploader=viewer)
    staged = make_staged(conn, project=project, uploader=owner)
    with acting(conn, viewer), pytest.raises(PermissionDenied):
        approve_staged(conn, ingest_id=staged.id)


def test_a_soft_deleted_project_takes_no_writes_until_restored(conn):
    # The row-level security policies check permissions, not a project's lifecycle: this rule is
    # the data-access layer's alone (docs/security.md).
    owner = make_user(conn)
    project = make_project(conn, owner=owner)
    staged = make_staged(conn, project=project, uploader=owner)
    with acting(conn, owner):
        projects.soft_delete_project(conn, project_id=project.id)
    with acting(conn, owner), pytest.raises(NotFound):  # its staged files are out of every view
        approve_staged(conn, ingest_id=staged.id)
    with pytest.raises(PermissionDenied):
        make_staged(conn, project=project, uploader=owner)
    with acting(conn, owner), pytest.raises(PermissionDenied):
        projects.update_project(conn, project_id=project.id, description="while deleted")
    assert (
        count(conn, "select count(*) from staging.documents_ingest where project_id = :p", p=project.id) == 1
    )
    with acting(conn, owner):
        projects.restore_project(conn, project_id=project.id)
        assert approve_staged(conn, ingest_id=staged.id).project_id == project.id


def test_non_member_sees_nothing_of_a_project(conn):
    owner, stranger = make_user(conn), make_user(conn)
    project = make_project(conn, owner=owner)
    _approved_document(conn, project, owner, owner)
    with acting(conn, stranger):
        assert documents.list_active_documents(conn).rows == []
        assert projects.list_projects(conn) == []
        with pytest.raises(PermissionDenied):
            documents.list_active_documents(conn, project_id=project.id)


# --- history and audit carry the actor -----------------------------------------------------------


def test_project_writes_leave_history_and_audit_with_the_actor(conn):
    owner = make_user(conn)
    project = make_project(conn, owner=owner)
    with acting(conn, owner):
        projects.update_project(conn, project_id=project.id, description="Now with a plan")
        projects.soft_delete_project(conn, project_id=project.id)
        projects.restore_project(conn, project_id=project.id)
        history = projects.project_history(conn, project_id=project.id)
    assert [h.operation for h in history] == ["restore", "soft_delete", "update", "insert"]
    assert {h.changed_by for h in history} == {owner.id}
    assert {h.changed_by_login for h in history} == {owner.login}
    update = history[2]
    assert update.old_values == {"description": ""}
    assert update.new_values == {"description": "Now with a plan"}
    trail = conn.execute(
        text(
            "select action, actor_id from audit.audit_log where table_name = 'projects'"
            " and record_id = :id order by id"
        ),
        {"id": str(project.id)},
    ).all()
    assert [tuple(r) for r in trail] == [
        ("insert", owner.id),
        ("update", owner.id),
        ("soft_delete", owner.id),
        ("restore", owner.id),
    ]


@pytest.mark.parametrize("kind", ["access", "tag", "staging", "document", "session", "user"])
def test_every_kind_of_write_is_audited_with_its_actor(conn, kind):
    admin = make_user(conn, roles=("admin",))
    owner, member = make_user(conn), make_user(conn)
    project = make_project(conn, owner=owner)
    before = count(conn, "select count(*) from audit.audit_log")
    with acting(conn, admin):
        if kind == "access":
            access.grant_access(conn, project_id=project.id, user_id=member.id, role="viewer")
            table = "project_access"
        elif kind == "tag":
            tag = tags.create_tag(conn, name="Blue", category="colour")
            tags.tag_project(conn, project_id=project.id, tag_id=tag.id)
            table = "project_tag"
        elif kind == "staging":
            make_staged(conn, project=project, uploader=admin)
            table = "documents_ingest"
        elif kind == "document":
            doc = _approved_document(conn, project, admin, admin)
            documents.soft_delete_document(conn, document_id=doc.id)
            table = "documents"
        elif kind == "session":
            from db.domain import sessions

            sessions.create_session(conn, user_id=admin.id, user_agent="pytest", ip_address="127.0.0.1")
            table = "sessions"
        else:
            users.deactivate_user(conn, user_id=member.id)
            table = "users"
    rows = conn.execute(
        text("select actor_id, table_name from audit.audit_log order by id offset :n"),
        {"n": before},
    ).all()
    assert any(r.table_name == table for r in rows)
    acted = [r for r in rows if r.table_name == table]
    assert {r.actor_id for r in acted} == {admin.id}


def test_writes_outside_the_app_are_audited_with_a_null_actor(conn):
    owner = make_user(conn)
    project = make_project(conn, owner=owner)
    conn.execute(text("select set_config('prosync.actor_id', '', true)"))
    conn.execute(text("update projects.projects set description = 'psql' where id = :id"), {"id": project.id})
    row = conn.execute(
        text(
            "select actor_id, new_values from audit.audit_log where table_name = 'projects'"
            " and record_id = :id and action = 'update'"
        ),
        {"id": str(project.id)},
    ).one()
    assert row.actor_id is None and row.new_values == {"description": "psql"}


def test_document_history_records_soft_delete_and_restore(conn):
    owner = make_user(conn)
    project = make_project(conn, owner=owner)
    doc = _approved_document(conn, project, owner, owner)
    with acting(conn, owner):
        documents.soft_delete_document(conn, document_id=doc.id)
        documents.restore_document(conn, document_id=doc.id)
        history = documents.document_history(conn, document_id=doc.id)
    assert [h.operation for h in history] == ["restore", "soft_delete", "insert"]
    audited = count(
        conn,
        "select count(*) from audit.audit_log where table_name = 'documents' and project_id = :p",
        p=project.id,
    )
    assert audited == 3


def test_bulk_update_audits_every_row_in_one_statement(conn):
    owner = make_user(conn)
    project = make_project(conn, owner=owner)
    for _ in range(5):
        _approved_document(conn, project, owner, owner)
    with acting(conn, owner):
        conn.execute(
            text("update documents.documents set description = 'bulk' where project_id = :p"),
            {"p": project.id},
        )
    assert (
        count(
            conn,
            "select count(*) from audit.audit_log where table_name = 'documents' and action = 'update'"
            ' and project_id = :p and new_values = \'{"description": "bulk"}\'',
            p=project.id,
        )
        == 5
    )


def test_an_update_that_changes_nothing_is_not_audited(conn):
    owner = make_user(conn)
    project = make_project(conn, owner=owner)
    before = count(conn, "select count(*) from audit.audit_log")
    conn.execute(text("update projects.projects set name = name where id = :id"), {"id": project.id})
    assert count(conn, "select count(*) from audit.audit_log") == before


# --- partitions -------------------------------------------------------------------------------


def _partition_of(conn, table, column, value):
    return conn.execute(
        text(f"select tableoid::regclass::text from {table} where {column} = :v"), {"v": value}
    ).scalar_one()


def test_documents_land_in_their_quarter_and_out_of_range_in_default(conn):
    owner = make_user(conn)
    project = make_project(conn, owner=owner)
    doc = _approved_document(conn, project, owner, owner)
    now = datetime.now(UTC)
    quarter = (now.month - 1) // 3 + 1
    assert (
        _partition_of(conn, "documents.documents", "id", doc.id)
        == f"documents.documents_p{now.year}q{quarter}"
    )
    old = _approved_document(conn, project, owner, owner)
    conn.execute(
        text("update documents.documents set uploaded_at = '1999-05-01' where id = :id"),
        {"id": old.id},
    )
    assert _partition_of(conn, "documents.documents", "id", old.id) == "documents.documents_default"


def test_audit_rows_land_in_their_month(conn):
    make_user(conn)
    now = datetime.now(UTC)
    last = conn.execute(text("select max(id) from audit.audit_log")).scalar_one()
    assert _partition_of(conn, "audit.audit_log", "id", last) == f"audit.audit_log_p{now:%Y_%m}"


def test_maintenance_makes_partitions_ahead_with_storage_settings(conn):
    with acting(conn, None):
        steps = partitions.maintain(conn)
        status = partitions.partition_status(conn)
    assert all(s.action != "detached" for s in steps)
    future = datetime.now(UTC) + timedelta(days=95)
    docs = status[(status.parent_table == "documents.documents") & ~status.is_default]
    assert (docs.range_to > future).any()
    assert all("fillfactor=90" in opts for opts in docs.reloptions)
    audit = status[(status.parent_table == "audit.audit_log") & ~status.is_default]
    assert all("fillfactor=100" in opts for opts in audit.reloptions)


def test_maintenance_moves_default_rows_into_a_new_partition_and_reports_them(conn):
    owner = make_user(conn)
    project = make_project(conn, owner=owner)
    doc = _approved_document(conn, project, owner, owner)
    conn.execute(
        text("update documents.documents set uploaded_at = '2031-02-03' where id = :id"),
        {"id": doc.id},
    )
    assert partitions.default_partition_rows(conn)["documents.documents"] == 1
    report = conn.execute(text("select * from system.maintain_partitions('documents.documents', 1)")).all()
    assert ("default_rows", "documents.documents_default", "1 row(s) outside every partition") in [
        tuple(r) for r in report
    ]
    conn.execute(text("select system.create_partition('documents.documents', '2031-01-01+00')"))
    assert _partition_of(conn, "documents.documents", "id", doc.id) == "documents.documents_p2031q1"
    assert partitions.default_partition_rows(conn)["documents.documents"] == 0


def test_retention_detaches_old_partitions_and_keeps_them(conn):
    conn.execute(text("select system.create_partition('audit.audit_log', '2001-01-01+00')"))
    detached = conn.execute(
        text("select * from system.maintain_partitions('audit.audit_log', 1, 0, 24)")
    ).all()
    names = [r.partition_name for r in detached if r.action == "detached"]
    assert "audit.audit_log_p2001_01" in names
    assert conn.execute(text("select to_regclass('audit.audit_log_p2001_01') is not null")).scalar_one()
    still_attached = count(
        conn,
        "select count(*) from system.partitions where partition_name = 'audit.audit_log_p2001_01'",
    )
    assert still_attached == 0


# --- soft delete: hidden by every view, back after restore ----------------------------------------


def test_soft_deleted_rows_are_hidden_by_every_view_and_back_after_restore(conn):
    owner = make_user(conn)
    project = make_project(conn, owner=owner)
    doc = _approved_document(conn, project, owner, owner)
    make_staged(conn, project=project, uploader=owner)
    rejected = make_staged(conn, project=project, uploader=owner)
    with acting(conn, owner):
        staging.reject(conn, ingest_id=rejected.id, reason="blurry")

    def visible():
        return {
            view: count(conn, f"select count(*) from {view} where project_id = :p", p=project.id)
            for view in (
                "projects.onboarding_project_summary",
                "documents.active_documents",
                "audit.audit_trail_by_project",
                "staging.pending_documents",
                "staging.rejected_documents",
            )
        }

    assert all(visible().values())
    with acting(conn, owner):
        documents.soft_delete_document(conn, document_id=doc.id)
    assert count(conn, "select count(*) from documents.active_documents where id = :i", i=doc.id) == 0
    with acting(conn, owner):
        projects.soft_delete_project(conn, project_id=project.id)
    assert not any(visible().values())
    with acting(conn, owner):
        projects.restore_project(conn, project_id=project.id)
        documents.restore_document(conn, document_id=doc.id)
    assert all(visible().values())


def test_soft_deleted_user_cannot_sign_in(conn):
    user = make_user(conn, password="a-good-long-password")
    with acting(conn, None):
        assert users.authenticate(conn, login=user.login, password="a-good-long-password").id == user.id
        users.soft_delete_user(conn, user_id=user.id)
        with pytest.raises(Exception, match="not correct"):
            users.authenticate(conn, login=user.login, password="a-good-long-password")


# --- the onboarding summary counts what it says -----------------------------------------------------


def test_onboarding_summary_counts(conn):
    owner, viewer, reviewer = make_user(conn), make_user(conn), make_user(conn)
    project = make_project(conn, owner=owner, members=[(viewer, "viewer"), (reviewer, "reviewer")])
    doc = _approved_document(conn, project, owner, owner)
    make_staged(conn, project=project, uploader=owner)
    with acting(conn, None):  # the catalogue is curated by administrators (and the command line)
        tag = tags.create_tag(conn, name="Apollo", category="programme")
    with acting(conn, owner):
        tags.tag_project(conn, project_id=project.id, tag_id=tag.id)
    with acting(conn, viewer):
        before = projects.onboarding_summary(conn).set_index("project_id").loc[project.id]
    # Members, tags and pending files are live; documents and bytes are counted at the next refresh.
    assert before.document_count == 0 and before.participant_count == 3 and before.pending_files == 1
    with acting(conn, viewer):
        assert projects.refresh_totals(conn) is True
        summary = projects.onboarding_summary(conn)
    row = summary.set_index("project_id").loc[project.id]
    assert row.document_count == 1 and row.total_bytes == doc.size_bytes
    assert row.totals_refreshed_at is not None
    assert row.participant_count == 3
    assert row.participants_by_role == {"owner": 1, "viewer": 1, "reviewer": 1}
    assert row.pending_files == 1 and list(row.tags) == ["Apollo"]


def test_project_totals_are_not_recounted_while_fresh_and_not_for_anonymous_callers(conn):
    owner = make_user(conn)
    make_project(conn, owner=owner)
    with acting(conn, owner):
        assert projects.refresh_totals(conn) is True
        assert projects.refresh_totals(conn, older_than_seconds=3600) is False
    set_actor(conn, None)
    with pytest.raises(PermissionDenied):
        projects.refresh_totals(conn)


# --- named indexes are used by their queries ---------------------------------------------------------


def test_named_indexes_serve_their_queries(conn):
    owner = make_user(conn)
    project = make_project(conn, owner=owner)
    _approved_document(conn, project, owner, owner)
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


def test_every_write_function_refuses_without_an_actor(conn):
    owner = make_user(conn)
    project = make_project(conn, owner=owner)
    with pytest.raises(PermissionDenied):
        projects.create_project(conn, name="Nobody's")
    with pytest.raises(PermissionDenied):
        access.grant_access(conn, project_id=project.id, user_id=owner.id, role="viewer")
    with pytest.raises(PermissionDenied):
        users.create_user(conn, login="x@example.com", display_name="X", password="long-enough-pw")


def _new_file(checksum: str, **fields) -> NewStagedFile:
    return NewStagedFile(
        original_name=fields.pop("original_name", f"{checksum[:8]}.pdf"),
        checksum=checksum,
        size_bytes=fields.pop("size_bytes", 1234),
        detected_mime=fields.pop("detected_mime", "application/pdf"),
        storage_code="local",
        object_key=storage.object_key(checksum),
        **fields,
    )


def test_staging_many_files_refuses_each_bad_one_alone_and_keeps_the_rest(conn):
    owner = make_user(conn)
    project = make_project(conn, owner=owner)
    already = make_staged(conn, project=project, uploader=owner)
    same = make_checksum()
    files = [
        _new_file(make_checksum(), original_name="good-1.pdf"),
        _new_file(make_checksum(), detected_mime="application/x-unheard-of"),  # refused by the database
        _new_file(already.checksum),  # waiting for review already
        _new_file(same, original_name="first.pdf"),
        _new_file(same, original_name="second.pdf"),  # the same content in the same call
        _new_file(make_checksum(), size_bytes=0),  # refused before any statement
        _new_file(make_checksum(), original_name="good-2.pdf", metadata={"k": "v"}),
    ]
    before = count(conn, "select count(*) from staging.documents_ingest")
    with acting(conn, owner):
        results = staging.enqueue_many(conn, project_id=project.id, files=files, notes="a batch")
    kinds = [type(r).__name__ for r in results]
    assert kinds == [
        "StagedFile", "InvalidInput", "DuplicateContent", "StagedFile", "DuplicateContent", "InvalidInput",
        "StagedFile",
    ]  # fmt: skip
    assert "not known to ProSync" in str(results[1])
    assert "already waiting for review (as " + already.original_name in str(results[2])
    assert "in this same upload" in str(results[4]) and "empty" in str(results[5])
    assert [results[i].original_name for i in (0, 3, 6)] == ["good-1.pdf", "first.pdf", "good-2.pdf"]
    assert results[6].metadata == {"k": "v"} and results[0].notes == "a batch"
    assert count(conn, "select count(*) from staging.documents_ingest") == before + 3
    unknown = count(conn, "select count(*) from documents.contents where checksum = :c", c=files[1].checksum)
    assert unknown == 0, "the refused file's content row went with its savepoint"


def test_staging_a_content_already_stored_with_another_size_is_refused_as_corrupt(conn):
    owner = make_user(conn)
    project, other = make_project(conn, owner=owner), make_project(conn, owner=owner)
    stored = make_staged(conn, project=project, uploader=owner, size_bytes=100)
    with acting(conn, owner):
        results = staging.enqueue_many(
            conn,
            project_id=other.id,
            files=[_new_file(stored.checksum, size_bytes=101), _new_file(make_checksum())],
        )
    assert isinstance(results[0], InvalidInput) and "corrupt" in str(results[0])
    assert results[1].project_id == other.id


def test_approving_many_files_promotes_each_pending_one_and_refuses_the_rest_alone(conn):
    owner, reviewer, admin = make_user(conn), make_user(conn), make_user(conn, roles=("admin",))
    project = make_project(conn, owner=owner, members=[(reviewer, "reviewer")])
    hidden = make_project(conn, owner=owner)
    first, second, done, clash = (make_staged(conn, project=project, uploader=owner) for _ in range(4))
    elsewhere = make_staged(conn, project=hidden, uploader=owner)
    with acting(conn, reviewer):
        approve_staged(conn, ingest_id=done.id)
    with acting(conn, admin):  # the same content arrives as a document by another path meanwhile
        documents.import_document(
            conn, project_id=project.id, name="imported.pdf", checksum=clash.checksum,
            size_bytes=clash.size_bytes, mime_type="application/pdf", storage_code="local",
            object_key=clash.object_key, uploaded_at=datetime.now(UTC), uploaded_by=None,
        )  # fmt: skip
    ids = [first.id, done.id, clash.id, elsewhere.id, 2**70, second.id]
    with acting(conn, reviewer):
        results = staging.approve_many(
            conn, ingest_ids=ids, reviewer_notes="ok", images={first.id: "p/1.png"}
        )
    kinds = [type(r).__name__ for r in results]
    assert kinds == ["Document", "Conflict", "DuplicateContent", "NotFound", "NotFound", "Document"]
    assert "already handled by someone else (approved)" in str(results[1])
    assert results[0].preview_key == "p/1.png" and results[5].preview_key is None
    assert [results[i].name for i in (0, 5)] == [first.original_name, second.original_name]
    rows = conn.execute(
        text("select id, status, document_id from staging.documents_ingest where id = any(:ids) order by id"),
        {"ids": [first.id, clash.id, second.id]},
    ).all()
    assert [(r.status, r.document_id) for r in rows] == [
        ("approved", results[0].id), ("approved", results[5].id), ("pending", None)
    ]  # fmt: skip


def test_staging_and_documents_refuse_duplicates_within_a_project(conn):
    owner = make_user(conn)
    project = make_project(conn, owner=owner)
    staged = make_staged(conn, project=project, uploader=owner)
    with pytest.raises(DuplicateContent, match="waiting for review"):
        make_staged(conn, project=project, uploader=owner, checksum=staged.checksum)
    with acting(conn, owner):
        approve_staged(conn, ingest_id=staged.id)
    with pytest.raises(DuplicateContent, match="already a document"):
        make_staged(conn, project=project, uploader=owner, checksum=staged.checksum)
    other = make_project(conn, owner=owner)
    assert make_staged(conn, project=other, uploader=owner, checksum=staged.checksum).project_id == other.id


def test_a_remembered_permission_is_forgotten_when_access_changes_or_rolls_back(conn):
    owner, member = make_user(conn), make_user(conn)
    project = make_project(conn, owner=owner, members=[(member, "contributor")])
    revoke = text("delete from projects.project_access where project_id = :p and user_id = :u")
    with acting(conn, member):
        assert access.project_role(conn, project_id=project.id).role == "contributor"
        savepoint = conn.begin_nested()
        with acting(conn, None):  # a contributor may not remove members, themselves included
            conn.execute(revoke, {"p": project.id, "u": member.id})
        assert access.project_role(conn, project_id=project.id) is None, "seen by the very next check"
        savepoint.rollback()
        assert access.project_role(conn, project_id=project.id).role == "contributor"
        with acting(conn, None):  # an administrator's change, seen by the member's next check
            conn.execute(text("update users.users set is_active = false where id = :u"), {"u": member.id})
        assert access.project_role(conn, project_id=project.id) is None


def test_only_administrators_curate_the_shared_tag_catalogue(conn):
    """A project's owner (anyone may create a project) tags their own project, but renames or
    recolours no tag of the shared catalogue: every other project would see it."""
    admin, owner = make_user(conn, roles=("admin",)), make_user(conn)
    project = make_project(conn, owner=owner)
    with acting(conn, admin):
        confidential = tags.create_tag(conn, name="Confidential", category="security", color="#ff0000")
    with acting(conn, owner):
        tags.tag_project(conn, project_id=project.id, tag_id=confidential.id)
        with pytest.raises(PermissionDenied, match="administrators curate"):
            tags.update_tag(conn, tag_id=confidential.id, name="Public")
        with pytest.raises(PermissionDenied, match="administrators curate"):
            tags.create_tag(conn, name="Mine", category="security")
    with acting(conn, owner):  # past the data-access check, the database says no itself
        with pytest.raises(PermissionDenied, match="administrators curate"), domain_errors():
            conn.execute(
                text("select projects.update_tag(:t, 'Public', null, null, null)"), {"t": confidential.id}
            )
    assert (
        count(conn, "select name from projects.tag_reference where id = :t", t=confidential.id)
        == "Confidential"
    )
    with acting(conn, admin):
        assert tags.update_tag(conn, tag_id=confidential.id, color="#00ff00").color == "#00ff00"
