"""The audit trail: audit_trail_by_project with filters."""

from __future__ import annotations

import json
from datetime import datetime

import pandas as pd
from sqlalchemy import Connection, text

from db.core.errors import InvalidInput
from db.core.sql import domain_errors, require_id
from db.domain import access


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
    access.require_permission(conn, project_id=project_id, permission="can_view")
    if not 1 <= limit <= 10000:
        raise InvalidInput("Ask for 1 to 10,000 audit rows.")
    query = text(
        'select id, "timestamp", project_id, project_name, actor_id, actor_login, actor_name,'
        " action, schema_name, table_name, record_id, old_values, new_values, changed_columns"
        " from audit.audit_trail_by_project"
        " where project_id = :p"
        " and (cast(:actor as bigint) is null or actor_id = :actor)"
        " and (cast(:action as text) is null or action = :action)"
        " and (cast(:table as text) is null or table_name = :table)"
        ' and (cast(:since as timestamptz) is null or "timestamp" >= :since)'
        ' and (cast(:until as timestamptz) is null or "timestamp" < :until)'
        ' order by "timestamp" desc, id desc limit :limit'
    )
    params = {
        "p": project_id,
        "actor": actor_id,
        "action": action,
        "table": table_name,
        "since": since,
        "until": until,
        "limit": limit,
    }
    return pd.read_sql_query(query, conn, params=params)


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
