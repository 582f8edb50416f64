"""The database enforces project access on its own (migration 0013): the tests connect as the
prosync_app login the dashboard uses and, for every project-scoped table and view, check that a
user who is not a member of a project sees none of its rows and can change none of them, whatever
the application's own checks would have said.

A database of its own, with committed rows: the revocation test watches one session see another
session's committed change."""

from __future__ import annotations

import psycopg
import pytest
from sqlalchemy import make_url, text
from sqlalchemy.exc import DBAPIError

from db.core import migrate
from db.core.engine import make_engine, set_actor, sqlalchemy_url, system_transaction, transaction, url_as
from db.core.errors import Conflict, NotFound, PermissionDenied
from db.core.sql import domain_errors
from db.domain import access, documents, projects, search, staging, tags, users
from db.files import storage
from db.ops import explain
from tests.conftest import (
    approve_staged,
    create_database,
    enqueue_staged,
    make_checksum,
    plan_indexes,
    sqlstate_of,
)

# Every table and view that holds a project's rows, and the column that names the project.
SCOPED = {
    "projects.projects": "id",
    "projects.project_access": "project_id",
    "projects.project_tag": "project_id",
    "projects.project_history": "project_id",
    "documents.documents": "project_id",
    "documents.document_history": "project_id",
    "documents.document_registry": "project_id",
    "staging.documents_ingest": "project_id",
    "documents.document_text": "project_id",
    "documents.text_queue": "project_id",
    "audit.audit_log": "project_id",
    "projects.onboarding_project_summary": "project_id",
    "projects.visible_project_totals": "project_id",
    "documents.active_documents": "project_id",
    "audit.audit_trail_by_project": "project_id",
    "staging.pending_documents": "project_id",
    "staging.rejected_documents": "project_id",
}
# Tables with a project_id that are not a project's rows: none today. A new one must be added to
# SCOPED (with a policy) or here, with the reason.
NOT_SCOPED: dict[str, str] = {
    "auth.api_token_projects": "a token's projects are its user's business (and an admin's), not the"
    " project members': policy own_or_admin, tested in tests/db/domain/test_tokens.py",
}


class World:
    """Two projects with a row of every kind: A (Alice owns it; Carol is a viewer), B (Bob's)."""

    def __init__(self, engine):
        self.owner_engine = engine
        with system_transaction(engine=engine) as conn:
            made = {
                name: users.create_user(
                    conn,
                    login=f"{name}@rls.example.com",
                    display_name=name.title(),
                    password=f"{name}-password-long",
                    system_roles=roles,
                )
                for name, roles in [
                    ("alice", ()),
                    ("bob", ()),
                    ("carol", ()),
                    ("dave", ()),
                    ("admin", ("admin",)),
                    ("ops", ("ops",)),
                ]
            }
        self.users = made
        with transaction(actor_id=made["admin"].id, engine=engine) as conn:
            self.tag = tags.create_tag(conn, name="Row security", category="Test")
        self.document_ids: dict[int, int] = {}
        self.queued_ids: dict[int, int] = {}
        self.a = self._project("alice", "A")
        self.b = self._project("bob", "B")
        with transaction(actor_id=made["alice"].id, engine=engine) as conn:
            access.grant_access(conn, project_id=self.a.id, user_id=made["carol"].id, role="viewer")
            access.grant_access(conn, project_id=self.a.id, user_id=made["dave"].id, role="viewer")
        with system_transaction(engine=engine) as conn:
            projects.refresh_totals(conn)

    def _project(self, owner: str, name: str):
        user = self.users[owner]
        with transaction(actor_id=user.id, engine=self.owner_engine) as conn:
            project = projects.create_project(conn, name=f"Row security {name}")
            projects.update_project(conn, project_id=project.id, description="history row")
            tags.tag_project(conn, project_id=project.id, tag_id=self.tag.id)
            staged = [_stage(conn, project.id, f"{name}-{n}.pdf") for n in range(4)]
            approved = approve_staged(conn, ingest_id=staged[0].id)
            documents.soft_delete_document(conn, document_id=approved.id)  # a document history row
            documents.restore_document(conn, document_id=approved.id)
            staging.reject(conn, ingest_id=staged[1].id, reason="not this one")
            # A document's text, and one still waiting for its text in the queue.
            search.store_text(
                conn, document=documents.get_document(conn, document_id=approved.id),
                body=f"confidential words of project {name}", failure=None,
            )  # fmt: skip
            queued = approve_staged(conn, ingest_id=staged[3].id)
        self.document_ids[project.id] = approved.id
        self.queued_ids[project.id] = queued.id
        return project


