"""Migrations: empty -> head -> base -> head, with nothing of ProSync left at base."""

from alembic.script import ScriptDirectory
from sqlalchemy import text

from db.core import migrate
from db.core.engine import make_engine, sqlalchemy_url
from tests.conftest import create_database

# Every revision, oldest first, as the migrations directory defines them.
REVISIONS = [
    s.revision
    for s in reversed(
        list(ScriptDirectory.from_config(migrate.alembic_config("postgresql://x/")).walk_revisions())
    )
]
SCHEMAS = ("users", "auth", "projects", "documents", "staging", "audit", "system")


def _objects(url: str) -> dict[str, int]:
    engine = make_engine(sqlalchemy_url(url))
    with engine.connect() as conn:
        schemas = conn.execute(
            text("select count(*) from pg_namespace where nspname = any(:s)"), {"s": list(SCHEMAS)}
        ).scalar_one()
        relations = conn.execute(
            text(
                "select count(*) from pg_class c join pg_namespace n on n.oid = c.relnamespace"
                " where n.nspname = any(:s)"
            ),
            {"s": list(SCHEMAS)},
        ).scalar_one()
        functions = conn.execute(
            text(
                "select count(*) from pg_proc p join pg_namespace n on n.oid = p.pronamespace"
                " where n.nspname = any(:s)"
            ),
            {"s": list(SCHEMAS)},
        ).scalar_one()
        versions = (
            conn.execute(text("select version, direction from system.schema_version order by id")).all()
            if schemas
            else []
        )
    engine.dispose()
    return {
        "schemas": schemas,
        "relations": relations,
        "functions": functions,
        "versions": versions,
    }


def test_upgrade_downgrade_upgrade_round_trip(server_url):
    url = create_database(server_url, "prosync_roundtrip")
    migrate.upgrade(url=url)
    first = _objects(url)
    assert first["schemas"] == len(SCHEMAS)
    assert first["relations"] > 40
    assert [v for v, d in first["versions"]] == REVISIONS

    migrate.downgrade("0003", url=url)
    partial = _objects(url)
    # Rollback tracking: the downgrades are recorded, newest last.
    undone = [r for r in reversed(REVISIONS) if r > "0003"]
    assert partial["versions"][-len(undone) :] == [(r, "downgrade") for r in undone]

    migrate.downgrade("base", url=url)
    assert _objects(url) == {"schemas": 0, "relations": 0, "functions": 0, "versions": []}

    migrate.upgrade(url=url)
    again = _objects(url)
    assert (again["schemas"], again["relations"], again["functions"]) == (
        first["schemas"],
        first["relations"],
        first["functions"],
    )


def test_head_is_the_newest_revision(conn):
    assert migrate.current_revision(conn) == migrate.head_revision()


def test_schema_versions_lists_every_applied_step_newest_first(conn):
    from db.ops.schema import schema_versions

    history = schema_versions(conn)
    assert list(history.version) == list(reversed(REVISIONS))
    assert set(history.direction) == {"upgrade"}
    assert history.applied_at.is_monotonic_decreasing
