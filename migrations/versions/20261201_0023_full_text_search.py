"""full-text search inside files: each document's extracted text and its words, and a queue for the indexer

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-01
"""

from migrations.helpers import create_entity, drop_entity, record_version, replace_entity, run_sql

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None
DESCRIPTION = (
    "full-text search inside files: each document's extracted text and its words, and a queue for the indexer"
)

NEW = ("documents.queue_text",)
# Made after the tables their bodies name.
AFTER_TABLES = ("documents.claim_text_work", "documents.text_backlog")


def upgrade() -> None:
    for name in NEW:
        create_entity(name, revision)
    run_sql(f"{revision}_upgrade.sql")
    for name in AFTER_TABLES:
        create_entity(name, revision)
    replace_entity("system.apply_roles", revision)  # run by migrations/env.py at the end of the run
    record_version(revision, DESCRIPTION, "upgrade")


def downgrade() -> None:
    record_version(revision, DESCRIPTION, "downgrade")
    replace_entity("system.apply_roles", down_revision)
    for name in reversed(AFTER_TABLES):
        drop_entity(name, down_revision)
    run_sql(f"{revision}_downgrade.sql")
    for name in reversed(NEW):
        drop_entity(name, down_revision)
