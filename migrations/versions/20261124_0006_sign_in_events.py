"""Audited sign-in events and throttling index

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-24
"""

from migrations.helpers import record_version, run_sql

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None
DESCRIPTION = "Audited sign-in events and throttling index"


def upgrade() -> None:
    run_sql(f"{revision}_upgrade.sql")
    record_version(revision, DESCRIPTION, "upgrade")


def downgrade() -> None:
    record_version(revision, DESCRIPTION, "downgrade")
    run_sql(f"{revision}_downgrade.sql")
