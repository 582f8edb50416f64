"""Schemas, schema versions, audit log and capture trigger, partition maintenance

Revision ID: 0001
Revises: <base>
Create Date: 2026-11-24
"""

from migrations.helpers import record_version, run_sql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None
DESCRIPTION = "Schemas, schema versions, audit log and capture trigger, partition maintenance"


def upgrade() -> None:
    run_sql(f"{revision}_upgrade.sql")
    record_version(revision, DESCRIPTION, "upgrade")


def downgrade() -> None:
    # system.schema_version itself goes away with this step: nothing to record in.
    run_sql(f"{revision}_downgrade.sql")
