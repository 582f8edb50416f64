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
    waiting = _left_to_the_command_line()
    if waiting:
        print(
            f"note: {waiting:,} documents wait for their text (search inside files) and only the command"
            " line reads them: run `prosync reindex-text`",
            file=sys.stderr,
        )


def _left_to_the_command_line() -> int:
    """Documents queued for their text that no dashboard's indexer takes: those made before revision
    0023 (or by the command line since), and those that failed five times (a project in the trash
    waits for its restore)."""
    from sqlalchemy import text

    from db.core.engine import get_owner_engine

    with get_owner_engine().connect() as conn:
        if conn.execute(text("select to_regclass('documents.text_queue') is null")).scalar_one():
            return 0
        return conn.execute(text("select for_the_command_line from documents.text_backlog()")).scalar_one()


def require_migrated() -> None:
    from db.core import migrate
    from db.core.engine import get_owner_engine

    with get_owner_engine().connect() as conn:
        if migrate.current_revision(conn) != migrate.head_revision():
            raise CommandError("the database is not at the newest revision: run `prosync db upgrade`")
