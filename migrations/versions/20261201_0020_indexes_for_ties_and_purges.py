"""indexes for audit pages after bulk changes and staged files by document; registry trigger as definer

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-01
"""

from migrations.helpers import record_version, replace_entity, run_sql

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None
DESCRIPTION = (
    "indexes for audit pages after bulk changes and staged files by document; registry trigger as definer"
)


def upgrade() -> None:
    run_sql(f"{revision}_upgrade.sql")
    replace_entity("documents.register_document", revision)
    record_version(revision, DESCRIPTION, "upgrade")


def downgrade() -> None:
    record_version(revision, DESCRIPTION, "downgrade")
    replace_entity("documents.register_document", down_revision)
    run_sql(f"{revision}_downgrade.sql")
