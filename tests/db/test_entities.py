"""Views and routines are defined once, in migrations/entities/, and the newest file of each is what
the migrations left in the database; the generated audit capture functions are checked against the
generator and a golden file (docs/migrations.md)."""

from __future__ import annotations

import difflib
import os
import re
from pathlib import Path

import psycopg
import pytest
from alembic.operations import Operations
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, text

from db.core import migrate
from migrations import helpers
from migrations.helpers import ENTITIES_DIR, define_entity, entity_versions, is_drop_file

NEWEST = {folder.name: entity_versions(folder.name)[-1] for folder in sorted(ENTITIES_DIR.iterdir())}
DEFINED = sorted(name for name, path in NEWEST.items() if not is_drop_file(path))
GOLDEN_TABLE = "projects.projects"
GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "audit.capture_projects_projects.sql"

# Each audited table's capture function (audit.enable names it audit.capture_<schema>_<table> and
# points the table's audit triggers at it), with the arguments its triggers were made with.
GENERATED = """
select distinct pg_catalog.format('%I.%I', n.nspname, c.relname) as table_name, p.oid::regprocedure::text,
       (pg_catalog.string_to_array(pg_catalog.encode(t.tgargs, 'escape'), '\\000'))[1:6] as args
from pg_catalog.pg_trigger t
join pg_catalog.pg_class c on c.oid = t.tgrelid
join pg_catalog.pg_namespace n on n.oid = c.relnamespace
join pg_catalog.pg_proc p on p.oid = t.tgfoid
where t.tgname = 'audit_insert' and p.proname = 'capture_' || n.nspname || '_' || c.relname
"""
# Views and routines in ProSync's schemas (the ones its owner role owns), an extension's left out.
IN_DATABASE = f"""
select n.nspname || '.' || c.relname
from pg_catalog.pg_class c join pg_catalog.pg_namespace n on n.oid = c.relnamespace
where n.nspowner = 'prosync_owner'::regrole and c.relkind = 'v'
  and not exists (select from pg_catalog.pg_depend d
                  where d.classid = 'pg_class'::regclass and d.objid = c.oid and d.deptype = 'e')
union all
select n.nspname || '.' || p.proname
from pg_catalog.pg_proc p join pg_catalog.pg_namespace n on n.oid = p.pronamespace
where n.nspowner = 'prosync_owner'::regrole
  and not exists (select from pg_catalog.pg_depend d
                  where d.classid = 'pg_proc'::regclass and d.objid = p.oid and d.deptype = 'e')
  and p.oid::regprocedure::text not in (select g.oid from ({GENERATED}) g(table_name, oid, args))
"""
# What an entity file decides, as the database says it: the definition, options, comment, grants.
VIEW_STATE = """
select pg_catalog.concat_ws(E'\\n',
    pg_catalog.pg_get_viewdef(c.oid, true),
    '-- options: ' || coalesce(pg_catalog.array_to_string(c.reloptions, ', '), ''),
    '-- columns: ' || (select pg_catalog.string_agg(a.attname || ' '
                                || pg_catalog.format_type(a.atttypid, a.atttypmod), ', ' order by a.attnum)
                       from pg_catalog.pg_attribute a where a.attrelid = c.oid and a.attnum > 0),
    '-- comment: ' || coalesce(pg_catalog.obj_description(c.oid, 'pg_class'), ''),
    '-- owner: ' || pg_catalog.pg_get_userbyid(c.relowner))
from pg_catalog.pg_class c join pg_catalog.pg_namespace n on n.oid = c.relnamespace
where n.nspname = :schema and c.relname = :name and c.relkind = 'v'
"""
ROUTINE_STATE = """
select pg_catalog.concat_ws(E'\\n',
    pg_catalog.pg_get_functiondef(p.oid),
    '-- comment: ' || coalesce(pg_catalog.obj_description(p.oid, 'pg_proc'), ''),
    '-- privileges: ' || coalesce((select pg_catalog.string_agg(x, ' ' order by x)
                                   from pg_catalog.unnest(p.proacl::text[]) x), 'default'),
    '-- owner: ' || pg_catalog.pg_get_userbyid(p.proowner))
from pg_catalog.pg_proc p join pg_catalog.pg_namespace n on n.oid = p.pronamespace
where n.nspname = :schema and p.proname = :name
"""
EVERYTHING = """
select pg_catalog.array_agg(x order by x) from (
    select c.oid::regclass::text as x from pg_catalog.pg_class c
    join pg_catalog.pg_namespace n on n.oid = c.relnamespace
    where n.nspowner = 'prosync_owner'::regrole and c.relkind = 'v'
    union all
    select p.oid::regprocedure::text from pg_catalog.pg_proc p
    join pg_catalog.pg_namespace n on n.oid = p.pronamespace
    where n.nspowner = 'prosync_owner'::regrole) o
"""


