"""`prosync db upgrade | downgrade | current`: the schema's migrations."""

from __future__ import annotations

from db.tools.commands.common import upgrade


def _db_upgrade(args) -> None:
    from db.core import migrate

    upgrade(args.revision)
    print(f"database at revision {migrate.head_revision() if args.revision == 'head' else args.revision}")


def _db_downgrade(args) -> None:
    from db.core import migrate

    migrate.downgrade(args.revision)
    print(f"database at revision {args.revision}")


def _db_current(args) -> None:
    from db.core import migrate
    from db.core.engine import get_owner_engine

    with get_owner_engine().connect() as conn:
        current = migrate.current_revision(conn)
    head = migrate.head_revision()
    state = "up to date" if current == head else f"head is {head}: run `prosync db upgrade`"
    print(f"{current or 'empty (no revision)'} ({state})")


def add(commands) -> None:
    """Register this group's commands on the `prosync` parser."""
    db = commands.add_parser("db", help="migrations").add_subparsers(dest="db_command", required=True)
    up = db.add_parser("upgrade", help="migrate to the newest (or a given) revision")
    up.add_argument("revision", nargs="?", default="head")
    up.set_defaults(func=_db_upgrade)
    down = db.add_parser("downgrade", help="migrate down to a revision, or base")
    down.add_argument("revision")
    down.set_defaults(func=_db_downgrade)
    db.add_parser("current", help="show the database's revision").set_defaults(func=_db_current)
