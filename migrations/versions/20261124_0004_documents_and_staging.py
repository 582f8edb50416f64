"""File types, storage, contents, partitioned documents, history and staging

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24
"""

from migrations.helpers import record_version, run_sql

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None
DESCRIPTION = "File types, storage, contents, partitioned documents, history and staging"


def upgrade() -> None:
    run_sql(f"{revision}_upgrade.sql")
    record_version(revision, DESCRIPTION, "upgrade")


def downgrade() -> None:
    record_version(revision, DESCRIPTION, "downgrade")
    run_sql(f"{revision}_downgrade.sql")
