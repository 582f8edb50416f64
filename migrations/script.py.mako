"""${message}

Revision ID: ${up_revision}
Revises: ${down_revision | comma,n}
Create Date: ${create_date}
"""

from migrations.helpers import create_entity, drop_entity, record_version, replace_entity, run_sql  # noqa: F401

revision = ${repr(up_revision)}
down_revision = ${repr(down_revision)}
branch_labels = ${repr(branch_labels)}
depends_on = ${repr(depends_on)}
DESCRIPTION = ${repr(message)}


def upgrade() -> None:
    # Views and functions: replace_entity("schema.name", revision) with the new definition in
    # migrations/entities/schema.name/<revision>.sql (docs/migrations.md); the rest in SQL beside it.
    run_sql(f"{revision}_upgrade.sql")
    record_version(revision, DESCRIPTION, "upgrade")


def downgrade() -> None:
    record_version(revision, DESCRIPTION, "downgrade")
    run_sql(f"{revision}_downgrade.sql")
    # replace_entity("schema.name", down_revision): the definition as it was before this revision.