def _stage(conn, project_id: int, name: str):
    checksum = make_checksum()
    return enqueue_staged(
        conn,
        project_id=project_id,
        original_name=name,
        checksum=checksum,
        size_bytes=100,
        detected_mime="application/pdf",
        storage_code="local",
        object_key=storage.object_key(checksum),
    )


@pytest.fixture(scope="module")
def world(server_url):
    url = create_database(server_url, "prosync_row_security")
    migrate.upgrade(url=url)
    owner = make_engine(sqlalchemy_url(url))
    app_url = url_as(sqlalchemy_url(url), "prosync_app")
    readonly_url = url_as(sqlalchemy_url(url), "prosync_readonly")
    world = World(owner)
    world.app = make_engine(app_url)
    world.readonly = make_engine(readonly_url)
    yield world
    for engine in (world.app, world.readonly, owner):
        engine.dispose()


def _as(world, engine, name: str | None):
    """A transaction on `engine` acting as the named user (None: nobody), rolled back at the end."""
    conn = engine.connect()
    conn.begin()
    set_actor(conn, None if name is None else world.users[name].id)
    return conn


def _count(conn, relation: str, column: str, project_id: int) -> int:
    return conn.execute(
        text(f"select count(*) from {relation} where {column} = :p"), {"p": project_id}
    ).scalar_one()


def _refused(conn, sql: str, **params) -> str:
    """Run `sql` in a savepoint and return the server's refusal (SQLSTATE); fail if it went through."""
    refused = sqlstate_of(conn, sql, **params)
    if refused is None:
        raise AssertionError(f"not refused: {sql}")
    return refused


def test_every_table_and_view_with_a_project_column_is_covered(world):
    with world.owner_engine.connect() as conn:
        found = set(
            conn.execute(
                text(
                    "select c.oid::regclass::text from pg_attribute a"
                    " join pg_class c on c.oid = a.attrelid join pg_namespace n on n.oid = c.relnamespace"
                    " where a.attname = 'project_id' and not a.attisdropped and c.relkind in ('r', 'p', 'v')"
                    " and not c.relispartition and n.nspname in"
                    " ('users', 'auth', 'projects', 'documents', 'staging', 'audit', 'system')"
                )
            ).scalars()
        )
        secured = set(
            conn.execute(
                text(
                    "select oid::regclass::text from pg_class where relrowsecurity and relkind in ('r', 'p')"
                )
            ).scalars()
        )
        invoker = set(
            conn.execute(
                text(
                    "select oid::regclass::text from pg_class where 'security_invoker=true' = any(reloptions)"
                )
            ).scalars()
        )
    assert found | {"projects.projects"} == set(SCOPED) | set(NOT_SCOPED)
    tables = {name for name in SCOPED if name not in invoker and name != "projects.visible_project_totals"}
    assert tables <= secured, "every scoped table has row-level security on"
    views = set(SCOPED) - secured - {"projects.visible_project_totals"}
    assert views <= invoker, "every scoped view runs with the caller's rights"


@pytest.mark.parametrize("relation", SCOPED)
def test_a_non_member_sees_no_row_of_another_project(world, relation):
    column = SCOPED[relation]
    member, stranger = _as(world, world.app, "alice"), _as(world, world.app, "bob")
    admin, nobody = _as(world, world.app, "admin"), _as(world, world.app, None)
    try:
        seen = _count(member, relation, column, world.a.id)
        assert seen > 0, "the member sees the project's rows (else the test proves nothing)"
        assert _count(stranger, relation, column, world.a.id) == 0
        assert _count(stranger, relation, column, world.b.id) > 0, "Bob sees his own project"
        assert _count(nobody, relation, column, world.a.id) == 0, "no acting user: no rows"
        assert _count(admin, relation, column, world.a.id) == seen, "the admin bypass"
    finally:
        for conn in (member, stranger, admin, nobody):
            conn.close()


