"""The audit trail: audit_trail_by_project with filters."""

from __future__ import annotations

import json
from datetime import datetime

import pandas as pd
from sqlalchemy import Connection, text

from db.core.errors import InvalidInput
from db.core.sql import domain_errors, require_id
from db.core.types import AuditEntry, Cursor, Page
from db.domain import access

_TRAIL = (
    'select id, "timestamp", project_id, project_name, actor_id, actor_login, actor_name,'
    " action, schema_name, table_name, record_id, old_values, new_values, changed_columns{extra}"
    " from audit.audit_trail_by_project"
    " where project_id = :p"
    " and (cast(:actor as bigint) is null or actor_id = :actor)"
    " and (cast(:action as text) is null or action = :action)"
    " and (cast(:table as text) is null or table_name = :table)"
    ' and (cast(:since as timestamptz) is null or "timestamp" >= :since)'
    ' and (cast(:until as timestamptz) is null or "timestamp" < :until)'
    ' and (cast(:after_at as timestamptz) is null or ("timestamp", id) < (:after_at, :after_id))'
    ' order by "timestamp" desc, id desc limit :limit'
)


def _trail_params(conn: Connection, project_id: int, limit: int, after: Cursor | None, **filters) -> dict:
    access.require_permission(conn, project_id=project_id, permission="can_view")
    if not 1 <= limit <= 10000:
        raise InvalidInput("Ask for 1 to 10,000 audit rows.")
    if filters["actor"] is not None:
        require_id(filters["actor"], "user")
    for name in ("action", "table"):
        if filters[name] is not None and (not isinstance(filters[name], str) or "\x00" in filters[name]):
            raise InvalidInput(f"The {name} filter must be text.")
    return {
        "p": project_id, **filters, "limit": limit,
        "after_at": after.at if after else None, "after_id": after.id if after else None,
    }  # fmt: skip


def audit_trail(
    conn: Connection,
    *,
    project_id: int,
    actor_id: int | None = None,
    action: str | None = None,
    table_name: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 100,
) -> pd.DataFrame:
    """audit_trail_by_project rows of one project, newest first."""
    params = _trail_params(
        conn,
        project_id,
        limit,
        None,
        actor=actor_id,
        action=action,
        table=table_name,
        since=since,
        until=until,
    )
    # The API token a change came through, by name (who made the change is actor_login).
    extra = ", context ->> 'token' as via_token"
    return pd.read_sql_query(text(_TRAIL.format(extra=extra)), conn, params=params)


def list_trail(
    conn: Connection,
    *,
    project_id: int,
    actor_id: int | None = None,
    action: str | None = None,
    table_name: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    after: Cursor | None = None,
    limit: int = 100,
) -> Page[AuditEntry]:
    """audit_trail_by_project rows of one project, newest first, one keyset page; with each row's
    context (the API token a change was made through, an address) for those who may manage the
    project's access."""
    params = _trail_params(
        conn,
        project_id,
        limit,
        after,
        actor=actor_id,
        action=action,
        table=table_name,
        since=since,
        until=until,
    )
    params["limit"] = limit + 1
    # The whole context (addresses, browsers) is for those who manage the project's access; others
    # see only the name of the API token a change came through.
    managing = access.has_permission(conn, project_id=project_id, permission="can_manage_access")
    context = ", context" if managing else (
        ", case when context ? 'token' then jsonb_build_object('token', context -> 'token') end as context"
    )  # fmt: skip
    rows = conn.execute(text(_TRAIL.format(extra=context)), params).all()
    entries = [AuditEntry(**r._mapping) for r in rows[:limit]]
    more = len(rows) > limit
    return Page(rows=entries, next=Cursor(entries[-1].timestamp, entries[-1].id) if more else None)


DOWNLOAD_KINDS = ("document", "preview", "staged")


def record_download(
    conn: Connection, *, kind: str, item_id: int, user_agent: str | None = None, ip_address: str | None = None
) -> None:
    """A download (a document, its preview, a staged file), in its project's audit trail as the
    acting user's (action `download`), before the file is served: no record, no file. The database
    checks that the actor may see the project (audit.record_download, revision 0018)."""
    if kind not in DOWNLOAD_KINDS:
        raise InvalidInput(f"Not a kind of download: {str(kind)[:40]}.")
    with domain_errors():
        conn.execute(
            text("select audit.record_download(:kind, :id, cast(:context as jsonb))"),
            {
                "kind": kind,
                "id": require_id(item_id, "file"),
                "context": json.dumps({"ip_address": ip_address, "user_agent": (user_agent or "")[:300]}),
            },
        )
