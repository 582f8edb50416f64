"""db.domain.access: project roles and what they permit, granting never above one's own role, a
project keeping its owner, and no write without an acting user."""

import pytest

from db.core.errors import Conflict, PermissionDenied
from db.domain import access, documents, projects, users
from tests.conftest import acting, approve_staged, make_document, make_project, make_staged, make_user


def test_a_project_keeps_its_owner(conn):
    owner = make_user(conn)
    project = make_project(conn, owner=owner)
    with acting(conn, None), pytest.raises(Conflict, match="must keep its owner"):
        access.change_role(conn, project_id=project.id, user_id=owner.id, role="viewer")


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


def test_non_member_sees_nothing_of_a_project(conn):
    owner, stranger = make_user(conn), make_user(conn)
    project = make_project(conn, owner=owner)
    make_document(conn, project=project, uploader=owner)
    with acting(conn, stranger):
        assert documents.list_active_documents(conn).rows == []
        assert projects.list_projects(conn) == []
        with pytest.raises(PermissionDenied):
            documents.list_active_documents(conn, project_id=project.id)


def test_every_write_function_refuses_without_an_actor(conn):
    owner = make_user(conn)
    project = make_project(conn, owner=owner)
    with pytest.raises(PermissionDenied):
        projects.create_project(conn, name="Nobody's")
    with pytest.raises(PermissionDenied):
        access.grant_access(conn, project_id=project.id, user_id=owner.id, role="viewer")
    with pytest.raises(PermissionDenied):
        users.create_user(conn, login="x@example.com", display_name="X", password="long-enough-pw")
