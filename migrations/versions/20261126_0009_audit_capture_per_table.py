"""one generated capture function per audited table (static SQL, named columns)

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-26
"""

from migrations.helpers import record_version, run_sql

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None
DESCRIPTION = "one generated capture function per audited table (static SQL, named columns)"


def upgrade() -> None:
    run_sql(f"{revision}_upgrade.sql")
    record_version(revision, DESCRIPTION, "upgrade")


def downgrade() -> None:
    record_version(revision, DESCRIPTION, "downgrade")
    run_sql(f"{revision}_downgrade.sql")