# What Bob, a stranger to project A, tries against each of its tables. The statements name A's
# rows directly, as a data-access function missing its permission check would.
WRITES = {
    "projects.projects": [
        "update projects.projects set name = 'taken' where id = :a",
        "delete from projects.projects where id = :a",
    ],
    "projects.project_access": [
        "update projects.project_access set role = 'owner' where project_id = :a",
        "delete from projects.project_access where project_id = :a",
    ],
    "projects.project_tag": ["delete from projects.project_tag where project_id = :a"],
    "documents.documents": [
        "update documents.documents set name = 'taken.pdf' where project_id = :a",
        "delete from documents.documents where project_id = :a",
    ],
    "documents.document_registry": ["delete from documents.document_registry where project_id = :a"],
    "staging.documents_ingest": [
        "update staging.documents_ingest set status = 'approved' where project_id = :a",
        "delete from staging.documents_ingest where project_id = :a",
    ],
}
INSERTS = {
    "projects.projects": "insert into projects.projects (name, owner_id) values ('Hijack', :alice)",
    "projects.project_access": (
        "insert into projects.project_access (project_id, user_id, role) values (:a, :bob, 'owner')"
    ),
    "projects.project_tag": "insert into projects.project_tag (project_id, tag_id) values (:a, :tag)",
    "documents.documents": (
        "insert into documents.documents (project_id, name, mime_type, checksum)"
        " select :a, 'planted.pdf', mime_type, checksum from documents.documents"
        " where project_id = :b limit 1"
    ),
    "documents.document_registry": (
        "insert into documents.document_registry (project_id, checksum) values (:a, repeat('0', 64))"
    ),
    "staging.documents_ingest": (
        "insert into staging.documents_ingest (project_id, original_name, detected_mime, checksum)"
        " values (:a, 'planted.pdf', 'application/pdf', repeat('1', 64))"
    ),
    # No INSERT on these at all: their rows come from the owner's triggers.
    "projects.project_history": (
        "insert into projects.project_history (project_id, operation) values (:a, 'update')"
    ),
    "documents.document_history": (
        "insert into documents.document_history (document_id, project_id, operation) values (1, :a, 'update')"
    ),
    "audit.audit_log": (
        "insert into audit.audit_log (action, schema_name, table_name, project_id)"
        " values ('forged', 'x', 'y', :a)"
    ),
    # A's queued document (its id is no secret: ids are guessable): no text, no queue row for it.
    "documents.document_text": (
        "insert into documents.document_text (document_id, project_id, uploaded_at, language, body)"
        " values (:queued_a, :a, now(), 'simple', 'forged words')"
    ),
    "documents.text_queue": (
        "insert into documents.text_queue (document_id, project_id, queued_by) values (:queued_a, :a, :bob)"
    ),
}


@pytest.mark.parametrize("table", INSERTS)
def test_a_non_member_cannot_write_another_projects_rows(world, table):
    params = {
        "a": world.a.id,
        "b": world.b.id,
        "alice": world.users["alice"].id,
        "bob": world.users["bob"].id,
        "tag": world.tag.id,
        "queued_a": world.queued_ids[world.a.id],
    }
    with world.owner_engine.connect() as conn:
        registered = _count(conn, "documents.document_registry", "project_id", world.a.id)
    bob = _as(world, world.app, "bob")
    try:
        for sql in WRITES.get(table, []):
            changed = bob.execute(text(sql), {k: v for k, v in params.items() if f":{k}" in sql}).rowcount
            assert changed == 0, f"{sql} changed {changed} row(s)"
        state = _refused(
            bob, INSERTS[table], **{k: v for k, v in params.items() if f":{k}" in INSERTS[table]}
        )
        assert state == "42501", "insufficient_privilege: a policy or a missing grant"
    finally:
        bob.close()
    with world.owner_engine.connect() as conn:  # and nothing changed, seen by the owner
        assert conn.execute(
            text("select name from projects.projects where id = :a"), params
        ).scalar_one() == ("Row security A")
        assert _count(conn, "projects.project_access", "project_id", world.a.id) == 3
        # The registry's trigger writes with the owner's rights (revision 0020): a refused document
        # takes its registry row with it.
        assert _count(conn, "documents.document_registry", "project_id", world.a.id) == registered


def test_a_queued_document_names_its_queuer_truly_and_belongs_to_its_own_project(world, team):
    """The indexer stores a queued document's text as whoever queued it: a reviewer may not queue one
    in someone else's name, nor queue another project's document under their own project."""
    conn = _as(world, world.app, "reviewer")
    try:
        forged = (
            "insert into documents.text_queue (document_id, project_id, queued_by) values (:d, :c, :owner)"
        )
        assert (
            _refused(conn, forged, d=team["unqueued"], c=team["c"], owner=world.users["owner"].id) == "42501"
        )
        elsewhere = (
            "insert into documents.text_queue (document_id, project_id, queued_by) values (:d, :c, :me)"
        )
        state = _refused(
            conn, elsewhere, d=world.document_ids[world.a.id], c=team["c"], me=world.users["reviewer"].id
        )
        assert state in ("23503", "42501"), "the document is not the project's"
        with pytest.raises(DBAPIError, match="only a text indexer"):
            conn.execute(text("select * from documents.claim_text_work(10, 60, true)"))
    finally:
        conn.close()


