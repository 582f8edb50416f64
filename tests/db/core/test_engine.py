"""db.core.engine: transaction() is one unit of work, committed whole or not at all, its errors at
commit domain errors, the actor set on it alone; an answer the connection remembers (a permission) is
forgotten as soon as a write or a rollback could change it."""

import pytest
from sqlalchemy import text

from db.core import migrate
from db.core.engine import make_engine, read_only, sqlalchemy_url, system_transaction, transaction
from db.core.errors import Conflict, InvalidInput
from db.domain import access, projects, users
from tests.conftest import acting, create_database, make_project, make_user


@pytest.fixture(scope="module")
def engine(server_url):
    """An engine (made by make_engine, with its hooks) on a database of its own, for the units of
    work here that commit; the `conn` fixture in this module runs on it too."""
    url = create_database(server_url, "prosync_transactions")
    migrate.upgrade(url=url)
    engine = make_engine(sqlalchemy_url(url))
    yield engine
    engine.dispose()


@pytest.fixture(scope="module")
def owner(engine):
    with system_transaction(engine=engine) as conn:
        return users.create_user(conn, login="tx@example.com", display_name="Tx", password="tx-password-1")


def _project_count(engine, name):
    with engine.connect() as conn:
        return conn.execute(
            text("select count(*) from projects.projects where name = :n"), {"n": name}
        ).scalar_one()


def test_a_failure_later_in_the_unit_leaves_nothing_written(engine, owner):
    with pytest.raises(InvalidInput), transaction(actor_id=owner.id, engine=engine) as conn:
        projects.create_project(conn, name="Half written")
        projects.create_project(conn, name="  ")  # refused: the first is rolled back with it
    assert _project_count(engine, "Half written") == 0
    with engine.connect() as conn:
        audited = conn.execute(
            text("select count(*) from audit.audit_log where new_values ->> 'name' = 'Half written'")
        ).scalar_one()
    assert audited == 0


def test_a_deferred_constraint_failing_at_commit_is_a_domain_error(engine, owner):
    with pytest.raises(Conflict, match="must keep its owner"):
        with transaction(actor_id=owner.id, engine=engine) as conn:
            project = projects.create_project(conn, name="Ownerless")
            conn.execute(text("delete from projects.project_access where project_id = :p"), {"p": project.id})
    assert _project_count(engine, "Ownerless") == 0


def test_the_actor_is_set_on_the_transaction_and_only_on_it(engine, owner):
    with transaction(actor_id=owner.id, engine=engine) as conn:
        assert conn.execute(text("select system.current_actor()")).scalar_one() == owner.id
        project = projects.create_project(conn, name="Acted")
        assert access.project_role(conn, project_id=project.id).role == "owner"
    with engine.connect() as conn:
        assert conn.execute(text("select system.current_actor()")).scalar_one() is None


def test_a_read_only_unit_refuses_writes_and_names_its_actor(engine, owner):
    with pytest.raises(Exception, match="read-only transaction"):
        with read_only(actor_id=owner.id, engine=engine) as conn:
            assert conn.execute(text("select system.current_actor()")).scalar_one() == owner.id
            assert conn.execute(text("show transaction_read_only")).scalar_one() == "on"
            projects.create_project(conn, name="Written on the read path")
    assert _project_count(engine, "Written on the read path") == 0


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


def test_a_write_on_the_same_actors_connection_forgets_remembered_answers(conn):
    """Within one actor's block (no savepoint, no change of actor to clear the memo), the statement
    that changes access is what makes the next check ask again: the engine's write hook."""
    owner = make_user(conn)
    first = make_project(conn, owner=owner)
    with acting(conn, owner):
        assert access.visible_project_ids(conn) == [first.id]
        assert access.visible_project_ids(conn) == [first.id]  # remembered
        second = projects.create_project(conn, name="Seen at once")
        assert sorted(access.visible_project_ids(conn)) == sorted([first.id, second.id])


def test_every_engine_made_here_carries_the_hooks_that_keep_remembered_answers_true(database_url):
    from sqlalchemy import event

    from db.core.engine import _forget, _forget_unless_read, make_engine, sqlalchemy_url

    engine = make_engine(sqlalchemy_url(database_url))
    try:
        assert event.contains(engine, "before_cursor_execute", _forget_unless_read)
        for end in ("begin", "commit", "rollback", "rollback_savepoint"):
            assert event.contains(engine, end, _forget)
    finally:
        engine.dispose()
