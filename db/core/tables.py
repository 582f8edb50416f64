"""Table definitions (SQLAlchemy Core) mirroring the migrations; tests/db/test_drift.py keeps
them in step with what the migrations build, as `alembic check` would."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Computed,
    DateTime,
    ForeignKey,
    ForeignKeyConstraint,
    Integer,
    LargeBinary,
    MetaData,
    SmallInteger,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import ARRAY, INET, JSONB, REGCONFIG, TSVECTOR, UUID

metadata = MetaData()


def _ts(name: str, nullable: bool = False) -> Column:
    return Column(name, DateTime(timezone=True), nullable=nullable)


def _user_ref(name: str) -> Column:
    return Column(name, BigInteger, ForeignKey("users.users.id", ondelete="SET NULL"))


schema_version = Table(
    "schema_version", metadata,
    Column("id", BigInteger, primary_key=True),
    Column("version", Text, nullable=False),
    Column("description", Text, nullable=False),
    Column("direction", Text, nullable=False),
    _ts("applied_at"),
    Column("applied_by", Text, nullable=False),
    Column("server_version", Text, nullable=False),
    schema="system",
)  # fmt: skip

partition_policy = Table(
    "partition_policy", metadata,
    Column("parent_table", Text, primary_key=True),
    Column("period", Text, nullable=False),
    Column("storage_options", ARRAY(Text), nullable=False),
    schema="system",
)  # fmt: skip

audit_log = Table(
    "audit_log", metadata,
    Column("id", BigInteger, primary_key=True),
    Column("timestamp", DateTime(timezone=True), primary_key=True),
    Column("actor_id", BigInteger),
    Column("action", Text, nullable=False),
    Column("schema_name", Text, nullable=False),
    Column("table_name", Text, nullable=False),
    Column("record_id", Text),
    Column("project_id", BigInteger),
    Column("old_values", JSONB),
    Column("new_values", JSONB),
    Column("changed_columns", ARRAY(Text)),
    Column("context", JSONB),
    Column("db_user", Text, nullable=False),
    Column("txid", BigInteger, nullable=False),
    schema="audit",
)  # fmt: skip

users = Table(
    "users", metadata,
    Column("id", BigInteger, primary_key=True),
    Column("login", Text, nullable=False),
    Column("display_name", Text, nullable=False),
    Column("password_hash", Text, nullable=False),
    Column("is_active", Boolean, nullable=False),
    _ts("last_login_at", True),
    _ts("password_changed_at"),
    _ts("created_at"),
    _user_ref("created_by"),
    _ts("updated_at"),
    _user_ref("updated_by"),
    _ts("deleted_at", True),
    _user_ref("deleted_by"),
    schema="users",
)  # fmt: skip

system_role_reference = Table(
    "system_role_reference", metadata,
    Column("role", Text, primary_key=True),
    Column("description", Text, nullable=False),
    schema="users",
)  # fmt: skip

user_system_role = Table(
    "user_system_role", metadata,
    Column("user_id", BigInteger, ForeignKey("users.users.id", ondelete="CASCADE"), primary_key=True),
    Column("role", Text, ForeignKey("users.system_role_reference.role", onupdate="CASCADE"),
           primary_key=True),
    _ts("granted_at"),
    _user_ref("granted_by"),
    schema="users",
)  # fmt: skip

sessions = Table(
    "sessions", metadata,
    Column("id", UUID, primary_key=True),
    Column("user_id", BigInteger, ForeignKey("users.users.id", ondelete="CASCADE"), nullable=False),
    Column("token_hash", LargeBinary, nullable=False),
    _ts("created_at"),
    _ts("expires_at"),
    _ts("last_active_at"),
    _ts("revoked_at", True),
    _user_ref("revoked_by"),
    Column("revoke_reason", Text),
    Column("user_agent", Text),
    Column("ip_address", INET),
    schema="auth",
)  # fmt: skip

api_tokens = Table(
    "api_tokens", metadata,
    Column("id", BigInteger, primary_key=True),
    Column("user_id", BigInteger, ForeignKey("users.users.id", ondelete="CASCADE"), nullable=False),
    Column("name", Text, nullable=False),
    Column("token_hash", LargeBinary, nullable=False),
    Column("token_prefix", Text, nullable=False),
    Column("scopes", ARRAY(Text), nullable=False),
    Column("all_projects", Boolean, nullable=False),
    _ts("created_at"),
    _ts("expires_at"),
    _ts("last_used_at", True),
    Column("last_used_ip", INET),
    _ts("revoked_at", True),
    _user_ref("revoked_by"),
    Column("revoke_reason", Text),
    schema="auth",
)  # fmt: skip

api_token_projects = Table(
    "api_token_projects", metadata,
    Column("token_id", BigInteger, ForeignKey("auth.api_tokens.id", ondelete="CASCADE"), primary_key=True),
    Column("project_id", BigInteger, ForeignKey("projects.projects.id", ondelete="CASCADE"),
           primary_key=True),
    schema="auth",
)  # fmt: skip

api_idempotency = Table(
    "api_idempotency", metadata,
    Column("user_id", BigInteger, ForeignKey("users.users.id", ondelete="CASCADE"), primary_key=True),
    Column("key", Text, primary_key=True),
    Column("fingerprint", Text, nullable=False),
    Column("status_code", Integer),
    Column("response", JSONB),
    _ts("created_at"),
    _ts("finished_at", True),
    schema="auth",
)  # fmt: skip

sign_in_attempts = Table(
    "sign_in_attempts", metadata,
    Column("key", Text, primary_key=True),
    Column("attempts", Integer, nullable=False),
    _ts("window_started_at"),
    schema="auth",
)  # fmt: skip

access_role_reference = Table(
    "access_role_reference", metadata,
    Column("role", Text, primary_key=True),
    Column("rank", SmallInteger, nullable=False),
    Column("description", Text, nullable=False),
    *[Column(flag, Boolean, nullable=False) for flag in (
        "can_view", "can_upload", "can_review", "can_tag", "can_delete", "can_manage_access",
        "can_edit_project", "can_delete_project")],
    _ts("created_at"),
    _ts("updated_at"),
    _user_ref("updated_by"),
    schema="projects",
)  # fmt: skip

projects = Table(
    "projects", metadata,
    Column("id", BigInteger, primary_key=True),
    Column("name", Text, nullable=False),
    Column("description", Text, nullable=False),
    Column("owner_id", BigInteger, ForeignKey("users.users.id", ondelete="RESTRICT"), nullable=False),
    _ts("created_at"),
    _user_ref("created_by"),
    _ts("updated_at"),
    _user_ref("updated_by"),
    _ts("deleted_at", True),
    _user_ref("deleted_by"),
    schema="projects",
)  # fmt: skip


def _history(name: str, schema: str, key: str, target: str, with_project: bool) -> Table:
    columns = [
        Column("id", BigInteger, primary_key=True),
        Column(key, BigInteger, ForeignKey(target, ondelete="CASCADE"), nullable=False),
    ]
    if with_project:
        columns.append(Column("project_id", BigInteger, nullable=False))
    columns += [
        Column("operation", Text, nullable=False),
        _ts("changed_at"),
        Column("changed_by", BigInteger),
        Column("old_values", JSONB),
        Column("new_values", JSONB),
        Column("changed_columns", ARRAY(Text)),
    ]
    return Table(name, metadata, *columns, schema=schema)


project_history = _history("project_history", "projects", "project_id", "projects.projects.id", False)

project_access = Table(
    "project_access", metadata,
    Column("project_id", BigInteger, ForeignKey("projects.projects.id", ondelete="CASCADE"),
           primary_key=True),
    Column("user_id", BigInteger, ForeignKey("users.users.id", ondelete="CASCADE"), primary_key=True),
    Column("role", Text, ForeignKey("projects.access_role_reference.role", onupdate="CASCADE"),
           nullable=False),
    _ts("granted_at"),
    _user_ref("granted_by"),
    _ts("updated_at"),
    _user_ref("updated_by"),
    schema="projects",
)  # fmt: skip

tag_reference = Table(
    "tag_reference", metadata,
    Column("id", BigInteger, primary_key=True),
    Column("name", Text, nullable=False),
    Column("category", Text, nullable=False),
    Column("description", Text, nullable=False),
    Column("color", Text),
    _ts("created_at"),
    _user_ref("created_by"),
    _ts("updated_at"),
    _user_ref("updated_by"),
    schema="projects",
)  # fmt: skip

project_tag = Table(
    "project_tag", metadata,
    Column("project_id", BigInteger, ForeignKey("projects.projects.id", ondelete="CASCADE"),
           primary_key=True),
    Column("tag_id", BigInteger, ForeignKey("projects.tag_reference.id", ondelete="CASCADE"),
           primary_key=True),
    _ts("tagged_at"),
    _user_ref("tagged_by"),
    schema="projects",
)  # fmt: skip

filetype_reference = Table(
    "filetype_reference", metadata,
    Column("mime_type", Text, primary_key=True),
    Column("label", Text, nullable=False),
    Column("category", Text, nullable=False),
    Column("extensions", ARRAY(Text), nullable=False),
    Column("allowed", Boolean, nullable=False),
    Column("max_size_bytes", BigInteger, nullable=False),
    Column("previewable", Boolean, nullable=False),
    _ts("created_at"),
    _ts("updated_at"),
    _user_ref("updated_by"),
    schema="documents",
)  # fmt: skip

storage_reference = Table(
    "storage_reference", metadata,
    Column("code", Text, primary_key=True),
    Column("provider", Text, nullable=False),
    Column("description", Text, nullable=False),
    Column("is_default", Boolean, nullable=False),
    _ts("created_at"),
    schema="documents",
)  # fmt: skip

contents = Table(
    "contents", metadata,
    Column("checksum", Text, primary_key=True),
    Column("size_bytes", BigInteger, nullable=False),
    Column("storage_code", Text, ForeignKey("documents.storage_reference.code"), nullable=False),
    Column("object_key", Text, nullable=False),
    _ts("created_at"),
    _user_ref("created_by"),
    schema="documents",
)  # fmt: skip

document_registry = Table(
    "document_registry", metadata,
    Column("id", BigInteger, primary_key=True),
    Column("project_id", BigInteger, ForeignKey("projects.projects.id", ondelete="CASCADE"),
           nullable=False),
    Column("checksum", Text, ForeignKey("documents.contents.checksum"), nullable=False),
    UniqueConstraint("id", "project_id", name="document_registry_id_project_key"),
    schema="documents",
)  # fmt: skip

documents = Table(
    "documents", metadata,
    Column("id", BigInteger, ForeignKey("documents.document_registry.id", ondelete="CASCADE"),
           primary_key=True),
    Column("uploaded_at", DateTime(timezone=True), primary_key=True),
    Column("project_id", BigInteger, ForeignKey("projects.projects.id", ondelete="CASCADE"),
           nullable=False),
    Column("name", Text, nullable=False),
    Column("description", Text, nullable=False),
    Column("mime_type", Text, ForeignKey("documents.filetype_reference.mime_type"), nullable=False),
    Column("checksum", Text, ForeignKey("documents.contents.checksum"), nullable=False),
    Column("image_url", Text),
    Column("metadata", JSONB, nullable=False),
    _user_ref("uploaded_by"),
    Column("ingest_id", BigInteger),
    _ts("updated_at"),
    _user_ref("updated_by"),
    _ts("deleted_at", True),
    _user_ref("deleted_by"),
    schema="documents",
)  # fmt: skip

document_text = Table(
    "document_text", metadata,
    Column("document_id", BigInteger, primary_key=True),
    Column("project_id", BigInteger, nullable=False),
    _ts("uploaded_at"),
    Column("language", REGCONFIG, nullable=False),
    Column("body", Text, nullable=False),
    Column("search_vector", TSVECTOR, Computed("pg_catalog.to_tsvector(language, body)", persisted=True)),
    Column("failure", Text),
    _ts("extracted_at"),
    _user_ref("extracted_by"),
    ForeignKeyConstraint(["document_id", "project_id"],
                         ["documents.document_registry.id", "documents.document_registry.project_id"],
                         onupdate="CASCADE", ondelete="CASCADE"),
    schema="documents",
)  # fmt: skip

text_queue = Table(
    "text_queue", metadata,
    Column("document_id", BigInteger, primary_key=True),
    Column("project_id", BigInteger, nullable=False),
    _ts("queued_at"),
    _user_ref("queued_by"),
    _ts("claimed_until", True),
    Column("attempts", Integer, nullable=False),
    ForeignKeyConstraint(["document_id", "project_id"],
                         ["documents.document_registry.id", "documents.document_registry.project_id"],
                         onupdate="CASCADE", ondelete="CASCADE"),
    schema="documents",
)  # fmt: skip

document_history = _history(
    "document_history", "documents", "document_id", "documents.document_registry.id", True
)

documents_ingest = Table(
    "documents_ingest", metadata,
    Column("id", BigInteger, primary_key=True),
    Column("project_id", BigInteger, ForeignKey("projects.projects.id", ondelete="CASCADE"),
           nullable=False),
    Column("original_name", Text, nullable=False),
    Column("declared_mime", Text),
    Column("detected_mime", Text, ForeignKey("documents.filetype_reference.mime_type"),
           nullable=False),
    Column("checksum", Text, ForeignKey("documents.contents.checksum"), nullable=False),
    Column("status", Text, nullable=False),
    Column("rejection_reason", Text),
    Column("notes", Text, nullable=False),
    Column("reviewer_notes", Text, nullable=False),
    Column("metadata", JSONB, nullable=False),
    Column("uploaded_by", BigInteger, ForeignKey("users.users.id", ondelete="SET NULL")),
    _ts("uploaded_at"),
    _user_ref("reviewed_by"),
    _ts("reviewed_at", True),
    Column("document_id", BigInteger,
           ForeignKey("documents.document_registry.id", ondelete="SET NULL")),
    _ts("updated_at"),
    _user_ref("updated_by"),
    schema="staging",
)  # fmt: skip

upload_claims = Table(
    "upload_claims", metadata,
    Column("id", BigInteger, primary_key=True),
    Column("checksum", Text, nullable=False),
    _ts("claimed_at"),
    Column("claimed_by", BigInteger),
    schema="staging",
)  # fmt: skip

TABLES = metadata.tables