def test_rows_cannot_be_moved_into_a_project_one_is_not_a_member_of(world):
    def registered() -> tuple[int, int]:
        with world.owner_engine.connect() as conn:
            return tuple(
                _count(conn, "documents.document_registry", "project_id", p.id) for p in (world.a, world.b)
            )

    before = registered()
    bob = _as(world, world.app, "bob")
    try:
        for table in ("documents.documents", "staging.documents_ingest"):
            move = f"update {table} set project_id = :a where project_id = :b"
            assert _refused(bob, move, a=world.a.id, b=world.b.id) == "42501", table
    finally:
        bob.close()
    assert registered() == before and before[1] > 0, "the registry still names each document's own project"


def test_a_document_cannot_take_another_projects_id_to_capture_and_remove_it(world):
    """Found by review of revision 0020, whose registry trigger ran as the owner: bob gave his own
    document the id of a document in alice's project (with a new checksum, so that the trigger
    moved that registry row into his project), then deleted the registry row, and its cascade
    deleted alice's document. A document's id never changes (revision 0022), and the trigger
    writes the registry with the caller's rights."""
    victim, mine = world.document_ids[world.a.id], world.document_ids[world.b.id]
    with world.owner_engine.connect() as conn:  # stored content that no document of bob's holds
        spare = conn.execute(
            text(
                "select checksum from staging.documents_ingest where project_id = :b and status = 'rejected'"
            ),
            {"b": world.b.id},
        ).scalar_one()
    bob = _as(world, world.app, "bob")
    try:
        capture = (
            "update documents.documents set id = :victim, checksum = :c, uploaded_at = uploaded_at"
            " + interval '1 millisecond' where id = :mine"
        )
        assert _refused(bob, capture, victim=victim, c=spare, mine=mine) == "PS400"
        assert _refused(bob, "update documents.documents set id = :victim where id = :mine",
                        victim=victim, mine=mine) == "PS400"  # fmt: skip
        gone = bob.execute(text("delete from documents.document_registry where id = :v"), {"v": victim})
        assert gone.rowcount == 0
    finally:
        bob.close()
    with world.owner_engine.connect() as conn:
        assert (
            conn.execute(
                text("select project_id from documents.document_registry where id = :v"), {"v": victim}
            ).scalar_one()
            == world.a.id
        )
        assert (
            conn.execute(
                text("select count(*) from documents.documents where id = :v"), {"v": victim}
            ).scalar_one()
            == 1
        )
        assert (
            conn.execute(
                text("select prosecdef from pg_proc where oid = 'documents.register_document'::regproc")
            ).scalar_one()
            is False
        )


# Within a project, each write needs the role's permission (revision 0015). Project C has a member
# of every role; each statement below names C's rows directly, as a data-access function that
# skipped its permission check would, and is let through exactly when the role table says so.
ROLES = ("owner", "maintainer", "reviewer", "contributor", "viewer")
ROLE_WRITES = [
    ("can_edit_project", "update projects.projects set description = 'edited' where id = :c"),
    ("can_tag", "insert into projects.project_tag (project_id, tag_id) values (:c, :other_tag)"),
    ("can_tag", "delete from projects.project_tag where project_id = :c"),
    (
        "can_review",
        "insert into documents.documents (project_id, name, mime_type, checksum)"
        " values (:c, 'planted.pdf', 'application/pdf', :fresh)",
    ),
    (
        "can_delete",
        "update documents.documents set deleted_at = now(), deleted_by = :me where project_id = :c",
    ),
    (
        "can_upload",
        "insert into staging.documents_ingest (project_id, original_name, detected_mime, checksum)"
        " values (:c, 'planted.pdf', 'application/pdf', :fresh)",
    ),
    ("can_review", "update staging.documents_ingest set reviewer_notes = 'seen' where project_id = :c"),
    ("can_review", "delete from staging.documents_ingest where project_id = :c and status = 'rejected'"),
    (
        "can_review",
        "insert into documents.document_text (document_id, project_id, uploaded_at, language, body)"
        " select id, project_id, uploaded_at, 'simple', 'words'"
        " from documents.documents where id = :unqueued",
    ),
    (
        "can_review",
        "insert into documents.text_queue (document_id, project_id, queued_by) values (:unqueued, :c, :me)",
    ),
    ("can_review", "delete from documents.text_queue where project_id = :c"),
]


