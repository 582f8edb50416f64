"""Typed values the data-access layer returns (frozen dataclasses, never ORM objects)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Generic, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class Cursor:
    """Keyset position: the sort key and id of the last row of a page."""

    at: datetime
    id: int


@dataclass(frozen=True)
class Page(Generic[T]):
    rows: list[T]
    next: Cursor | None  # None when this is the last page


@dataclass(frozen=True)
class User:
    id: int
    login: str
    display_name: str
    is_active: bool
    system_roles: tuple[str, ...]
    created_at: datetime
    last_login_at: datetime | None
    deleted_at: datetime | None

    @property
    def is_admin(self) -> bool:
        return "admin" in self.system_roles

    @property
    def is_ops(self) -> bool:
        return "ops" in self.system_roles


@dataclass(frozen=True)
class Session:
    id: str
    user_id: int
    created_at: datetime
    expires_at: datetime
    last_active_at: datetime
    revoked_at: datetime | None
    user_agent: str | None
    ip_address: str | None


@dataclass(frozen=True)
class Role:
    role: str
    rank: int
    description: str
    can_view: bool
    can_upload: bool
    can_review: bool
    can_tag: bool
    can_delete: bool
    can_manage_access: bool
    can_edit_project: bool
    can_delete_project: bool


@dataclass(frozen=True)
class Project:
    id: int
    name: str
    description: str
    owner_id: int
    created_at: datetime
    updated_at: datetime
    deleted_at: datetime | None


@dataclass(frozen=True)
class Member:
    project_id: int
    user_id: int
    login: str
    display_name: str
    role: str
    granted_at: datetime


@dataclass(frozen=True)
class Tag:
    id: int
    name: str
    category: str
    description: str
    color: str | None


@dataclass(frozen=True)
class TagChanges:
    """What setting a project's tags did: the tag ids put on it and taken off it."""

    added: tuple[int, ...]
    removed: tuple[int, ...]


@dataclass(frozen=True)
class Document:
    id: int
    project_id: int
    project_name: str
    name: str
    description: str
    mime_type: str
    size_bytes: int
    checksum: str
    storage_code: str
    object_key: str
    preview_key: str | None
    metadata: dict
    uploaded_at: datetime
    uploaded_by: int | None
    uploaded_by_login: str | None
    deleted_at: datetime | None = None


@dataclass(frozen=True)
class StagedFile:
    id: int
    project_id: int
    project_name: str
    original_name: str
    declared_mime: str | None
    detected_mime: str
    size_bytes: int
    checksum: str
    storage_code: str
    object_key: str
    status: str
    notes: str
    metadata: dict
    uploaded_by: int | None
    uploaded_by_login: str | None
    uploaded_at: datetime
    rejection_reason: str | None = None
    reviewer_notes: str = ""
    reviewed_by: int | None = None
    reviewed_at: datetime | None = None
    document_id: int | None = None
    reviewed_by_login: str | None = None


@dataclass(frozen=True)
class NewStagedFile:
    """A file whose bytes are stored, to be recorded as pending review (staging.enqueue_many)."""

    original_name: str
    checksum: str
    size_bytes: int
    detected_mime: str
    storage_code: str
    object_key: str
    declared_mime: str | None = None
    metadata: dict | None = None


@dataclass(frozen=True)
class HistoryEntry:
    id: int
    operation: str
    changed_at: datetime
    changed_by: int | None
    changed_by_login: str | None
    old_values: dict | None
    new_values: dict | None
    changed_columns: list[str] | None


@dataclass(frozen=True)
class TokenGrant:
    """What an API token acting in a unit of work allows: its user, scopes and projects."""

    id: int
    user_id: int
    name: str
    scopes: frozenset[str]
    project_ids: frozenset[int] | None  # None: every project of its user's


@dataclass(frozen=True)
class ApiToken:
    """A personal access token as its user (or an admin) sees it: never its secret."""

    id: int
    user_id: int
    name: str
    token_prefix: str
    scopes: tuple[str, ...]
    project_ids: tuple[int, ...] | None  # None: every project of its user's
    created_at: datetime
    expires_at: datetime
    last_used_at: datetime | None
    last_used_ip: str | None
    revoked_at: datetime | None
    revoke_reason: str | None


@dataclass(frozen=True)
class ProjectSummary:
    """A row of projects.onboarding_project_summary (totals as of totals_refreshed_at)."""

    project_id: int
    project_name: str
    description: str
    owner_id: int
    owner_login: str | None
    owner_name: str | None
    created_at: datetime
    tags: list[str]
    tag_categories: list[str]
    document_count: int
    total_bytes: int
    participant_count: int
    participants_by_role: dict
    pending_files: int
    last_activity_at: datetime | None
    totals_refreshed_at: datetime | None
    sort_key: str = ""  # PostgreSQL's lower(name): the keyset position of a page of projects


@dataclass(frozen=True)
class AuditEntry:
    """A row of audit.audit_trail_by_project."""

    id: int
    timestamp: datetime
    project_id: int
    project_name: str
    actor_id: int | None
    actor_login: str | None
    actor_name: str | None
    action: str
    schema_name: str
    table_name: str
    record_id: str | None
    old_values: dict | None
    new_values: dict | None
    changed_columns: list[str] | None
    context: dict | None
