"""least privilege: nothing for PUBLIC, no reference-table writes, policies on users, sessions, contents

Revision ID: 0016
Revises: 0015
Create Date: 2026-11-30
"""

from migrations.helpers import record_version, run_sql

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None
DESCRIPTION = (
    "least privilege: no routine for PUBLIC, no writes to reference tables,"
    " policies on users, sessions, contents and claims"
)


def upgrade() -> None:
    run_sql(f"{revision}_upgrade.sql")
    record_version(revision, DESCRIPTION, "upgrade")


def downgrade() -> None:
    record_version(revision, DESCRIPTION, "downgrade")
    run_sql(f"{revision}_downgrade.sql")
