"""Projects, access roles, history and tags

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24
"""

from migrations.helpers import record_version, run_sql

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None
DESCRIPTION = "Projects, access roles, history and tags"


def upgrade() -> None:
    run_sql(f"{revision}_upgrade.sql")
    record_version(revision, DESCRIPTION, "upgrade")


def downgrade() -> None:
    record_version(revision, DESCRIPTION, "downgrade")
    run_sql(f"{revision}_downgrade.sql")
