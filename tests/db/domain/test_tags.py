"""db.domain.tags: the shared catalogue, curated by administrators; setting a project's tags as a
whole."""

import pytest
from sqlalchemy import text

from db.core.errors import NotFound, PermissionDenied
from db.core.sql import domain_errors
from db.domain import tags
from tests.conftest import acting, count, make_project, make_user


def _catalogue(conn, *names: str) -> list[int]:
    with acting(conn, make_user(conn, roles=("admin",))):
        return [tags.create_tag(conn, name=name, category="test-set").id for name in names]


def _tag_ids(conn, project_id: int) -> set[int]:
    with acting(conn, None):
        return {t.id for t in tags.project_tags(conn, project_id=project_id)}


def _audited(conn, project_id: int) -> list[tuple]:
    with acting(conn, None):
        rows = conn.execute(
            text(
                "select action, actor_id, coalesce(new_values, old_values) ->> 'tag_id' as tag_id"
                " from audit.audit_log where table_name = 'project_tag' and project_id = :p order by id"
            ),
            {"p": project_id},
        ).all()
    return [(r.action, r.actor_id, int(r.tag_id)) for r in rows]


def test_setting_a_projects_tags_leaves_exactly_those_and_audits_each_change(conn):
    owner, contributor = make_user(conn), make_user(conn)
    project = make_project(conn, owner=owner, members=[(contributor, "contributor")])
    a, b, c = _catalogue(conn, "Alpha", "Beta", "Gamma")
    with acting(conn, owner):
        tags.tag_project(conn, project_id=project.id, tag_id=a)
        tags.tag_project(conn, project_id=project.id, tag_id=b)
    before = len(_audited(conn, project.id))
    with acting(conn, contributor):
        changes = tags.set_project_tags(conn, project_id=project.id, tag_ids=[b, c, c])
    assert (changes.added, changes.removed) == ((c,), (a,))
    assert _tag_ids(conn, project.id) == {b, c}
    assert sorted(_audited(conn, project.id)[before:]) == [
        ("delete", contributor.id, a),
        ("insert", contributor.id, c),
    ]
    with acting(conn, contributor):
        again = tags.set_project_tags(conn, project_id=project.id, tag_ids=[c, b])
        cleared = tags.set_project_tags(conn, project_id=project.id, tag_ids=[])
    assert (again.added, again.removed) == ((), ())
    assert (cleared.added, sorted(cleared.removed)) == ((), sorted([b, c]))
    assert _tag_ids(conn, project.id) == set()


def test_a_viewer_cannot_set_a_projects_tags(conn):
    owner, viewer = make_user(conn), make_user(conn)
    project = make_project(conn, owner=owner, members=[(viewer, "viewer")])
    [a] = _catalogue(conn, "Delta")
    with acting(conn, viewer), pytest.raises(PermissionDenied):
        tags.set_project_tags(conn, project_id=project.id, tag_ids=[a])
    assert _tag_ids(conn, project.id) == set() and _audited(conn, project.id) == []


def test_an_unknown_tag_refuses_the_whole_set(conn):
    owner = make_user(conn)
    project = make_project(conn, owner=owner)
    a, b = _catalogue(conn, "Epsilon", "Zeta")
    with acting(conn, owner):
        tags.tag_project(conn, project_id=project.id, tag_id=a)
    with acting(conn, owner), pytest.raises(NotFound, match="no such tag"):
        tags.set_project_tags(conn, project_id=project.id, tag_ids=[b, 2**62])
    assert _tag_ids(conn, project.id) == {a}


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
