"""trigram index for name search; project totals materialized for the onboarding summary

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-26
"""

from migrations.helpers import record_version, run_sql

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None
DESCRIPTION = "trigram index for name search; project totals materialized for the onboarding summary"


def upgrade() -> None:
    run_sql(f"{revision}_upgrade.sql")
    record_version(revision, DESCRIPTION, "upgrade")


def downgrade() -> None:
    record_version(revision, DESCRIPTION, "downgrade")
    run_sql(f"{revision}_downgrade.sql")
