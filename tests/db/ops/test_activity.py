"""db/ops/activity.py: who is connected and what waits on whom; sessions counted as active, expired
and revoked by browser, without token material."""

import hashlib
import os
import threading

import psycopg
from sqlalchemy import text

from db.ops import activity
from tests.conftest import acting, make_user
from tests.waiting import wait_until


def test_activity_shows_a_query_waiting_on_a_lock_and_who_holds_it(database_url, conn, ops_user):
    holder = psycopg.connect(database_url)
    holder.execute("lock table projects.tag_reference in access exclusive mode")
    holder_pid = holder.info.backend_pid
    waiter = threading.Thread(target=_read_tags, args=(database_url,))
    waiter.start()
    seen = None

    def lock_wait_seen():
        nonlocal seen
        with acting(conn, ops_user):
            seen = activity.activity(conn)
        return (seen.wait_event_type == "Lock").any()

    try:
        wait_until(lock_wait_seen, timeout=5, what="the reader to show waiting on the lock")
        waiting = seen[seen.wait_event_type == "Lock"]
    finally:
        holder.rollback()
        holder.close()
        waiter.join(10)
    assert len(waiting) == 1
    assert waiting.iloc[0].blocked_by == str(holder_pid)
    assert "tag_reference" in waiting.iloc[0].query
    assert seen.is_this_screen.sum() == 1


def _read_tags(database_url):
    with psycopg.connect(database_url) as other:
        other.execute("select count(*) from projects.tag_reference")


def test_sessions_are_counted_as_active_expired_and_revoked_by_browser(conn, ops_user):
    firefox = "Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0"
    chrome = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/142.0 Safari/537.36"
    with acting(conn, ops_user):
        before = activity.session_summary(conn, idle_minutes=60).counts
    user = make_user(conn)
    sessions = [
        ("now() - interval '1 hour'", "now() + interval '1 day'", "now()", None, firefox),  # active
        (
            "now() - interval '3 hours'",
            "now() + interval '1 day'",
            "now() - interval '2 hours'",
            None,
            firefox,
        ),
        ("now() - interval '2 days'", "now() - interval '1 day'", "now() - interval '1 day'", None, chrome),
        ("now() - interval '1 hour'", "now() + interval '1 day'", "now()", "signed out", chrome),
    ]
    for created, expires, active, reason, agent in sessions:
        conn.execute(
            text(
                "insert into auth.sessions (user_id, token_hash, created_at, expires_at, last_active_at,"
                f" revoked_at, revoke_reason, user_agent) values (:u, :h, {created}, {expires}, {active},"
                " case when cast(:r as text) is null then null else now() end, :r, :a)"
            ),
            {"u": user.id, "h": hashlib.sha256(os.urandom(16)).digest(), "r": reason, "a": agent},
        )
    with acting(conn, ops_user):
        summary = activity.session_summary(conn, idle_minutes=60)
    assert summary.counts["active"] == before["active"] + 1
    assert summary.counts["expired"] == before["expired"] + 2, "past its lifetime, or idle too long"
    assert summary.counts["revoked"] == before["revoked"] + 1
    agents = summary.by_agent.set_index(["agent", "state"]).sessions
    assert agents["Firefox on Linux", "active"] >= 1 and agents["Chrome on Windows", "revoked"] >= 1
    mine = summary.active[summary.active.login == user.login]
    assert len(mine) == 1 and mine.iloc[0].agent == "Firefox on Linux"
    assert not {"token_hash", "id"} & set(summary.active.columns), "no token material on the screen"


def test_user_agents_read_as_browser_and_system():
    assert activity.agent_family(None) == "unknown"
    assert activity.agent_family("curl/8.5.0") == "curl"
    edge = "Mozilla/5.0 (Windows NT 10.0) AppleWebKit/537.36 Chrome/142.0 Safari/537.36 Edg/142.0"
    assert activity.agent_family(edge) == "Edge on Windows"
    safari = (
        "Mozilla/5.0 (iPhone; CPU iPhone OS 18_0 like Mac OS X) AppleWebKit/605 Version/18.0 Safari/604.1"
    )
    assert activity.agent_family(safari) == "Safari on iOS"
