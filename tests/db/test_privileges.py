"""What each database role may do (revision 0016), found from the catalog: every table and every
routine in ProSync's schemas, tried as prosync_owner, prosync_app and prosync_readonly, each over a
connection of its own. A table or function added later is tried too, and fails here until this
file says which role may use it. docs/security.md holds the same matrix.

Then the SECURITY DEFINER functions' own checks: each refuses an actor without the right."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from db.core import migrate
from db.core.engine import make_engine, set_actor, sqlalchemy_url, url_as
from tests.conftest import create_database, sqlstate_of
from tests.db.test_row_security import World

SCHEMAS = ("users", "auth", "projects", "documents", "staging", "audit", "system")
ROLES = ("prosync_owner", "prosync_app", "prosync_readonly")

# What prosync_app may write, table by table; every other table (reference tables, system roles,
# the partition policy, contents, history, the audit log, any table added later) it only reads.
# Each of these has row-level security (tested below).
APP_WRITES = {
    "users.users": {"insert", "update"},
    "auth.sessions": {"insert", "update"},
    "projects.projects": {"insert", "update", "delete"},
    "projects.project_access": {"insert", "update", "delete"},
    "projects.project_tag": {"insert", "update", "delete"},
    "documents.documents": {"insert", "update", "delete"},
    "documents.document_registry": {"insert", "update", "delete"},
    "staging.documents_ingest": {"insert", "update", "delete"},
    "staging.upload_claims": {"insert", "delete"},
    "auth.api_tokens": {"insert", "update"},
    "auth.api_token_projects": {"insert"},
    "auth.api_idempotency": {"insert", "update", "delete"},
    "documents.document_text": {"insert", "update", "delete"},
    "documents.text_queue": {"insert", "delete"},
}
# Routines the row-level security policies call (as the querying role): both limited logins.
POLICY_HELPERS = {
    "system.current_actor",
    "system.actor_sees_all",
    "system.actor_is_ops",
    "projects.actor_projects",
    "projects.actor_projects_with",
    "auth.token_limits",
}
# Routines the dashboard calls; each SECURITY DEFINER one checks the acting user (tests below).
APP_ROUTINES = POLICY_HELPERS | {
    "system.actor_is_owner_login",
    "projects.actor_may_grant",
    "projects.actor_role",
    "projects.refresh_totals",
    "projects.create_tag",
    "projects.update_tag",
    "system.period_start",
    "system.period_step",
    "system.maintain_partitions",
    "system.default_partition_rows",
    "system.explain_sample",
    "audit.record_bypass",
    "audit.record_event",
    "users.login_key",
    "audit.record_download",
    "auth.count_sign_in_attempt",
    "auth.forgive_sign_in_attempt",
    "documents.store_contents",
    "documents.stored_contents",
    "documents.release_content",
    "staging.claimed_checksums",
    "users.set_system_role",
    "auth.use_token",
    # The text indexer's claim: queued document ids and who approved them, no names and no text (the
    # indexer then reads and writes as that user); docs/security.md.
    "documents.claim_text_work",
    "documents.text_backlog",
}


@pytest.fixture(scope="module")
def world(server_url):
    url = create_database(server_url, "prosync_privileges")
    migrate.upgrade(url=url)
    owner = make_engine(sqlalchemy_url(url))
    world = World(owner)
    world.engines = {
        "prosync_owner": owner,
        "prosync_app": make_engine(url_as(sqlalchemy_url(url), "prosync_app")),
        "prosync_readonly": make_engine(url_as(sqlalchemy_url(url), "prosync_readonly")),
    }
    yield world
    for engine in world.engines.values():
        engine.dispose()


def _connect(world, role: str, actor: str | None = None):
    """A transaction as `role` (the owner: the migrating superuser with SET ROLE, as prosync_owner
    logs in nowhere), acting as the named user; rolled back when closed."""
    conn = world.engines[role].connect()
    conn.begin()
    if role == "prosync_owner":
        conn.execute(text("set local role prosync_owner"))
    set_actor(conn, None if actor is None else world.users[actor].id)
    return conn


def _tables(conn) -> dict[str, str]:
    """Every table in ProSync's schemas (partitions are reached through their parent) -> a column
    that a statement may name (not generated)."""
    rows = conn.execute(
        text(
            "select c.oid::regclass::text as name,"
            " (select a.attname from pg_attribute a where a.attrelid = c.oid and a.attnum > 0"
            "  and not a.attisdropped and a.attidentity = '' and a.attgenerated = ''"
            "  order by a.attnum limit 1) as col"
            " from pg_class c join pg_namespace n on n.oid = c.relnamespace"
            " where n.nspname = any(:s) and c.relkind in ('r', 'p') and not c.relispartition"
        ),
        {"s": list(SCHEMAS)},
    )
    return {r.name: r.col for r in rows}


def _routines(conn) -> dict[str, str]:
    """Every routine in ProSync's schemas -> a call of it with typed null arguments (a function's
    each from a subquery: the planner folds a STRICT immutable function of a constant null away
    before any privilege is checked; CALL takes no subquery, and folds nothing)."""
    rows = conn.execute(
        text(
            "select n.nspname || '.' || p.proname as name, p.prokind,"
            " coalesce((select string_agg(case when p.provariadic <> 0 and t.n = p.pronargs then 'variadic '"
            "   else '' end || case when p.prokind = 'p' then 'null::' || format_type(t.typ, null)"
            "   else '(select null::' || format_type(t.typ, null) || ')' end, ', ' order by t.n)"
            "   from unnest(p.proargtypes::oid[]) with ordinality t (typ, n)), '') as args"
            " from pg_proc p join pg_namespace n on n.oid = p.pronamespace where n.nspname = any(:s)"
        ),
        {"s": list(SCHEMAS)},
    )
    calls = {}
    for r in rows:
        call = f"{r.name}({r.args})"
        calls[r.name] = f"call {call}" if r.prokind == "p" else f"select {call}"
    return calls


def _write(command: str, table: str, column: str) -> str:
    # `where false`: the privilege is checked when the statement starts, before any row.
    return {
        "insert": f'insert into {table} ("{column}") select null where false',
        "update": f'update {table} set "{column}" = "{column}" where false',
        "delete": f"delete from {table} where false",
    }[command]


def _may_write(role: str, table: str, command: str) -> bool:
    if role == "prosync_owner":
        return True
    if role == "prosync_app":
        return command in APP_WRITES.get(table, set())
    return False


@pytest.mark.parametrize("role", ROLES)
def test_each_role_writes_exactly_the_tables_it_should(world, role):
    conn = _connect(world, role)
    try:
        tables = _tables(conn)
        assert set(APP_WRITES) <= set(tables), "APP_WRITES names a table that is gone"
        wrong = []
        for table, column in sorted(tables.items()):
            for command in ("insert", "update", "delete"):
                refused = sqlstate_of(conn, _write(command, table, column))
                assert refused in (None, "42501"), (table, command, refused)
                if (refused is None) != _may_write(role, table, command):
                    wrong.append(f"{command} {table}: {'allowed' if refused is None else 'refused'}")
        assert wrong == []
    finally:
        conn.close()


@pytest.mark.parametrize("role", ["prosync_app", "prosync_readonly"])
def test_each_role_executes_exactly_the_routines_it_should(world, role):
    allowed = APP_ROUTINES if role == "prosync_app" else POLICY_HELPERS
    conn = _connect(world, role)
    try:
        routines = _routines(conn)
        assert allowed <= set(routines), "a routine named here is gone"
        wrong = []
        for name, call in sorted(routines.items()):
            granted = conn.execute(
                text("select has_function_privilege(current_user, cast(:f as regproc), 'EXECUTE')"),
                {"f": name},
            ).scalar_one()
            if name in allowed:
                if not granted:
                    wrong.append(f"{name}: not granted")
                continue
            # Not granted: calling it (with null arguments) is refused before it runs.
            if sqlstate_of(conn, call) != "42501":
                wrong.append(f"{name}: not refused")
        assert wrong == []
    finally:
        conn.close()


def test_no_routine_is_executable_by_public(world):
    conn = _connect(world, "prosync_owner")
    try:
        public = conn.execute(
            text(
                "select p.oid::regprocedure::text from pg_proc p"
                " join pg_namespace n on n.oid = p.pronamespace"
                " where n.nspname = any(:s) and (p.proacl is null or exists ("
                "  select from aclexplode(p.proacl) a where a.grantee = 0 and a.privilege_type = 'EXECUTE'))"
            ),
            {"s": list(SCHEMAS)},
        ).scalars()
        assert list(public) == []
        # And one made later by the owner starts without it (default privileges).
        conn.execute(text("create function system.made_later() returns int language sql as 'select 1'"))
        acl = conn.execute(text("select proacl::text from pg_proc where proname = 'made_later'")).scalar_one()
        assert acl is not None and "=X/" not in acl.replace("prosync_owner=X/", "")
    finally:
        conn.close()


def test_every_table_the_app_writes_has_row_level_security(world):
    conn = _connect(world, "prosync_owner")
    try:
        secured = set(
            conn.execute(
                text(
                    "select oid::regclass::text from pg_class where relrowsecurity and relkind in ('r', 'p')"
                )
            ).scalars()
        )
    finally:
        conn.close()
    assert set(APP_WRITES) <= secured


def test_the_readonly_role_cannot_record_audit_events_or_detach_partitions(world):
    conn = _connect(world, "prosync_readonly", "admin")
    try:
        for sql in [
            "select audit.record_event('sign_in', 'sign_in', 'x', null)",
            "select audit.record_bypass('admin', 1, null)",
            "select * from system.maintain_partitions('audit.audit_log', 0, 0, 1)",
            "select * from system.maintain_partitions('documents.documents', 0, 0, 1)",
            "select system.create_partition('audit.audit_log', now())",
        ]:
            assert sqlstate_of(conn, sql) == "42501", sql
    finally:
        conn.close()


@pytest.mark.parametrize(
    "sql",
    [
        "insert into users.user_system_role (user_id, role) values (:me, 'admin')",
        "update projects.access_role_reference set can_delete = true where role = 'viewer'",
        "update documents.filetype_reference set max_size_bytes = max_size_bytes",
        "update documents.storage_reference set is_default = not is_default",
        "update documents.contents set object_key = 'elsewhere/secret'",
        "insert into projects.tag_reference (name, category) values ('x', 'y')",
        "update system.partition_policy set storage_options = '{}'",
        "insert into audit.audit_log (action, schema_name, table_name) values ('forged', 'a', 'b')",
    ],
)
def test_the_app_cannot_write_reference_tables_roles_contents_or_history(world, sql):
    conn = _connect(world, "prosync_app", "admin")  # even acting as an admin
    try:
        assert sqlstate_of(conn, sql, me=world.users["admin"].id) == "42501"
    finally:
        conn.close()


def test_no_sql_can_be_smuggled_through_the_partition_policy(world):
    """prosync_app may not write the policy at all; and even the owner cannot store an option that
    is not `name=value`, nor make maintenance run one (the check is made again in the function)."""
    conn = _connect(world, "prosync_owner")
    try:
        injected = '{"fillfactor=100) ; create table public.pwned (x int); --"}'
        update = "update system.partition_policy set storage_options = cast(:o as text[])"
        assert sqlstate_of(conn, update + " where parent_table = 'audit.audit_log'", o=injected) == "23514"
        conn.execute(text("reset role"))
        conn.execute(
            text("alter table system.partition_policy drop constraint partition_policy_storage_options_plain")
        )
        conn.execute(text(update + " where parent_table = 'audit.audit_log'"), {"o": injected})
        assert (
            sqlstate_of(conn, "select * from system.maintain_partitions('audit.audit_log', 24, 0, null)")
            == "PS400"
        )
        assert conn.execute(text("select to_regclass('public.pwned')")).scalar_one() is None
        # A parent that is not ProSync's, named by a caller, is refused before anything is built.
        assert (
            sqlstate_of(conn, "select * from system.maintain_partitions('pg_catalog.pg_class', 1, 0, null)")
            == "PS400"
        )
        assert (
            sqlstate_of(conn, "select system.default_partition_rows('users.users; drop table x')") == "PS400"
        )
    finally:
        conn.close()


@pytest.mark.parametrize(
    ("actor", "sql", "sqlstate"),
    [
        ("alice", "select * from system.maintain_partitions('audit.audit_log', 0, 0, 1)", "PS403"),
        ("alice", "select system.default_partition_rows('audit.audit_log')", "PS403"),
        ("alice", "select projects.create_tag('x', 'y', '', null)", "PS403"),
        ("alice", "select projects.update_tag(1, 'Renamed', null, null, null)", "PS403"),
        ("alice", "call users.set_system_role(:me, 'admin', true, null)", "PS403"),
        ("ops", "call users.set_system_role(:me, 'admin', true, null)", "PS403"),
        (None, "call users.set_system_role(:me, 'admin', true, null)", "PS403"),
        ("alice", "select audit.record_event('rls_bypass', 'sign_in', 'x', null)", "PS400"),
        ("alice", "select audit.record_event('sign_in', 'projects', 'x', null)", "PS400"),
        ("carol", "select * from documents.stored_contents(array['00'])", "PS403"),  # a viewer only
        (
            "carol",
            "select * from documents.store_contents(array[repeat('a', 64)], array[1], array['local'],"
            " array['sha256/aa/aa/' || repeat('a', 64)])",
            "PS403",
        ),  # fmt: skip
        (
            "alice",
            "select * from documents.store_contents(array[repeat('a', 64)], array[1], array['local'],"
            " array['sha256/somebody/elses/object'])",
            "PS400",
        ),  # fmt: skip
        ("ops", "select system.explain_sample(null, null)", None),
        ("alice", "select system.explain_sample(null, null)", "42501"),
        ("alice", "select audit.record_bypass('explain', 1, null)", "42501"),
        ("alice", "select * from documents.claim_text_work(10, 60, true)", "42501"),  # only an indexer
        (None, "select * from documents.claim_text_work(10, 60, true)", None),
        ("alice", "select * from documents.text_backlog()", "42501"),
        ("ops", "select * from documents.text_backlog()", None),
    ],
)
def test_security_definer_functions_check_the_actor(world, actor, sql, sqlstate):
    conn = _connect(world, "prosync_app", actor)
    try:
        assert sqlstate_of(conn, sql, me=world.users["alice"].id) == sqlstate
    finally:
        conn.close()


def test_an_admin_may_use_the_narrow_functions(world):
    conn = _connect(world, "prosync_app", "admin")
    try:
        alice = world.users["alice"].id
        assert sqlstate_of(conn, "call users.set_system_role(:me, 'ops', true, null)", me=alice) is None
        assert sqlstate_of(conn, "select projects.create_tag('Curated', 'test', '', null)") is None
        assert (
            sqlstate_of(conn, "select * from system.maintain_partitions('audit.audit_log', 1, 0, null)")
            is None
        )
    finally:
        conn.close()


def test_the_app_writes_only_its_own_user_row_and_sessions(world):
    conn = _connect(world, "prosync_app", "alice")
    try:
        bob = world.users["bob"].id
        # Another user's row is not there to update (the policy), and a new session for them is refused.
        assert (
            conn.execute(
                text("update users.users set display_name = 'Mallory' where id = :b"), {"b": bob}
            ).rowcount
            == 0
        )
        assert (
            sqlstate_of(
                conn,
                "insert into auth.sessions (user_id, token_hash, expires_at)"
                " values (:b, sha256('x'), now() + interval '1 h')",
                b=bob,
            )
            == "42501"
        )
        assert (
            conn.execute(
                text("update auth.sessions set revoked_at = now() where user_id = :b"), {"b": bob}
            ).rowcount
            == 0
        )
        # Their own row: the name, yes; the account's state or address, no.
        me = world.users["alice"].id
        assert (
            conn.execute(
                text("update users.users set display_name = 'Alice A' where id = :m"), {"m": me}
            ).rowcount
            == 1
        )
        assert (
            sqlstate_of(
                conn, "update users.users set is_active = true, login = 'root@x.example' where id = :m", m=me
            )
            == "PS403"
        )
    finally:
        conn.close()


def test_members_see_only_the_contents_and_claims_of_their_own_projects(world):
    bob_conn = _connect(world, "prosync_app", "bob")
    alice_conn = _connect(world, "prosync_app", "alice")
    try:
        bobs = set(bob_conn.execute(text("select checksum from documents.contents")).scalars())
        alices = set(alice_conn.execute(text("select checksum from documents.contents")).scalars())
        assert bobs and alices and not (bobs & alices)
        a_checksums = set(
            alice_conn.execute(
                text("select checksum from staging.documents_ingest where project_id = :a"), {"a": world.a.id}
            ).scalars()
        )
        assert a_checksums <= alices
        alice_conn.execute(text("insert into staging.upload_claims (checksum) values (repeat('c', 64))"))
        assert bob_conn.execute(text("select count(*) from staging.upload_claims")).scalar_one() == 0
        assert alice_conn.execute(text("select count(*) from staging.upload_claims")).scalar_one() == 1
        forged = "insert into staging.upload_claims (checksum, claimed_by) values ('x', :a)"
        assert sqlstate_of(bob_conn, forged, a=world.users["alice"].id) == "42501"
    finally:
        bob_conn.close()
        alice_conn.close()
