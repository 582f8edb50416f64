"""What the API answers, as pydantic models: they are its OpenAPI document's schemas too."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from fastapi.responses import Response
from pydantic import BaseModel, Field

from db.core.types import AuditEntry, Document, ProjectSummary, StagedFile


def json_response(model: BaseModel) -> Response:
    """The model as JSON, serialized once by pydantic in Rust (a route's return value would be
    validated and encoded again by FastAPI: 1 to 3 ms for a page of 50 rows)."""
    return Response(model.model_dump_json(), media_type="application/json")


class ProblemOut(BaseModel):
    """An error (RFC 9457, application/problem+json); `detail` is the message the screens show."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str


class ProjectOut(BaseModel):
    """A project's onboarding summary row (document totals as of totals_refreshed_at)."""

    id: int
    name: str
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
    participants_by_role: dict[str, int]
    pending_files: int
    last_activity_at: datetime | None
    totals_refreshed_at: datetime | None

    @classmethod
    def of(cls, row: ProjectSummary) -> ProjectOut:
        values = {
            k: v for k, v in row.__dict__.items() if k not in ("project_id", "project_name", "sort_key")
        }
        return cls(id=row.project_id, name=row.project_name, **values)


class DocumentOut(BaseModel):
    id: int
    project_id: int
    project_name: str
    name: str
    description: str
    mime_type: str
    size_bytes: int
    checksum: str = Field(description="SHA-256 of the content, hex")
    metadata: dict
    uploaded_at: datetime
    uploaded_by: int | None
    uploaded_by_login: str | None
    deleted_at: datetime | None = Field(description="when it went to the trash; null while active")
    has_preview: bool
    content_url: str = Field(description="GET it for the bytes (streamed, or a redirect to a presigned URL)")

    @classmethod
    def of(cls, row: Document) -> DocumentOut:
        keep = set(cls.model_fields) - {"has_preview", "content_url"}
        return cls(
            **{k: getattr(row, k) for k in keep},
            has_preview=row.preview_key is not None,
            content_url=f"/api/v1/documents/{row.id}/content",
        )


class StagedOut(BaseModel):
    id: int
    project_id: int
    project_name: str
    name: str
    status: Literal["pending", "approved", "rejected"]
    declared_mime: str | None
    detected_mime: str
    size_bytes: int
    checksum: str = Field(description="SHA-256 of the content, hex")
    notes: str
    metadata: dict
    uploaded_by: int | None
    uploaded_by_login: str | None
    uploaded_at: datetime
    rejection_reason: str | None
    reviewer_notes: str
    reviewed_by: int | None
    reviewed_by_login: str | None
    reviewed_at: datetime | None
    document_id: int | None = Field(description="the document it became, once approved")

    @classmethod
    def of(cls, row: StagedFile) -> StagedOut:
        keep = set(cls.model_fields) - {"name"}
        return cls(**{k: getattr(row, k) for k in keep}, name=row.original_name)


class UploadResult(BaseModel):
    name: str
    status: Literal["staged", "duplicate", "refused"]
    message: str = Field(description="the Upload screen's words for what became of the file")
    staged: StagedOut | None = None


class UploadOut(BaseModel):
    files: list[UploadResult]


class DecisionOut(BaseModel):
    name: str
    status: str = Field(description="approved, rejected, or why not")
    message: str
    staged: StagedOut | None = None
    document: DocumentOut | None = None


class AuditOut(BaseModel):
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
    context: dict | None = Field(description="the API token a change was made through, an address")

    @classmethod
    def of(cls, row: AuditEntry) -> AuditOut:
        return cls(**row.__dict__)


class ProjectsPage(BaseModel):
    items: list[ProjectOut]
    next_cursor: str | None = Field(description="pass as ?cursor= for the next page; null on the last")


class SnippetPart(BaseModel):
    text: str = Field(description="a piece of the file's text, as it is (not HTML, not Markdown)")
    match: bool = Field(description="whether it is one of the words searched for")


class SearchHitOut(BaseModel):
    document: DocumentOut
    rank: float = Field(description="how well it matches (higher is better), among this search's results")
    snippet: list[SnippetPart] = Field(description="where the words occur in its text, in order")


class SearchPage(BaseModel):
    items: list[SearchHitOut]
    next_cursor: str | None
    capped: bool = Field(
        description="more documents match than are ranked (the newest 1,000): add a word to narrow it"
    )


class DocumentsPage(BaseModel):
    items: list[DocumentOut]
    next_cursor: str | None


class StagedPage(BaseModel):
    items: list[StagedOut]
    next_cursor: str | None


class AuditPage(BaseModel):
    items: list[AuditOut]
    next_cursor: str | None


class RejectIn(BaseModel):
    reason: str = Field(min_length=1, max_length=2000, description="why, for the uploader (required)")
    reviewer_notes: str = Field(default="", max_length=10000)


class ApproveManyIn(BaseModel):
    ids: list[int] = Field(min_length=1, max_length=200, description="staged file ids of this project")
    reviewer_notes: str = Field(default="", max_length=10000)


class DecisionsOut(BaseModel):
    results: list[DecisionOut] = Field(description="one per id, in order")


class ApproveIn(BaseModel):
    reviewer_notes: str = Field(default="", max_length=10000)


class HealthOut(BaseModel):
    status: Literal["ok", "unavailable"]
    database: str
    storage: str


def errors(*statuses: int) -> dict:
    """OpenAPI `responses` for these error statuses."""
    words = {
        400: "bad input (what is wrong, in `detail`)",
        401: "no valid token",
        403: "the token's scopes or the user's role do not allow it",
        404: "no such thing, or not visible to this token",
        409: "a conflict (decided already, a duplicate, an idempotency key reused)",
        410: "the file is missing from storage",
        413: "the body is larger than the largest file ProSync accepts",
        415: "not multipart/form-data",
        429: "the token's rate limit was passed; see Retry-After",
        503: "the database or the store is unavailable",
    }
    return {
        s: {"model": ProblemOut, "description": words[s], "content": {"application/problem+json": {}}}
        for s in statuses
    }
