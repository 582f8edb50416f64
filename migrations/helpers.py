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
    driver = op.get_bind().connection.driver_connection
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
