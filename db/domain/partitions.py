"""Partition maintenance for documents (quarterly) and audit_log (monthly): status and maintain."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
from sqlalchemy import Connection, text

from db.core.settings import Settings, get_settings
from db.domain import access

PARENTS = ("documents.documents", "audit.audit_log")


@dataclass(frozen=True)
class MaintenanceStep:
    action: str  # created, detached, default_rows
    partition_name: str
    detail: str


def partition_status(conn: Connection) -> pd.DataFrame:
    """Every partition of the partitioned tables, with bounds, row estimates and size."""
    access.require_ops(conn)
    return pd.read_sql_query(
        text(
            "select parent_table, partition_name, is_default, range_from, range_to,"
            " estimated_rows, total_bytes, reloptions"
            " from system.partitions order by parent_table, is_default, range_from"
        ),
        conn,
    )


def default_partition_rows(conn: Connection) -> dict[str, int]:
    """Rows sitting in each DEFAULT partition (they belong to no period partition)."""
    counts = {}
    for parent in PARENTS:
        counts[parent] = conn.execute(
            text("select system.default_partition_rows(:parent)"), {"parent": parent}
        ).scalar_one()
    return counts


def maintain(conn: Connection, *, settings: Settings | None = None, back: int = 0) -> list[MaintenanceStep]:
    """Create partitions ahead (with storage settings), report DEFAULT rows, detach old ones."""
    access.require_admin(conn)
    settings = settings or get_settings()
    retention = {
        "documents.documents": settings.documents_retention_quarters,
        "audit.audit_log": settings.audit_retention_months,
    }
    steps = []
    for parent in PARENTS:
        rows = conn.execute(
            text("select * from system.maintain_partitions(:parent, :ahead, :back, :retain)"),
            {
                "parent": parent,
                "ahead": settings.partition_premake,
                "back": back,
                "retain": retention[parent],
            },
        )
        steps += [MaintenanceStep(r.action, r.partition_name, r.detail) for r in rows]
    return steps
