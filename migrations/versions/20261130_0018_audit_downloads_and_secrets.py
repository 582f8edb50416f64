"""the audit log: downloads recorded, every password form blanked from schema-change statements

Revision ID: 0018
Revises: 0017
Create Date: 2026-11-30
"""

from migrations.helpers import record_version, run_sql

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None
DESCRIPTION = "the audit log: downloads recorded, every password form blanked from schema-change statements"


def upgrade() -> None:
    run_sql(f"{revision}_upgrade.sql")
    record_version(revision, DESCRIPTION, "upgrade")


def downgrade() -> None:
    record_version(revision, DESCRIPTION, "downgrade")
    run_sql(f"{revision}_downgrade.sql")
