"""Activity: the server's connections and ProSync's own sessions."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
from sqlalchemy import Connection

from db.core.settings import get_settings
from db.ops.common import (
    guarded,
    query_frame,
)


def activity(conn: Connection) -> pd.DataFrame:
    """pg_stat_activity for this database: state, waits, durations, who blocks whom."""
    with guarded(conn):
        return query_frame(
            conn,
            "select pid, usename as role, application_name, host(client_addr) as client, backend_type,"
            " state, wait_event_type, wait_event,"
            " greatest(extract(epoch from clock_timestamp() - query_start), 0)::float as query_seconds,"
            " greatest(extract(epoch from clock_timestamp() - xact_start), 0)::float as transaction_seconds,"
            " greatest(extract(epoch from clock_timestamp() - state_change), 0)::float as in_state_seconds,"
            " query_start, xact_start, backend_start,"
            " array_to_string(pg_blocking_pids(pid), ', ') as blocked_by,"
            " pid = pg_backend_pid() as is_this_screen, left(query, 2000) as query"
            " from pg_stat_activity where datname = current_database()"
            " order by state = 'active' desc, query_start nulls last, pid",
        )


@dataclass(frozen=True)
class SessionSummary:
    counts: dict[str, int]  # active, expired, revoked
    by_agent: pd.DataFrame  # agent, state, sessions, last_active_at
    active: pd.DataFrame  # the open sessions, newest activity first (never a token or its hash)


SESSION_STATE_SQL = """
case when s.revoked_at is not null and s.revoke_reason = 'expired' then 'expired'
     when s.revoked_at is not null then 'revoked'
     when s.expires_at <= now() or s.last_active_at + make_interval(mins => :idle) <= now() then 'expired'
     else 'active' end
"""


def session_summary(conn: Connection, *, idle_minutes: int | None = None, limit: int = 500) -> SessionSummary:
    """ProSync's sign-in sessions (auth.sessions): how many are active, expired and revoked, by
    browser, and the active ones with their user, address and last activity."""

    idle = idle_minutes or get_settings().session_idle_minutes
    with guarded(conn):
        grouped = query_frame(
            conn,
            f"select s.user_agent, {SESSION_STATE_SQL} as state, count(*) as sessions,"
            " max(s.last_active_at) as last_active_at from auth.sessions s group by 1, 2",
            idle=idle,
        )
        active = query_frame(
            conn,
            "select u.login, s.created_at, s.last_active_at, s.expires_at, host(s.ip_address) as ip_address,"
            " s.user_agent from auth.sessions s join users.users u on u.id = s.user_id"
            f" where {SESSION_STATE_SQL} = 'active' order by s.last_active_at desc limit :limit",
            idle=idle,
            limit=limit,
        )
    counts = {
        state: int(grouped.sessions[grouped.state == state].sum())
        for state in ("active", "expired", "revoked")
    }
    grouped["agent"] = [agent_family(a) for a in grouped.user_agent]
    by_agent = (
        grouped.groupby(["agent", "state"], as_index=False)
        .agg(sessions=("sessions", "sum"), last_active_at=("last_active_at", "max"))
        .sort_values(["sessions", "agent"], ascending=[False, True], ignore_index=True)
    )
    active["agent"] = [agent_family(a) for a in active.user_agent]
    return SessionSummary(counts, by_agent, active)


_BROWSERS = (
    ("Edg/", "Edge"), ("OPR/", "Opera"), ("HeadlessChrome/", "Headless Chrome"), ("Chromium/", "Chromium"),
    ("Chrome/", "Chrome"), ("Firefox/", "Firefox"), ("Safari/", "Safari"), ("curl/", "curl"),
    ("python-requests/", "Python requests"), ("python-httpx/", "Python httpx"),
)  # fmt: skip
_SYSTEMS = (
    ("Windows", "Windows"), ("Android", "Android"), ("iPhone", "iOS"), ("iPad", "iOS"),
    ("Mac OS X", "macOS"), ("CrOS", "ChromeOS"), ("Linux", "Linux"),
)  # fmt: skip


def agent_family(user_agent: str | None) -> str:
    """A user agent string as a browser and system, such as "Firefox on Linux"."""
    if not user_agent:
        return "unknown"
    browser = next((name for token, name in _BROWSERS if token in user_agent), "other")
    system = next((name for token, name in _SYSTEMS if token in user_agent), None)
    return f"{browser} on {system}" if system else browser
