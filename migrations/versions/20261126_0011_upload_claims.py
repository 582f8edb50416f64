"""uploads in flight claim their content, so no clean-up removes an object about to be recorded

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-26
"""

from migrations.helpers import record_version, run_sql

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None
DESCRIPTION = "uploads in flight claim their content, so no clean-up removes an object about to be recorded"


def upgrade() -> None:
    run_sql(f"{revision}_upgrade.sql")
    record_version(revision, DESCRIPTION, "upgrade")


def downgrade() -> None:
    record_version(revision, DESCRIPTION, "downgrade")
    run_sql(f"{revision}_downgrade.sql")
