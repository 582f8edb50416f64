"""What the `prosync` commands share: the one-line error, migrating first, and where the code lives."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


class CommandError(Exception):
    """A user mistake or an unmet condition: printed as one line, exit status 1."""


def upgrade(revision: str = "head") -> None:
    """Migrate, printing what the migrations warned about (a feature the server refused)."""
    from db.core import migrate

    for warning in migrate.upgrade(revision):
        print(f"warning: {warning}", file=sys.stderr)


def require_migrated() -> None:
    from db.core import migrate
    from db.core.engine import get_owner_engine

    with get_owner_engine().connect() as conn:
        if migrate.current_revision(conn) != migrate.head_revision():
            raise CommandError("the database is not at the newest revision: run `prosync db upgrade`")
