"""Shared by every revision: run a SQL file that sits beside the revisions, define a view or a
routine from its one file in migrations/entities/, and record the step (docs/migrations.md)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import NamedTuple

from alembic import op
from sqlalchemy import text

SQL_DIR = Path(__file__).resolve().parent / "sql"
# migrations/entities/<schema>.<name>/<revision>.sql: the entity as that revision defined it;
# <revision>.drop.sql: the revision removed it.
ENTITIES_DIR = Path(__file__).resolve().parent / "entities"
ENTITY_FILE = re.compile(r"(?P<revision>\d{4})(?P<drop>\.drop)?\.sql")


def run_sql(name: str) -> None:
    """Execute migrations/sql/<name> as one script (plpgsql bodies and all)."""
    execute_script(_driver(), (SQL_DIR / name).read_text())


def execute_script(driver, sql: str) -> None:
    """Run `sql` on the psycopg connection `driver`, then take EXECUTE on new routines from PUBLIC."""
    # Through the driver with no parameters, so that format()'s %I/%L reach PostgreSQL untouched.
    driver.execute(sql)
    # From revision 0016 on, no routine in ProSync's schemas is executable by PUBLIC: a routine this
    # revision made loses that in the same transaction, before anyone else can see it, and is
    # granted to a limited login by name in its own SQL.
    if driver.execute("select to_regprocedure('system.revoke_public_execute()')").fetchone()[0]:
        driver.execute("call system.revoke_public_execute()")


def record_version(revision: str, description: str, direction: str) -> None:
    """Append a row to system.schema_version (rollback tracking beside Alembic's own table)."""
    op.get_bind().execute(
        text(
            "insert into system.schema_version (version, description, direction)"
            " values (:version, :description, :direction)"
        ),
        {"version": revision, "description": description, "direction": direction},
    )


# Views and routines, one file per version (in the manner of alembic_utils' replaceable entities).


def create_entity(name: str, revision: str) -> None:
    """Create the view or routine `name` ("schema.name") as its file as of `revision` defines it."""
    driver = _driver()
    if find_entity(driver, name) is not None:
        raise ValueError(f"{name} exists already: replace_entity() changes it")
    define_entity(driver, name, _definition(name, revision))


def replace_entity(name: str, revision: str, *, drop_first: bool = False) -> None:
    """Make the existing `name` what its file as of `revision` says (definition, comment, grants).

    drop_first: drop it before creating it again, for what CREATE OR REPLACE cannot change (a view's
    columns removed, renamed or retyped; a function's result type, argument names or types). The
    drop has no CASCADE: what depends on it is dropped and made again around this call."""
    driver = _driver()
    found = find_entity(driver, name)
    if found is None:
        raise ValueError(f"{name} does not exist: create_entity() makes it")
    path = _definition(name, revision)
    if drop_first:
        driver.execute(f"drop {found.kind} {found.identity}")
    define_entity(driver, name, path)


def drop_entity(name: str, revision: str) -> None:
    """Drop `name` as of `revision`: its <revision>.drop.sql if that revision removed it (an
    upgrade), or a plain DROP when no file defines it yet at `revision` (the downgrade of the
    revision that created it)."""
    driver = _driver()
    path = entity_file(name, revision)
    if path is not None and not is_drop_file(path):
        raise ValueError(f"{path} defines {name} as of {revision}: replace_entity() goes back to it")
    if path is not None:
        execute_script(driver, path.read_text())
        return
    found = find_entity(driver, name)
    if found is None:
        raise ValueError(f"{name} does not exist")
    driver.execute(f"drop {found.kind} {found.identity}")


def define_entity(driver, name: str, path: Path) -> None:
    """Run the entity file `path` for `name` after clearing what the file restates (the comment;
    a routine's grants other than its owner's), so that afterwards all of it is the file's."""
    found = find_entity(driver, name)
    if found is not None:
        if found.kind != "view":
            grantees = driver.execute(
                "select distinct coalesce(pg_catalog.quote_ident(r.rolname), 'public')"
                " from pg_catalog.pg_proc p cross join pg_catalog.aclexplode(p.proacl) a"
                " left join pg_catalog.pg_roles r on r.oid = a.grantee"
                " where p.oid = %s and a.grantee <> p.proowner",
                [found.oid],
            ).fetchall()
            if grantees:
                listed = ", ".join(grantee for (grantee,) in grantees)
                driver.execute(f"revoke all on {found.kind} {found.identity} from {listed}")
        described = driver.execute(
            "select exists (select from pg_catalog.pg_description where objoid = %s and objsubid = 0)",
            [found.oid],
        ).fetchone()[0]
        if described:
            driver.execute(f"comment on {found.kind} {found.identity} is null")
    execute_script(driver, path.read_text())


class Entity(NamedTuple):
    kind: str  # view, function or procedure
    identity: str  # as DROP, COMMENT and GRANT take it
    oid: int


def find_entity(driver, name: str) -> Entity | None:
    """The view or routine called `name` ("schema.name") in the database, or None."""
    schema, _, bare = name.partition(".")
    rows = driver.execute(
        "select 'view', pg_catalog.format('%%I.%%I', n.nspname, c.relname), c.oid::bigint"
        " from pg_catalog.pg_class c join pg_catalog.pg_namespace n on n.oid = c.relnamespace"
        " where n.nspname = %(schema)s and c.relname = %(name)s and c.relkind = 'v'"
        " union all"
        " select case p.prokind when 'p' then 'procedure' else 'function' end,"
        " pg_catalog.format('%%I.%%I(%%s)', n.nspname, p.proname,"
        " pg_catalog.pg_get_function_identity_arguments(p.oid)), p.oid::bigint"
        " from pg_catalog.pg_proc p join pg_catalog.pg_namespace n on n.oid = p.pronamespace"
        " where n.nspname = %(schema)s and p.proname = %(name)s",
        {"schema": schema, "name": bare},
    ).fetchall()
    if len(rows) > 1:
        raise ValueError(f"{name} names {len(rows)} objects: an entity is one object (no overloading)")
    return Entity(*rows[0]) if rows else None


def entity_versions(name: str) -> list[Path]:
    """The files of `name`, oldest revision first."""
    folder = ENTITIES_DIR / name
    if not folder.is_dir():
        raise ValueError(f"no entity {name}: no folder {folder}")
    found = {}
    for path in folder.iterdir():
        match = ENTITY_FILE.fullmatch(path.name)
        if match is None:
            raise ValueError(f"{path}: an entity file is named <revision>.sql or <revision>.drop.sql")
        if match["revision"] in found:
            raise ValueError(f"{path}: two files for revision {match['revision']}")
        found[match["revision"]] = path
    return [found[revision] for revision in sorted(found)]


def entity_file(name: str, revision: str) -> Path | None:
    """The file in force for `name` at `revision`: the newest one at or before it (None: not yet made)."""
    if not re.fullmatch(r"\d{4}", revision):
        raise ValueError(f"a revision is four digits, not {revision!r}")
    older = [path for path in entity_versions(name) if path.name[:4] <= revision]
    return older[-1] if older else None


def is_drop_file(path: Path) -> bool:
    return path.name.endswith(".drop.sql")


def _definition(name: str, revision: str) -> Path:
    path = entity_file(name, revision)
    if path is None or is_drop_file(path):
        raise ValueError(f"no file defines {name} as of revision {revision}")
    return path


def _driver():
    return op.get_bind().connection.driver_connection
