"""sign-in throttling and purges see past row-level security (two SECURITY DEFINER checks)

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-26
"""

from migrations.helpers import record_version, run_sql

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None
DESCRIPTION = "sign-in throttling and purges see past row-level security (two SECURITY DEFINER checks)"


def upgrade() -> None:
    run_sql(f"{revision}_upgrade.sql")
    record_version(revision, DESCRIPTION, "upgrade")


def downgrade() -> None:
    record_version(revision, DESCRIPTION, "downgrade")
    run_sql(f"{revision}_downgrade.sql")