def _state(conn: Connection, name: str) -> str | None:
    schema, _, bare = name.partition(".")
    found = conn.execute(text(VIEW_STATE), {"schema": schema, "name": bare}).scalars().all()
    found += conn.execute(text(ROUTINE_STATE), {"schema": schema, "name": bare}).scalars().all()
    assert len(found) <= 1, f"{name} names {len(found)} objects: an entity is one object (no overloading)"
    return found[0] if found else None


def _diff(expected: str | None, got: str | None, expected_from: str, got_from: str) -> str:
    return "".join(
        difflib.unified_diff(
            (expected or "").splitlines(keepends=True),
            (got or "").splitlines(keepends=True),
            expected_from,
            got_from,
        )
    )


def _replay(conn: Connection, name: str, path: Path) -> tuple[str | None, str | None, list[str]]:
    """What the database holds for `name`, what running `path` over it leaves (as a revision's
    replace_entity would), and what else that changed; rolled back."""
    driver = conn.connection.driver_connection
    live, everything = _state(conn, name), conn.execute(text(EVERYTHING)).scalar_one()
    savepoint = conn.begin_nested()
    try:
        define_entity(driver, name, path)
        replayed, after = _state(conn, name), conn.execute(text(EVERYTHING)).scalar_one()
    finally:
        savepoint.rollback()
    others = sorted(set(everything).symmetric_difference(after))
    return live, replayed, others


def test_every_view_and_routine_has_an_entity_file(conn):
    in_database = set(conn.execute(text(IN_DATABASE)).scalars())
    assert sorted(in_database - set(DEFINED)) == [], (
        "made by the migrations but defined by no file in migrations/entities/ (docs/migrations.md)"
    )
    assert sorted(set(DEFINED) - in_database) == [], (
        "a file in migrations/entities/ defines it but the migrations left none:"
        " the revision that removed it adds <revision>.drop.sql beside its files"
    )
    head = migrate.head_revision()
    assert [str(path) for path in NEWEST.values() if path.name[:4] > head] == [], (
        f"a file for a revision after the head ({head})"
    )


def test_every_entity_file_creates_or_replaces_its_own_entity():
    """A file runs over the entity it replaces (and a downgrade's over the newer one)."""
    wrong = []
    for name in NEWEST:
        start = re.compile(rf"create\s+or\s+replace\s+(view|function|procedure)\s+{re.escape(name)}\b", re.I)
        for path in entity_versions(name):
            sql = re.sub(r"(?m)^\s*--.*$", "", path.read_text()).lstrip()  # leading comments aside
            if not is_drop_file(path) and not start.match(sql):
                wrong.append(str(path))
    assert wrong == [], "each starts with create or replace (view|function|procedure) <its schema.name>"


@pytest.mark.parametrize("name", DEFINED)
def test_newest_entity_file_is_what_the_migrations_left(conn, name):
    path = NEWEST[name]
    live, replayed, others = _replay(conn, name, path)
    assert live is not None, f"{name} is not in the database"
    assert others == [], f"{path} made or removed other objects than {name}"
    if replayed != live:
        pytest.fail(
            f"{path} is not what the migrations left in the database (- database, + file):\n"
            + _diff(live, replayed, "database", str(path))
        )


