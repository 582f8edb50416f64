"""pg_stat_statements where the server allows it; drop a duplicate index

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-24
"""

from migrations.helpers import record_version, run_sql

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None
DESCRIPTION = "pg_stat_statements where the server allows it; drop a duplicate index"


def upgrade() -> None:
    run_sql(f"{revision}_upgrade.sql")
    record_version(revision, DESCRIPTION, "upgrade")


def downgrade() -> None:
    record_version(revision, DESCRIPTION, "downgrade")
    run_sql(f"{revision}_downgrade.sql")
