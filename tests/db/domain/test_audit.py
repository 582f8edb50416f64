"""db.domain.audit and the audit triggers under it: every write audited with its actor (a null
actor outside the application), one row per changed row and none for a change of nothing; a
project's trail for its members; downloads recorded in it. (The trail's filters:
tests/db/test_reads.py.)"""

import pytest
from sqlalchemy import text

from db.core.errors import InvalidInput, PermissionDenied
from db.domain import access, audit, documents, projects, tags, users
from tests.conftest import acting, count, make_document, make_project, make_staged, make_user


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
            doc = make_document(conn, project=project, uploader=admin)
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


def test_bulk_update_audits_every_row_in_one_statement(conn):
    owner = make_user(conn)
    project = make_project(conn, owner=owner)
    for _ in range(5):
        make_document(conn, project=project, uploader=owner)
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


def test_a_projects_trail_is_for_its_members_newest_first_and_1_to_10000_rows_at_a_time(conn):
    owner, stranger = make_user(conn), make_user(conn)
    project = make_project(conn, owner=owner)
    with acting(conn, owner):
        projects.update_project(conn, project_id=project.id, description="A plan")
        trail = audit.audit_trail(conn, project_id=project.id)
        newest = audit.audit_trail(conn, project_id=project.id, limit=1)
        for wrong in (0, 10_001):
            with pytest.raises(InvalidInput, match="1 to 10,000 audit rows"):
                audit.audit_trail(conn, project_id=project.id, limit=wrong)
    assert set(trail.project_id) == {project.id} and set(trail.actor_login) == {owner.login}
    assert {("projects", "insert"), ("project_access", "insert"), ("projects", "update")} <= set(
        zip(trail.table_name, trail.action, strict=True)
    )
    assert list(trail.id) == sorted(trail.id, reverse=True)
    assert len(newest) == 1 and newest.id[0] == trail.id[0]
    with acting(conn, stranger), pytest.raises(PermissionDenied):
        audit.audit_trail(conn, project_id=project.id)


def _downloads(conn, project_id: int) -> list:
    with acting(conn, None):
        return conn.execute(
            text(
                "select actor_id, table_name, record_id, context ->> 'kind' as kind,"
                " context ->> 'user_agent' as agent, context ->> 'ip_address' as ip"
                " from audit.audit_log where action = 'download' and project_id = :p order by id"
            ),
            {"p": project_id},
        ).all()


def test_each_download_is_recorded_in_its_projects_trail_as_the_actors(conn):
    owner, viewer = make_user(conn), make_user(conn)
    project = make_project(conn, owner=owner, members=[(viewer, "viewer")])
    doc = make_document(conn, project=project, uploader=owner)
    staged = make_staged(conn, project=project, uploader=owner)
    with acting(conn, viewer):
        audit.record_download(
            conn, kind="document", item_id=doc.id, user_agent="Firefox/140", ip_address="10.0.0.7"
        )
        audit.record_download(conn, kind="preview", item_id=doc.id)
    with acting(conn, owner):
        audit.record_download(conn, kind="staged", item_id=staged.id)
    rows = _downloads(conn, project.id)
    assert [(r.actor_id, r.table_name, r.record_id, r.kind) for r in rows] == [
        (viewer.id, "documents", str(doc.id), "document"),
        (viewer.id, "documents", str(doc.id), "preview"),
        (owner.id, "documents_ingest", str(staged.id), "staged"),
    ]
    assert (rows[0].agent, rows[0].ip) == ("Firefox/140", "10.0.0.7")


def test_a_download_of_an_unknown_kind_or_outside_ones_projects_is_refused_and_not_recorded(conn):
    owner, stranger = make_user(conn), make_user(conn)
    project = make_project(conn, owner=owner)
    doc = make_document(conn, project=project, uploader=owner)
    with acting(conn, owner), pytest.raises(InvalidInput, match="Not a kind of download"):
        audit.record_download(conn, kind="everything", item_id=doc.id)
    for item in (doc.id, 2**62):  # someone else's file, and no file at all: the same answer
        with acting(conn, stranger), pytest.raises(PermissionDenied, match="no such file"):
            audit.record_download(conn, kind="document", item_id=item)
    assert _downloads(conn, project.id) == []


def test_the_trail_shows_addresses_to_those_who_manage_access_and_only_the_token_to_others(conn):
    from db.core.engine import set_token
    from db.domain import tokens
    from tests.conftest import make_document, make_project

    owner, viewer = make_user(conn), make_user(conn)
    project = make_project(conn, owner=owner, members=[(viewer, "viewer")])
    document = make_document(conn, project=project, uploader=owner)
    with acting(conn, owner):
        new = tokens.create_token(conn, name="context probe", project_ids=[project.id])
    with acting(conn, None, app=True):
        grant = tokens.use_token(
            conn, secret=new.secret, ip_address="10.9.8.7", user_agent="probe", request="x"
        )
    with acting(conn, owner):
        set_token(conn, grant)
        audit.record_download(
            conn, kind="document", item_id=document.id, user_agent="probe", ip_address="10.9.8.7"
        )
        set_token(conn, None)
    with acting(conn, owner):
        managed = audit.list_trail(conn, project_id=project.id, action="download").rows
    with acting(conn, viewer):
        viewed = audit.list_trail(conn, project_id=project.id, action="download").rows
    assert managed[0].context["token"] == "context probe" and managed[0].context["ip_address"] == "10.9.8.7"
    assert viewed[0].context == {"token": "context probe"}
