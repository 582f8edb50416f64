"""sign-in resists abuse: one canonical address; attempts counted atomically per account, address, device

Revision ID: 0017
Revises: 0016
Create Date: 2026-11-30
"""

from migrations.helpers import record_version, run_sql

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None
DESCRIPTION = (
    "sign-in resists abuse: one canonical address; attempts counted atomically per account, address, device"
)


def upgrade() -> None:
    run_sql(f"{revision}_upgrade.sql")
    record_version(revision, DESCRIPTION, "upgrade")


def downgrade() -> None:
    record_version(revision, DESCRIPTION, "downgrade")
    run_sql(f"{revision}_downgrade.sql")
