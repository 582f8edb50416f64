"""Sessions (auth.sessions is the session store): create, resolve, touch, revoke, expire."""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import Connection, text

from db import access, users
from db.engine import current_actor, set_actor
from db.errors import AuthenticationFailed, NotFound
from db.settings import get_settings
from db.types import Session

TOUCH_INTERVAL = timedelta(minutes=1)
THROTTLE_FAILURES = 5
THROTTLE_WINDOW = timedelta(minutes=15)
_COLUMNS = (
    "s.id::text as id, s.user_id, s.created_at, s.expires_at, s.last_active_at, s.revoked_at,"
    " s.user_agent, host(s.ip_address) as ip_address"
)


@dataclass(frozen=True)
class NewSession:
    session: Session
    token: str  # shown once, to be put in the browser's cookie; only its hash is stored


def hash_token(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def _ip_or_none(value: str | None) -> str | None:
    try:
        return str(ipaddress.ip_address(value)) if value else None
    except ValueError:
        return None  # a proxy or test client that does not give a real address


def create_session(
    conn: Connection,
    *,
    user_id: int,
    user_agent: str | None = None,
    ip_address: str | None = None,
    lifetime: timedelta | None = None,
) -> NewSession:
    """Open a session for a user who just authenticated; returns the secret token once."""
    token = secrets.token_urlsafe(32)  # 256 random bits
    lifetime = lifetime or timedelta(hours=get_settings().session_lifetime_hours)
    row = conn.execute(
        text(
            "insert into auth.sessions as s (user_id, token_hash, expires_at, user_agent, ip_address)"
            " values (:u, :h, now() + :life, :ua, cast(:ip as inet))"
            f" returning {_COLUMNS}"
        ),
        {
            "u": user_id,
            "h": hash_token(token),
            "life": lifetime,
            "ua": (user_agent or "")[:1000] or None,
            "ip": _ip_or_none(ip_address),
        },
    ).one()
    return NewSession(session=Session(**row._mapping), token=token)


@dataclass(frozen=True)
class SignInOutcome:
    new: NewSession | None  # None when refused
    message: str | None  # why, for the person; never says whether the e-mail exists


def _event(conn: Connection, action: str, record: str, user_agent: str | None, ip: str | None) -> None:
    conn.execute(
        text("select audit.record_event(:action, 'sign_in', :record, cast(:context as jsonb))"),
        {
            "action": action,
            "record": record,
            "context": json.dumps({"ip_address": ip, "user_agent": (user_agent or "")[:300]}),
        },
    )


def sign_in(
    conn: Connection, *, login: str, password: str, user_agent: str | None, ip_address: str | None
) -> SignInOutcome:
    """Check credentials, throttle repeated failures, open a session; every outcome is audited.

    Returns instead of raising, so the caller commits the audit row of a failure too.
    """
    key = (login or "").strip().lower()[:254]
    # Past row-level security (revision 0014): failures name no project and no signed-in user.
    failures = conn.execute(
        text("select audit.recent_sign_in_failures(:key, :window)"), {"key": key, "window": THROTTLE_WINDOW}
    ).scalar_one()
    if failures >= THROTTLE_FAILURES:
        _event(conn, "sign_in_throttled", key, user_agent, ip_address)
        minutes = int(THROTTLE_WINDOW.total_seconds() // 60)
        return SignInOutcome(None, f"Too many failed sign-ins. Wait {minutes} minutes and try again.")
    try:
        user = users.authenticate(conn, login=login, password=password)
    except AuthenticationFailed as error:
        _event(conn, "sign_in_failed", key, user_agent, ip_address)
        return SignInOutcome(None, str(error))
    set_actor(conn, user.id)
    conn.execute(text("update users.users set last_login_at = now() where id = :id"), {"id": user.id})
    new = create_session(conn, user_id=user.id, user_agent=user_agent, ip_address=ip_address)
    _event(conn, "sign_in", str(user.id), user_agent, ip_address)
    return SignInOutcome(new, None)


def resolve_session(conn: Connection, *, token: str, idle: timedelta | None = None) -> Session:
    """The live session behind a token; says why when it is not (revoked, expired, idle)."""
    idle = idle or timedelta(minutes=get_settings().session_idle_minutes)
    if not isinstance(token, str) or not 20 <= len(token) <= 200:
        raise AuthenticationFailed("Your session is not valid. Please sign in.")
    wanted = hash_token(token)
    row = conn.execute(
        text(
            f"select {_COLUMNS}, token_hash, now() as now,"
            " u.is_active and u.deleted_at is null as user_usable"
            " from auth.sessions s join users.users u on u.id = s.user_id"
            " where s.token_hash = :h"
        ),
        {"h": wanted},
    ).one_or_none()
    if row is None or not hmac.compare_digest(bytes(row.token_hash), wanted):
        raise AuthenticationFailed("Your session is not valid. Please sign in.")
    if row.revoked_at is not None:
        raise AuthenticationFailed("You were signed out. Please sign in again.")
    if not row.user_usable:
        raise AuthenticationFailed("Your account is not active. Ask an administrator.")
    if row.expires_at <= row.now:
        raise AuthenticationFailed("Your session has expired. Please sign in again.")
    if row.last_active_at + idle <= row.now:
        raise AuthenticationFailed("You were signed out after a period of inactivity.")
    fields = {k: v for k, v in row._mapping.items() if k in Session.__dataclass_fields__}
    return Session(**fields)


def touch_session(conn: Connection, *, session_id: str) -> bool:
    """Record activity, at most once a minute; True if the row was written."""
    result = conn.execute(
        text(
            "update auth.sessions set last_active_at = now()"
            " where id = cast(:id as uuid) and revoked_at is null and last_active_at < now() - :every"
        ),
        {"id": session_id, "every": TOUCH_INTERVAL},
    )
    return result.rowcount == 1


def revoke_session(
    conn: Connection,
    *,
    session_id: str,
    reason: str = "signed out",
    user_agent: str | None = None,
    ip_address: str | None = None,
) -> None:
    """End a session at once (its owner signing out, or an admin revoking it); the audit log gets a
    sign_out or session_revoked event with the IP address and user agent of whoever did it."""
    owner = conn.execute(
        text("select user_id from auth.sessions where id = cast(:id as uuid)"), {"id": session_id}
    ).one_or_none()
    if owner is None:
        raise NotFound("There is no such session.")
    own = owner.user_id == current_actor(conn)
    if not own:
        access.require_admin(conn)
    ended = conn.execute(
        text(
            "update auth.sessions set revoked_at = now(), revoked_by = :actor, revoke_reason = :reason"
            " where id = cast(:id as uuid) and revoked_at is null"
        ),
        {"id": session_id, "actor": current_actor(conn), "reason": reason[:200]},
    ).rowcount
    if ended:
        _event(
            conn, "sign_out" if own else "session_revoked", session_id, user_agent, _ip_or_none(ip_address)
        )


def list_sessions(conn: Connection, *, user_id: int | None = None, open_only: bool = True) -> list[Session]:
    """Sessions, newest first: the user's own, or anyone's for admins."""
    if user_id is None or user_id != current_actor(conn):
        access.require_admin(conn)
    rows = conn.execute(
        text(
            f"select {_COLUMNS} from auth.sessions s"
            " where (cast(:u as bigint) is null or user_id = :u)"
            " and (not :open or (revoked_at is null and expires_at > now()))"
            " order by created_at desc limit 1000"
        ),
        {"u": user_id, "open": open_only},
    )
    return [Session(**r._mapping) for r in rows]


def sign_out_other_sessions(conn: Connection, *, keep_session_id: str) -> int:
    """End every open session of the acting user but this one (a lost laptop, a shared computer);
    how many ended. Audited: each revocation, and one `sessions_ended` event."""
    actor = current_actor(conn)
    if actor is None:
        raise AuthenticationFailed("Please sign in.")
    return users.end_sessions(
        conn, user_id=actor, reason="signed out from another session", keep_session=keep_session_id
    )


def expire_sessions(conn: Connection) -> int:
    """Mark sessions past their lifetime as revoked (housekeeping); returns how many."""
    access.require_admin(conn)
    return conn.execute(
        text(
            "update auth.sessions set revoked_at = now(), revoke_reason = 'expired'"
            " where revoked_at is null and expires_at <= now()"
        )
    ).rowcount
