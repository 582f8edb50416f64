"""db.domain.projects: which projects a user holds a permission on, and who may restore a deleted one."""

import pytest

from db.core.errors import PermissionDenied
from db.domain import projects
from tests.conftest import acting, make_project, make_user


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
