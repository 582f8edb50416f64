"""the permission check as a PL/pgSQL function (its plan kept per session)

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-26
"""

from migrations.helpers import record_version, run_sql

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None
DESCRIPTION = "the permission check as a PL/pgSQL function (its plan kept per session)"


def upgrade() -> None:
    run_sql(f"{revision}_upgrade.sql")
    record_version(revision, DESCRIPTION, "upgrade")


def downgrade() -> None:
    record_version(revision, DESCRIPTION, "downgrade")
    run_sql(f"{revision}_downgrade.sql")
