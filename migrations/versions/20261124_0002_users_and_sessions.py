"""Users, system roles and sessions

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24
"""

from migrations.helpers import record_version, run_sql

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None
DESCRIPTION = "Users, system roles and sessions"


def upgrade() -> None:
    run_sql(f"{revision}_upgrade.sql")
    record_version(revision, DESCRIPTION, "upgrade")


def downgrade() -> None:
    record_version(revision, DESCRIPTION, "downgrade")
    run_sql(f"{revision}_downgrade.sql")
