"""schema changes recorded in the audit log by event triggers, where the server allows them

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-26
"""

from migrations.helpers import record_version, run_sql

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None
DESCRIPTION = "schema changes recorded in the audit log by event triggers, where the server allows them"


def upgrade() -> None:
    run_sql(f"{revision}_upgrade.sql")
    record_version(revision, DESCRIPTION, "upgrade")


def downgrade() -> None:
    record_version(revision, DESCRIPTION, "downgrade")
    run_sql(f"{revision}_downgrade.sql")
