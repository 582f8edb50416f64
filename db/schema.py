"""Schema version history (system.schema_version) beside Alembic's own revision."""

from __future__ import annotations

import pandas as pd
from sqlalchemy import Connection, text


def schema_versions(conn: Connection) -> pd.DataFrame:
    """Every upgrade and downgrade step ever applied, newest first."""
    return pd.read_sql_query(
        text(
            "select version, description, direction, applied_at, applied_by, server_version"
            " from system.schema_version order by id desc"
        ),
        conn,
    )