@pytest.mark.parametrize("kind", ["function", "view"])
def test_an_edited_entity_file_is_caught(conn, tmp_path, kind):
    """The comparison above sees a change to a body, and a view's dropped option."""
    name = next(
        name
        for name in DEFINED
        if (kind == "view") == NEWEST[name].read_text().lower().startswith("create or replace view")
    )
    sql = NEWEST[name].read_text()
    if kind == "function":
        edited = re.sub(r"(?i)(\bas\s+(\$\w*\$))", r"\1\n-- edited", sql, count=1)
    else:
        edited = re.sub(r"(?i)^(create or replace view \S+) with \([^)]*\)", r"\1", sql, count=1)
    assert edited != sql
    path = tmp_path / "edited.sql"
    path.write_text(edited)
    live, replayed, _ = _replay(conn, name, path)
    assert replayed != live


def _generated(conn: Connection) -> dict[str, tuple[str, str]]:
    """Per audited table: its capture function as the migrations left it, and as
    audit.generate_capture makes it now (made in a savepoint, rolled back)."""
    found = {}
    for table, function, args in conn.execute(text(GENERATED)):
        definition = text("select pg_catalog.pg_get_functiondef(cast(:f as regprocedure))")
        live = conn.execute(definition, {"f": function}).scalar_one()
        savepoint = conn.begin_nested()
        try:
            conn.execute(
                text("call audit.generate_capture(cast(:t as regclass), :a1, :a2, :a3, :a4, :a5, :a6)"),
                {"t": table, **{f"a{i}": arg for i, arg in enumerate(args, 1)}},
            )
            now = conn.execute(definition, {"f": function}).scalar_one()
        finally:
            savepoint.rollback()
        found[table] = (live, now)
    return found


def test_every_capture_function_is_what_the_generator_makes_now(conn):
    generated = _generated(conn)
    assert GOLDEN_TABLE in generated
    stale = [_diff(live, now, "database", f"generator: {table}") for table, (live, now) in generated.items()]
    if any(stale):
        pytest.fail(
            "made by an older audit.generate_capture, or before its table's columns changed: the"
            " revision calls audit.enable for the table again (docs/migrations.md):\n" + "".join(stale)
        )


def test_generated_capture_function_matches_the_golden_file(conn):
    """Set PROSYNC_UPDATE_GOLDEN=1 to rewrite tests/golden/ from the generator."""
    _, now = _generated(conn)[GOLDEN_TABLE]
    if os.environ.get("PROSYNC_UPDATE_GOLDEN") == "1":
        GOLDEN.parent.mkdir(exist_ok=True)
        GOLDEN.write_text(now)
    golden = GOLDEN.read_text()
    if now != golden:
        pytest.fail(
            f"audit.generate_capture makes a different function for {GOLDEN_TABLE} than {GOLDEN}"
            " (- golden, + generator); if that is the change meant, rewrite the file with"
            " PROSYNC_UPDATE_GOLDEN=1 and commit it (docs/migrations.md):\n"
            + _diff(golden, now, str(GOLDEN), "generator")
        )


# The helpers a revision calls, through alembic's `op` on the test's connection.

PROBE = {
    "0019.sql": "create or replace function system.entity_probe() returns int\n"
    "language sql as $$ select 1 $$;\n"
    "comment on function system.entity_probe() is 'first';\n"
    "grant execute on function system.entity_probe() to prosync_app;\n",
    "0020.sql": "create or replace function system.entity_probe() returns int\n"
    "language sql as $$ select 2 $$;\n",
    "0021.drop.sql": "drop function system.entity_probe();\n",
}
PROBE_ARGUMENT = (
    "create or replace function system.entity_probe(p integer) returns int\nlanguage sql as $$ select p $$;\n"
)
PROBE_VIEW = {
    "0019.sql": "create or replace view system.entity_probe_view as select 1 as a, 2 as b;\n",
    "0020.sql": "create or replace view system.entity_probe_view as select 1 as a;\n",
}


