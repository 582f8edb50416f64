"""the row-level security policies tell roles apart: each write needs the role's permission

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-26
"""

from migrations.helpers import record_version, run_sql

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None
DESCRIPTION = "the row-level security policies tell roles apart: each write needs the role's permission"


def upgrade() -> None:
    run_sql(f"{revision}_upgrade.sql")
    record_version(revision, DESCRIPTION, "upgrade")


def downgrade() -> None:
    record_version(revision, DESCRIPTION, "downgrade")
    run_sql(f"{revision}_downgrade.sql")