@pytest.fixture(scope="module")
def team(world):
    """Project C with one member of each role, a tag, a document, a rejected and a pending file."""
    with system_transaction(engine=world.owner_engine) as conn:
        for role in ROLES:
            world.users[role] = users.create_user(
                conn,
                login=f"{role}@rls.example.com",
                display_name=role.title(),
                password=f"{role}-password-long",
            )
        flags = {
            r.role: r._mapping
            for r in conn.execute(text("select * from projects.access_role_reference")).all()
        }
        fresh = make_checksum()
        conn.execute(
            text(
                "insert into documents.contents (checksum, size_bytes, storage_code, object_key)"
                " values (:c, 1, 'local', 'sha256/' || :c)"
            ),
            {"c": fresh},
        )
    with transaction(actor_id=world.users["admin"].id, engine=world.owner_engine) as conn:
        other_tag = tags.create_tag(conn, name="Row security, other", category="Test")
    with transaction(actor_id=world.users["owner"].id, engine=world.owner_engine) as conn:
        c = projects.create_project(conn, name="Row security C")
        for role in ROLES[1:]:
            access.grant_access(conn, project_id=c.id, user_id=world.users[role].id, role=role)
        tags.tag_project(conn, project_id=c.id, tag_id=world.tag.id)
        staged = [_stage(conn, c.id, f"C-{n}.pdf") for n in range(4)]
        document = approve_staged(conn, ingest_id=staged[0].id)  # queued for its text
        staging.reject(conn, ingest_id=staged[1].id, reason="not this one")
        unqueued = approve_staged(conn, ingest_id=staged[3].id)
        conn.execute(text("delete from documents.text_queue where document_id = :d"), {"d": unqueued.id})
    return {
        "c": c.id,
        "other_tag": other_tag.id,
        "fresh": fresh,
        "flags": flags,
        "document": document.id,
        "unqueued": unqueued.id,
        "pending": staged[2].id,
    }


def _params(sql: str, **given) -> dict:
    return {k: v for k, v in given.items() if f":{k}" in sql}


@pytest.mark.parametrize("role", ROLES)
def test_each_write_needs_the_roles_permission(world, team, role):
    conn = _as(world, world.app, role)
    given = {**team, "me": world.users[role].id}
    tried = 0
    try:
        for permission, sql in ROLE_WRITES:
            allowed = team["flags"][role][permission]
            savepoint = conn.begin_nested()
            try:
                changed = conn.execute(text(sql), _params(sql, **given)).rowcount
                refused = None
            except DBAPIError as error:
                changed, refused = 0, error.orig.sqlstate
            savepoint.rollback()
            if allowed:
                assert refused is None and changed >= 1, f"{role} may ({permission}): {sql}"
            else:
                assert changed == 0, f"{role} may not ({permission}) but changed rows: {sql}"
                assert refused in (None, "42501"), f"{role}: {sql} refused with {refused}, not by a policy"
                if sql.startswith("insert"):
                    assert refused == "42501", f"{role} may not ({permission}): {sql}"
            tried += 1
    finally:
        conn.close()
    assert tried == len(ROLE_WRITES)


def test_memberships_are_written_only_below_ones_own_rank(world, team):
    ids = {name: u.id for name, u in world.users.items()}
    maintainer, reviewer, viewer = (_as(world, world.app, r) for r in ("maintainer", "reviewer", "viewer"))
    c = team["c"]
    promote = "update projects.project_access set role = :r where project_id = :c and user_id = :u"
    add = "insert into projects.project_access (project_id, user_id, role) values (:c, :u, :r)"
    remove = "delete from projects.project_access where project_id = :c and user_id = :u"
    try:
        # A maintainer manages members up to maintainer, never an owner.
        assert _refused(maintainer, promote, r="owner", c=c, u=ids["viewer"]) == "42501"
        assert _refused(maintainer, add, r="owner", c=c, u=ids["bob"]) == "42501"
        assert maintainer.execute(text(remove), {"c": c, "u": ids["owner"]}).rowcount == 0
        savepoint = maintainer.begin_nested()
        assert maintainer.execute(text(promote), {"r": "reviewer", "c": c, "u": ids["viewer"]}).rowcount == 1
        maintainer.execute(text(add), {"r": "maintainer", "c": c, "u": ids["bob"]})
        savepoint.rollback()
        # Without can_manage_access, nothing: not even promoting oneself.
        assert _refused(reviewer, add, r="viewer", c=c, u=ids["bob"]) == "42501"
        assert reviewer.execute(text(remove), {"c": c, "u": ids["viewer"]}).rowcount == 0
        assert viewer.execute(text(promote), {"r": "owner", "c": c, "u": ids["viewer"]}).rowcount == 0
    finally:
        for conn in (maintainer, reviewer, viewer):
            conn.close()
    with world.owner_engine.connect() as conn:
        roles = dict(
            conn.execute(
                text(
                    "select u.login, a.role from projects.project_access a"
                    " join users.users u on u.id = a.user_id where a.project_id = :c"
                ),
                {"c": c},
            ).all()
        )
    assert roles == {f"{r}@rls.example.com": r for r in ROLES}


