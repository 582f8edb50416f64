"""Operational views

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-24
"""

from migrations.helpers import record_version, run_sql

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None
DESCRIPTION = "Operational views"


def upgrade() -> None:
    run_sql(f"{revision}_upgrade.sql")
    record_version(revision, DESCRIPTION, "upgrade")


def downgrade() -> None:
    record_version(revision, DESCRIPTION, "downgrade")
    run_sql(f"{revision}_downgrade.sql")
