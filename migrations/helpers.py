"""Shared by every revision: run a SQL file that sits beside the revisions, and record the step."""

from __future__ import annotations

from pathlib import Path

from alembic import op
from sqlalchemy import text

SQL_DIR = Path(__file__).resolve().parent / "sql"


def run_sql(name: str) -> None:
    """Execute migrations/sql/<name> as one script (plpgsql bodies and all)."""
    sql = (SQL_DIR / name).read_text()
    # Through the driver with no parameters, so that format()'s %I/%L reach PostgreSQL untouched.
    op.get_bind().connection.driver_connection.execute(sql)


def record_version(revision: str, description: str, direction: str) -> None:
    """Append a row to system.schema_version (rollback tracking beside Alembic's own table)."""
    op.get_bind().execute(
        text(
            "insert into system.schema_version (version, description, direction)"
            " values (:version, :description, :direction)"
        ),
        {"version": revision, "description": description, "direction": direction},
    )