def test_a_viewer_past_a_skipped_check_is_told_no_and_changes_nothing(world, team, monkeypatch):
    # The data-access layer's permission checks all answer "yes": the policies still say no, and
    # the refusal reaches the person as PermissionDenied, not as a driver error.
    monkeypatch.setattr(access, "require_permission", lambda conn, **kw: None)
    viewer = _as(world, world.app, "viewer")
    try:
        with pytest.raises(PermissionDenied):
            _stage(viewer, team["c"], "planted.pdf")
        viewer.rollback()
        viewer.begin()
        set_actor(viewer, world.users["viewer"].id)
        # Approval locks the staged row first, and SELECT … FOR UPDATE passes through the update
        # policy: for the viewer the row is not there to lock.
        with pytest.raises(Conflict):
            approve_staged(viewer, ingest_id=team["pending"])
        viewer.rollback()
        viewer.begin()
        set_actor(viewer, world.users["viewer"].id)
        document = documents.soft_delete_document(viewer, document_id=team["document"])
        assert document.deleted_at is None, "the update reached no row"
    finally:
        viewer.close()
    with world.owner_engine.connect() as conn:
        assert (
            conn.execute(
                text("select status from staging.documents_ingest where id = :i"), {"i": team["pending"]}
            ).scalar_one()
            == "pending"
        )
        assert _count(conn, "staging.documents_ingest", "project_id", team["c"]) == 4


def test_access_revoked_in_another_session_is_gone_at_the_next_statement(world):
    carol = _as(world, world.app, "carol")
    try:
        assert _count(carol, "documents.documents", "project_id", world.a.id) > 0
        with transaction(actor_id=world.users["alice"].id, engine=world.owner_engine) as conn:
            access.revoke_access(conn, project_id=world.a.id, user_id=world.users["carol"].id)
        # The same transaction of Carol's, its very next statement.
        for relation, column in SCOPED.items():
            assert _count(carol, relation, column, world.a.id) == 0, relation
    finally:
        carol.close()
        with transaction(actor_id=world.users["alice"].id, engine=world.owner_engine) as conn:
            access.grant_access(conn, project_id=world.a.id, user_id=world.users["carol"].id, role="viewer")


def test_a_deactivated_user_sees_nothing(world):
    with transaction(actor_id=world.users["admin"].id, engine=world.owner_engine) as conn:
        users.deactivate_user(conn, user_id=world.users["dave"].id)
    dave = _as(world, world.app, "dave")
    try:
        assert _count(dave, "documents.documents", "project_id", world.a.id) == 0
    finally:
        dave.close()
        with transaction(actor_id=world.users["admin"].id, engine=world.owner_engine) as conn:
            users.activate_user(conn, user_id=world.users["dave"].id)


def test_the_database_holds_even_when_the_applications_own_check_is_skipped(world, monkeypatch):
    # The data-access layer's checks all answer "yes": what is left is the database's.
    monkeypatch.setattr(access, "visible_project_ids", lambda conn: None)
    monkeypatch.setattr(access, "require_permission", lambda conn, **kw: None)
    bob = _as(world, world.app, "bob")
    try:
        summary = projects.onboarding_summary(bob)
        assert set(summary.project_id) == {world.b.id}
        with pytest.raises(NotFound), domain_errors():
            documents.soft_delete_document(bob, document_id=world.document_ids[world.a.id])
    finally:
        bob.close()


def test_the_app_role_has_no_ddl_no_truncate_and_cannot_touch_the_audit_log(world):
    conn = _as(world, world.app, "admin")  # even acting as an admin
    try:
        assert conn.execute(text("select current_user")).scalar_one() == "prosync_app"
        for sql in [
            "create table projects.intruder (id int)",
            "alter table documents.documents add column x int",
            "drop view documents.active_documents",
            "truncate documents.contents",
            "truncate audit.audit_log",
            "update audit.audit_log set action = 'changed'",
            "delete from audit.audit_log",
            "refresh materialized view projects.project_totals",
            "select count(*) from projects.project_totals",
            "select count(*) from documents.documents_default",
            "select count(*) from audit.audit_log_default",
            "set session_replication_role = replica",
            "alter table audit.audit_log disable row level security",
        ]:
            assert _refused(conn, sql) == "42501", sql
    finally:
        conn.close()


