"""personal access tokens for the HTTP API: hashed, scoped, narrowed to projects, audited by name

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-01
"""

from migrations.helpers import create_entity, drop_entity, record_version, replace_entity, run_sql

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None
DESCRIPTION = "personal access tokens for the HTTP API: hashed, scoped, narrowed to projects, audited by name"

NEW = (
    "auth.token_limits",
    "auth.use_token",
    "audit.via",
    "auth.end_tokens_on_credential_change",
    "auth.guard_token_change",
)
CHANGED = (
    "audit.record_download",
    "projects.actor_projects",
    "projects.onboarding_project_summary",
    "projects.actor_projects_with",
    "system.actor_sees_all",
    "system.actor_is_ops",
    "system.apply_roles",
)


def upgrade() -> None:
    for name in NEW:  # plpgsql: their bodies meet the tables when first run
        create_entity(name, revision)
    run_sql(f"{revision}_upgrade.sql")
    for name in CHANGED:
        replace_entity(name, revision)
    record_version(revision, DESCRIPTION, "upgrade")


def downgrade() -> None:
    record_version(revision, DESCRIPTION, "downgrade")
    for name in reversed(CHANGED):
        replace_entity(name, down_revision)
    run_sql(f"{revision}_downgrade.sql")
    for name in reversed(NEW):
        drop_entity(name, down_revision)
