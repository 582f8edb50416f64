"""least-privilege roles (owner, application, read-only) and row-level security on project-scoped tables

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-26
"""

from migrations.helpers import record_version, run_sql

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None
DESCRIPTION = (
    "least-privilege roles (owner, application, read-only) and row-level security on project-scoped tables"
)


def upgrade() -> None:
    run_sql(f"{revision}_upgrade.sql")
    record_version(revision, DESCRIPTION, "upgrade")


def downgrade() -> None:
    record_version(revision, DESCRIPTION, "downgrade")
    run_sql(f"{revision}_downgrade.sql")
