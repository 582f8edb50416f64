"""Schema changes in the audit log through event triggers, and a server that refuses them."""

import psycopg
from sqlalchemy import make_url, text

from db.core import migrate
from db.core.engine import make_engine, sqlalchemy_url, system_transaction, url_as
from db.ops import schema
from tests.conftest import acting, create_database, make_user


def _ddl_rows(conn, name: str):
    return conn.execute(
        text(
            "select actor_id, schema_name, table_name, record_id, coalesce(new_values, old_values) as what,"
            " context->>'statement' as statement from audit.audit_log"
            " where action = 'ddl' and record_id = :name order by id"
        ),
        {"name": name},
    ).all()


def test_create_alter_comment_and_drop_are_recorded_with_who_and_what(conn):
    ops_user = make_user(conn, roles=("ops",))
    with acting(conn, ops_user):
        conn.execute(text("reset role"))  # an operator's psql session that says who they are
        conn.execute(text("create table public.ddl_probe (id int)"))
        conn.execute(text("alter table public.ddl_probe add column note text"))
        conn.execute(text("comment on table public.ddl_probe is $$password 'hunter2' is not kept$$"))
        conn.execute(text("create index ddl_probe_note_idx on public.ddl_probe (note)"))
        conn.execute(text("drop table public.ddl_probe"))
        conn.execute(text("refresh materialized view projects.project_totals"))
    rows = _ddl_rows(conn, "public.ddl_probe")
    assert [r.what["command"] for r in rows] == ["CREATE TABLE", "ALTER TABLE", "COMMENT", "DROP TABLE"]
    assert {(r.actor_id, r.schema_name, r.table_name) for r in rows} == {(ops_user.id, "public", "table")}
    assert "add column note" in rows[1].statement
    assert "hunter2" not in rows[2].statement and "password '…'" in rows[2].statement
    assert _ddl_rows(conn, "projects.project_totals") == [], "a refresh changes data, not the schema"
    index = _ddl_rows(conn, "public.ddl_probe_note_idx")
    assert [r.what["command"] for r in index] == ["CREATE INDEX"], "an index dropped with its table is not"
    with acting(conn, ops_user):
        changes = schema.schema_changes(conn)
    assert changes.recorded
    newest = changes.events.iloc[0]
    assert (newest.command, newest.object, newest.who) == ("DROP TABLE", "public.ddl_probe", ops_user.login)


SECRETS = [
    ("alter role prosync_secret_probe password E'e-sec\\'ret1'", "e-sec"),
    ("alter role prosync_secret_probe password $pw$dollar-secret2$pw$", "dollar-secret2"),
    ("select 'password = plain-secret3'", "plain-secret3"),
    ("select 'host=db port=5432 password=conn-secret4 dbname=x'", "conn-secret4"),
    ("select 'postgresql://bob:uri-secret5@db/prosync'", "uri-secret5"),
]


def test_no_form_of_password_reaches_the_schema_change_audit(conn):
    """Found: `PASSWORD '…'` was blanked, but not E'…', a dollar-quoted password or one inside a
    connection string, and the Ops screen showed them. A script's other statements are part of each
    recorded statement (current_query()), so each secret rides along with a CREATE TABLE here."""
    conn.execute(text("create role prosync_secret_probe"))
    for n, (statement, secret) in enumerate(SECRETS):
        conn.exec_driver_sql(f"{statement}; create table public.secret_probe_{n} (id int)")
        (row,) = _ddl_rows(conn, f"public.secret_probe_{n}")
        assert secret not in row.statement and "…" in row.statement, row.statement
    conn.execute(text("drop role prosync_secret_probe"))


def test_a_server_that_refuses_event_triggers_is_migrated_without_them_and_says_so(server_url):
    admin = psycopg.connect(server_url, autocommit=True)
    try:
        admin.execute("drop database if exists prosync_no_event_triggers with (force)")
        admin.execute("drop role if exists prosync_plain_owner")
        admin.execute("create role prosync_plain_owner login")
        # What docs/security.md asks of a managed server's administrator: ProSync's roles exist
        # and the login that migrates is a member of the owner role.
        for role in ("prosync_owner nologin", "prosync_app login", "prosync_readonly login"):
            admin.execute(
                f"do $$ begin create role {role}; exception when duplicate_object then null; end $$"
            )
        admin.execute("grant prosync_owner to prosync_plain_owner")
        url = create_database(server_url, "prosync_no_event_triggers")
        admin.execute("alter database prosync_no_event_triggers owner to prosync_plain_owner")
        owner_url = make_url(url_as(url, "prosync_plain_owner"))
        said = migrate.upgrade(url=owner_url.render_as_string(hide_password=False))
        assert any("refused event triggers to prosync_plain_owner" in w for w in said), said
        engine = make_engine(sqlalchemy_url(owner_url.render_as_string(hide_password=False)))
        with system_transaction(engine=engine) as conn:
            assert migrate.current_revision(conn) == migrate.head_revision()
            conn.execute(text("create table public.unrecorded (id int)"))
            changes = schema.schema_changes(conn)
        engine.dispose()
        assert not changes.recorded and "public.unrecorded" not in set(changes.events.object)
    finally:
        admin.execute("drop database if exists prosync_no_event_triggers with (force)")
        admin.execute("drop role if exists prosync_plain_owner")
        admin.close()
