"""the registry trigger runs with the caller's rights again, and a document's id never changes

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-01
"""

from migrations.helpers import record_version, replace_entity, run_sql

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None
DESCRIPTION = "the registry trigger runs with the caller's rights again, and a document's id never changes"


def upgrade() -> None:
    # create or replace sets every property the definition does not name to its default: the
    # function is SECURITY INVOKER again.
    replace_entity("documents.register_document", revision)
    run_sql(f"{revision}_upgrade.sql")
    record_version(revision, DESCRIPTION, "upgrade")


def downgrade() -> None:
    record_version(revision, DESCRIPTION, "downgrade")
    run_sql(f"{revision}_downgrade.sql")
    replace_entity("documents.register_document", down_revision)