@pytest.fixture
def revision_op(conn, tmp_path, monkeypatch):
    """alembic's `op` bound to the test's connection, and migrations/entities/ in `tmp_path`."""
    monkeypatch.setattr(helpers, "ENTITIES_DIR", tmp_path)
    with Operations.context(MigrationContext.configure(conn)):
        yield tmp_path


def _write(folder: Path, name: str, files: dict[str, str]) -> None:
    (folder / name).mkdir()
    for file, sql in files.items():
        (folder / name / file).write_text(sql)


def _probe(conn: Connection) -> tuple | None:
    return conn.execute(
        text(
            "select btrim(p.prosrc), obj_description(p.oid, 'pg_proc'),"
            " has_function_privilege('prosync_app', p.oid, 'execute'),"
            " has_function_privilege('public', p.oid, 'execute')"
            " from pg_proc p where p.oid = to_regprocedure('system.entity_probe()')"
        )
    ).one_or_none()


def test_entity_helpers_go_up_and_back_down_through_the_files(conn, revision_op):
    _write(revision_op, "system.entity_probe", PROBE)
    helpers.create_entity("system.entity_probe", "0019")
    assert _probe(conn) == ("select 1", "first", True, False)
    helpers.replace_entity("system.entity_probe", "0020")  # no comment, no grant: both gone
    assert _probe(conn) == ("select 2", None, False, False)
    helpers.drop_entity("system.entity_probe", "0021")
    assert _probe(conn) is None
    # The downgrades, each to the file in force at the revision below.
    helpers.create_entity("system.entity_probe", "0020")
    assert _probe(conn) == ("select 2", None, False, False)
    helpers.replace_entity("system.entity_probe", "0019")
    assert _probe(conn) == ("select 1", "first", True, False)
    helpers.drop_entity("system.entity_probe", "0018")
    assert _probe(conn) is None


def test_entity_helpers_refuse_what_does_not_fit(conn, revision_op):
    _write(revision_op, "system.entity_probe", PROBE)
    with pytest.raises(ValueError, match="no file defines"):
        helpers.create_entity("system.entity_probe", "0018")
    with pytest.raises(ValueError, match="does not exist"):
        helpers.replace_entity("system.entity_probe", "0019")
    helpers.create_entity("system.entity_probe", "0019")
    with pytest.raises(ValueError, match="exists already"):
        helpers.create_entity("system.entity_probe", "0019")
    with pytest.raises(ValueError, match="defines system.entity_probe as of 0020"):
        helpers.drop_entity("system.entity_probe", "0020")


def test_what_create_or_replace_cannot_change_is_replaced_with_drop_first(conn, revision_op):
    _write(revision_op, "system.entity_probe_view", PROBE_VIEW)
    helpers.create_entity("system.entity_probe_view", "0019")
    savepoint = conn.begin_nested()
    with pytest.raises(psycopg.errors.InvalidTableDefinition):
        helpers.replace_entity("system.entity_probe_view", "0020")
    savepoint.rollback()
    helpers.replace_entity("system.entity_probe_view", "0020", drop_first=True)
    assert list(conn.execute(text("select * from system.entity_probe_view")).keys()) == ["a"]

    # Other argument types: without drop_first a second function would stand beside the first.
    _write(revision_op, "system.entity_probe", {**PROBE, "0020.sql": PROBE_ARGUMENT})
    helpers.create_entity("system.entity_probe", "0019")
    helpers.replace_entity("system.entity_probe", "0020", drop_first=True)
    assert conn.execute(text("select system.entity_probe(2)")).scalar_one() == 2
    assert conn.execute(text("select count(*) from pg_proc where proname = 'entity_probe'")).scalar_one() == 1
    helpers.replace_entity("system.entity_probe", "0019", drop_first=True)
    assert _probe(conn) == ("select 1", "first", True, False)