def test_only_a_policys_refusal_becomes_permission_denied(world):
    # A policy's refusal is the person's (their role); a missing grant is the deployment's and
    # must not be dressed up as the person's.
    conn = _as(world, world.app, "carol")  # a viewer of A
    try:
        savepoint = conn.begin_nested()
        with pytest.raises(PermissionDenied, match="Your role in this project"), domain_errors():
            conn.execute(
                text("insert into projects.project_tag (project_id, tag_id) values (:a, :t)"),
                {"a": world.a.id, "t": world.tag.id},
            )
        savepoint.rollback()
        savepoint = conn.begin_nested()
        with pytest.raises(DBAPIError, match="permission denied for table audit_log"), domain_errors():
            conn.execute(text("delete from audit.audit_log"))
        savepoint.rollback()
    finally:
        conn.close()


def test_the_read_only_role_reads_but_never_writes_nor_sees_secrets(world):
    conn = _as(world, world.readonly, "alice")
    try:
        assert _count(conn, "documents.active_documents", "project_id", world.a.id) > 0
        assert _count(conn, "documents.active_documents", "project_id", world.b.id) == 0
        for sql in [
            "update projects.projects set name = 'x'",
            "insert into projects.project_tag (project_id, tag_id) values (1, 1)",
            "select token_hash from auth.sessions",
            "select password_hash from users.users",
            "select count(*) from projects.project_totals",
        ]:
            assert _refused(conn, sql) == "42501", sql
        assert conn.execute(text("select count(*) from users.users")).scalar_one() >= 6
    finally:
        conn.close()


def test_ops_look_past_membership_only_through_the_explain_bypass_and_it_is_audited(world):
    ops_conn = _as(world, world.app, "ops")
    try:
        assert _count(ops_conn, "documents.documents", "project_id", world.a.id) == 0
        sample = explain.explain_sample(ops_conn, project_id=world.a.id)
        assert sample is not None and sample.project_id == world.a.id
        assert sample.login == "alice@rls.example.com", "the top-ranked member"
        explain.record_explain(ops_conn, sample)
        ops_conn.commit()
    finally:
        ops_conn.close()
    with world.owner_engine.connect() as conn:
        row = conn.execute(
            text(
                "select actor_id, context from audit.audit_log where action = 'rls_bypass'"
                " and project_id = :a order by id desc limit 1"
            ),
            {"a": world.a.id},
        ).one()
    assert row.actor_id == world.users["ops"].id
    assert row.context == {"purpose": "explain", "as_user": world.users["alice"].id}
    lead = _as(world, world.app, "bob")
    try:
        with pytest.raises(PermissionDenied):
            explain.explain_sample(lead, project_id=world.a.id)
        assert _refused(lead, "select * from system.explain_sample(:a, null)", a=world.a.id) == "42501"
        assert _refused(lead, "select audit.record_bypass('explain', :a, 1)", a=world.a.id) == "42501"
    finally:
        lead.close()


def test_an_admins_look_past_membership_is_recorded_once_an_hour(world):
    def bypasses() -> int:
        with world.owner_engine.connect() as conn:
            return conn.execute(
                text(
                    "select count(*) from audit.audit_log where action = 'rls_bypass' and project_id = :b"
                    " and actor_id = :admin and context ->> 'purpose' = 'admin'"
                ),
                {"b": world.b.id, "admin": world.users["admin"].id},
            ).scalar_one()

    before = bypasses()
    for _ in range(2):  # the second look within the hour is not written again
        with transaction(actor_id=world.users["admin"].id, engine=world.app) as conn:
            assert access.record_admin_view(conn, project_id=world.b.id) is True
    assert bypasses() == before + 1
    with transaction(actor_id=world.users["bob"].id, engine=world.app) as conn:
        assert (
            conn.execute(  # in project B's own trail, which its members read
                text("select count(*) from audit.audit_log where action = 'rls_bypass' and project_id = :b"),
                {"b": world.b.id},
            ).scalar_one()
            == before + 1
        )
        with pytest.raises(PermissionDenied):
            access.record_admin_view(conn, project_id=world.b.id)
    # An admin who is a member passes by their membership: nothing to record.
    with transaction(actor_id=world.users["bob"].id, engine=world.owner_engine) as conn:
        access.grant_access(conn, project_id=world.b.id, user_id=world.users["admin"].id, role="viewer")
    try:
        with transaction(actor_id=world.users["admin"].id, engine=world.app) as conn:
            assert access.record_admin_view(conn, project_id=world.b.id) is False
            with pytest.raises(NotFound):
                access.record_admin_view(conn, project_id=10**12)
    finally:
        with transaction(actor_id=world.users["bob"].id, engine=world.owner_engine) as conn:
            access.revoke_access(conn, project_id=world.b.id, user_id=world.users["admin"].id)
    assert bypasses() == before + 1


