"""db.domain.projects: name rules, history and audit, soft delete and restore (who may, and what a
deleted project hides), the onboarding summary and its totals, and which projects a user holds a
permission on."""

import pytest
from sqlalchemy import text

from db.core.engine import set_actor
from db.core.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from db.domain import documents, projects, staging, tags, users
from tests.conftest import acting, approve_staged, count, make_document, make_project, make_staged, make_user


def test_a_permission_lists_only_the_live_projects_where_the_users_role_grants_it(conn):
    owner, member = make_user(conn), make_user(conn)
    viewing = make_project(conn, owner=owner, name="A viewing", members=[(member, "viewer")])
    contributing = make_project(conn, owner=owner, name="B contributing", members=[(member, "contributor")])
    reviewing = make_project(conn, owner=owner, name="C reviewing", members=[(member, "reviewer")])
    make_project(conn, owner=owner, name="D elsewhere")
    deleted = make_project(conn, owner=owner, name="E deleted", members=[(member, "reviewer")])
    with acting(conn, owner):
        projects.soft_delete_project(conn, project_id=deleted.id)
    with acting(conn, member):
        assert [p.id for p in projects.list_projects(conn)] == [viewing.id, contributing.id, reviewing.id]
        assert [p.id for p in projects.list_projects(conn, permission="can_upload")] == [
            contributing.id,
            reviewing.id,
        ]
        assert [p.id for p in projects.list_projects(conn, permission="can_review")] == [reviewing.id]
        assert projects.list_projects(conn, permission="can_manage_access") == []


def test_an_admin_holds_every_permission_on_every_live_project(conn):
    owner, admin = make_user(conn), make_user(conn, roles=("admin",))
    theirs = make_project(conn, owner=owner)
    deleted = make_project(conn, owner=owner)
    with acting(conn, owner):
        projects.soft_delete_project(conn, project_id=deleted.id)
    with acting(conn, admin):
        ids = {p.id for p in projects.list_projects(conn, permission="can_review")}
    assert theirs.id in ids and deleted.id not in ids


def test_a_permission_is_asked_of_live_projects_only(conn):
    with acting(conn, make_user(conn)), pytest.raises(ValueError):
        projects.list_projects(conn, permission="can_review", include_deleted=True)


def test_only_the_owner_and_admins_see_and_restore_a_deleted_project(conn):
    owner, maintainer, admin = make_user(conn), make_user(conn), make_user(conn, roles=("admin",))
    project = make_project(conn, owner=owner, members=[(maintainer, "maintainer")])
    live = make_project(conn, owner=owner)
    with acting(conn, owner):
        projects.soft_delete_project(conn, project_id=project.id)
        assert [p.id for p in projects.list_deleted_projects(conn)] == [project.id]
    with acting(conn, maintainer):
        assert projects.list_deleted_projects(conn) == []
    with acting(conn, maintainer), pytest.raises(PermissionDenied):
        projects.restore_project(conn, project_id=project.id)
    with acting(conn, admin):
        ids = {p.id for p in projects.list_deleted_projects(conn)}
        assert project.id in ids and live.id not in ids
        assert projects.restore_project(conn, project_id=project.id).deleted_at is None
    with acting(conn, owner):
        assert projects.list_deleted_projects(conn) == []


def test_project_name_rules(conn):
    owner = make_user(conn)
    make_project(conn, owner=owner, name="Apollo")
    with pytest.raises(Conflict, match="already exists"):
        make_project(conn, owner=owner, name="apollo")
    with acting(conn, owner), pytest.raises(InvalidInput, match="1 to 200"):
        projects.create_project(conn, name="x" * 201)


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


def test_soft_deleted_rows_are_hidden_by_every_view_and_back_after_restore(conn):
    owner = make_user(conn)
    project = make_project(conn, owner=owner)
    doc = make_document(conn, project=project, uploader=owner)
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


def test_onboarding_summary_counts(conn):
    owner, viewer, reviewer = make_user(conn), make_user(conn), make_user(conn)
    project = make_project(conn, owner=owner, members=[(viewer, "viewer"), (reviewer, "reviewer")])
    doc = make_document(conn, project=project, uploader=owner)
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


def test_ownership_goes_only_to_an_active_member_and_only_from_the_owner_or_an_admin(conn):
    owner, maintainer, member, stranger, co_owner = (make_user(conn) for _ in range(5))
    admin = make_user(conn, roles=("admin",))
    project = make_project(
        conn, owner=owner, members=[(maintainer, "maintainer"), (member, "viewer"), (co_owner, "owner")]
    )
    with acting(conn, co_owner), pytest.raises(PermissionDenied, match="owner or an administrator"):
        projects.transfer_ownership(conn, project_id=project.id, new_owner_id=co_owner.id)
    with acting(conn, owner), pytest.raises(InvalidInput, match="active member"):
        projects.transfer_ownership(conn, project_id=project.id, new_owner_id=stranger.id)
    with acting(conn, maintainer), pytest.raises(PermissionDenied):
        projects.transfer_ownership(conn, project_id=project.id, new_owner_id=maintainer.id)
    with acting(conn, None):
        users.deactivate_user(conn, user_id=member.id)
    with acting(conn, owner), pytest.raises(InvalidInput, match="active member"):
        projects.transfer_ownership(conn, project_id=project.id, new_owner_id=member.id)
    with acting(conn, owner):
        moved = projects.transfer_ownership(conn, project_id=project.id, new_owner_id=maintainer.id)
    assert moved.owner_id == maintainer.id
    roles = dict(
        conn.execute(
            text("select user_id, role from projects.project_access where project_id = :p"), {"p": project.id}
        ).all()
    )
    assert roles[maintainer.id] == "owner" and roles[owner.id] == "owner" and stranger.id not in roles
    with acting(conn, owner), pytest.raises(PermissionDenied):
        projects.transfer_ownership(conn, project_id=project.id, new_owner_id=owner.id)  # no longer theirs
    with acting(conn, admin):
        assert (
            projects.transfer_ownership(conn, project_id=project.id, new_owner_id=owner.id).owner_id
            == owner.id
        )
