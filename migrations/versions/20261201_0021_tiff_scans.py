"""TIFF images (scans, one page or many) are accepted, with a preview of the first page

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-01
"""

from migrations.helpers import record_version, run_sql

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None
DESCRIPTION = "TIFF images (scans, one page or many) are accepted, with a preview of the first page"


def upgrade() -> None:
    run_sql(f"{revision}_upgrade.sql")
    record_version(revision, DESCRIPTION, "upgrade")


def downgrade() -> None:
    record_version(revision, DESCRIPTION, "downgrade")
    run_sql(f"{revision}_downgrade.sql")