def test_ops_see_audit_rows_that_name_no_project_and_members_see_their_own(world):
    ops_conn, alice = _as(world, world.app, "ops"), _as(world, world.app, "alice")
    try:
        nameless = "select count(*) from audit.audit_log where project_id is null and actor_id = :u"
        admin_id, alice_id = world.users["admin"].id, world.users["alice"].id
        assert ops_conn.execute(text(nameless), {"u": admin_id}).scalar_one() > 0
        assert alice.execute(text(nameless), {"u": admin_id}).scalar_one() == 0
        # A row that names no project and that Alice wrote (her sign-in, in her rolled-back
        # transaction): she sees it, and every other such row of hers, as the owner does.
        with world.owner_engine.connect() as owner:
            committed = owner.execute(text(nameless), {"u": alice_id}).scalar_one()
        alice.execute(text("select audit.record_event('sign_in', 'sign_in', :u, null)"), {"u": str(alice_id)})
        assert alice.execute(text(nameless), {"u": alice_id}).scalar_one() == committed + 1
    finally:
        ops_conn.close()
        alice.close()


def test_the_running_app_connects_as_prosync_app(world, monkeypatch):
    from db.core.engine import app_database_url, get_engine, read_database_url
    from db.core.settings import load

    settings = load({"DATABASE_URL": world.owner_engine.url.render_as_string(hide_password=False)})
    assert make_url(app_database_url(settings)).username == "prosync_app"
    with get_engine(settings).connect() as conn:
        assert conn.execute(text("select current_user")).scalar_one() == "prosync_app"
    explicit = load({"DATABASE_URL": "postgresql://a@h/d", "DATABASE_APP_URL": "postgresql://b:pw@h/d"})
    assert app_database_url(explicit) == "postgresql://b:pw@h/d"
    # Derived from the owner's URL: another user, the owner's password left behind.
    derived = load({"DATABASE_URL": "postgresql://owner:secret@h:5433/d?sslmode=require"})
    assert app_database_url(derived) == "postgresql://prosync_app@h:5433/d?sslmode=require"
    # A replica reached with the owner's login is read as prosync_app all the same.
    replica = load({"DATABASE_URL": "postgresql://a@h/d", "DATABASE_READ_URL": "postgresql://a:pw@r/d"})
    assert read_database_url(replica) == "postgresql://prosync_app@r/d"
    readonly = load({"DATABASE_READ_URL": "postgresql://prosync_readonly:pw@r/d"})
    assert read_database_url(readonly) == "postgresql://prosync_readonly:pw@r/d"


def test_the_app_login_cannot_become_the_owner(world):
    conn = _as(world, world.app, None)
    try:
        assert _refused(conn, "set role prosync_owner") == "42501"
        assert _refused(conn, "set role postgres") == "42501"
    finally:
        conn.close()
    with psycopg.connect(world.owner_engine.url.set(drivername="postgresql").render_as_string(False)) as raw:
        attrs = raw.execute(
            "select rolsuper, rolcreaterole, rolcreatedb, rolbypassrls from pg_roles"
            " where rolname = 'prosync_app'"
        ).fetchone()
    assert attrs == (False, False, False, False)


def test_name_search_under_row_security_still_uses_its_trigram_index(world):
    """Only a LEAKPROOF condition may run ahead of a policy: migration 0013 marks ILIKE's function
    so, else the search reads every document (1.7 s instead of 2 ms at a million)."""
    conn = _as(world, world.app, "alice")
    try:
        indexes = plan_indexes(
            conn, "select id from documents.documents where name ilike '%a-1%' and deleted_at is null"
        )
    finally:
        conn.close()
    assert "documents_name_trgm_idx" in indexes


def test_sign_in_is_throttled_when_the_app_runs_as_prosync_app(world):
    """Throttling must count attempts that name no project and no signed-in user: as prosync_app
    such audit rows are hidden, so counting them found none and nothing was ever throttled
    (revision 0014 counted through the owner; revision 0017 counts in auth.sign_in_attempts,
    through auth.count_sign_in_attempt)."""
    from functools import partial

    from db.domain import sessions

    messages = []
    for _ in range(sessions.ACCOUNT_ATTEMPTS + 1):
        outcome = sessions.sign_in(
            partial(transaction, actor_id=None, engine=world.app),
            login="carol@rls.example.com",
            password="not her password",
            user_agent="t",
            ip_address=None,
        )
        messages.append(outcome.message)
    assert all("not correct" in m for m in messages[:-1])
    assert "Too many failed sign-ins" in messages[-1]
