"""Sessions (auth.sessions is the session store): create, resolve (expiry is checked there), touch,
revoke."""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import secrets
import threading
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import Connection, text

from db.core import keys
from db.core.engine import current_actor, set_actor
from db.core.errors import AuthenticationFailed, NotFound
from db.core.settings import get_settings
from db.core.types import Session
from db.domain import access, users

TOUCH_INTERVAL = timedelta(minutes=1)
THROTTLE_WINDOW = timedelta(minutes=15)
# Attempts allowed per window: for one e-mail address from browsers that never signed in as its
# user; from a browser that did (its device cookie: OWASP's answer to lock-outs by strangers);
# and from one client address (IPv6 by /64) whatever the e-mail.
ACCOUNT_ATTEMPTS = 5
DEVICE_ATTEMPTS = 5
ADDRESS_ATTEMPTS = 50
DEVICE_COOKIE_DAYS = 365
FAILED = "The e-mail address or password is not correct."
BUSY = "Many people are signing in at this moment. Try again in a few seconds."

_COLUMNS = (
    "s.id::text as id, s.user_id, s.created_at, s.expires_at, s.last_active_at, s.revoked_at,"
    " s.user_agent, host(s.ip_address) as ip_address"
)


Unit = Callable[[], AbstractContextManager[Connection]]  # opens one transaction (db.core.engine.transaction)


@dataclass(frozen=True)
class NewSession:
    session: Session
    token: str  # shown once, to be put in the browser's cookie; only its hash is stored


def hash_token(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def ip_or_none(value: str | None) -> str | None:
    """`value` as an address PostgreSQL's inet takes, or None (a test client, a proxy's name)."""
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
            "ip": ip_or_none(ip_address),
        },
    ).one()
    return NewSession(session=Session(**row._mapping), token=token)


_slots_lock = threading.Lock()
_slots: threading.BoundedSemaphore | None = None


def _verification_slots() -> threading.BoundedSemaphore:
    """At most `sign_in_concurrency` password checks at once in this process (argon2id takes 64 MiB
    and a core for a tenth of a second each): the rest are answered at once, not queued."""
    global _slots
    with _slots_lock:
        if _slots is None:
            _slots = threading.BoundedSemaphore(get_settings().sign_in_concurrency)
        return _slots


@dataclass(frozen=True)
class SignInOutcome:
    new: NewSession | None  # None when refused
    message: str | None  # why, for the person; never says whether the e-mail exists
    retry_after: int | None = None  # seconds, when refused for too many attempts (HTTP 429)
    device_token: str | None = None  # after a success: the browser's device cookie


def _address_key(ip_address: str | None) -> str | None:
    try:
        address = ipaddress.ip_address(ip_address or "")
    except ValueError:
        return None
    if address.version == 6:
        if address.ipv4_mapped is not None:
            return f"address:{address.ipv4_mapped}"
        return f"address:{ipaddress.ip_network(f'{address}/64', strict=False)}"
    return f"address:{address}"


def make_device_token(user_id: int, password_epoch: int) -> str:
    """A device cookie for a browser that just signed in as this user (signed by the server). It is
    bound to the time the password last changed: a password change or reset ends its trust."""
    return keys.sign("device", f"{user_id}:{password_epoch}:{secrets.token_urlsafe(18)}")


def _device_id(token: str | None, user_id: int | None, password_epoch: int | None) -> str | None:
    """The id of a device cookie the server made for this user since their password last changed."""
    message = keys.unsign("device", token) if token and user_id is not None else None
    if message is None:
        return None
    owner, epoch, device = (message.split(":", 2) + ["", ""])[:3]
    return device if owner == str(user_id) and epoch == str(password_epoch) and device else None


def sign_in(
    unit: Unit,
    *,
    login: str,
    password: str,
    user_agent: str | None,
    ip_address: str | None,
    device_token: str | None = None,
) -> SignInOutcome:
    """Check credentials, throttle repeated attempts, open a session; every outcome is audited.

    Three units of work: the attempt is counted (and committed) before the password is checked, so
    that guesses sent at once cannot all slip under the limit; the check itself holds no
    transaction; then the outcome is recorded. Returns instead of raising: a refusal is recorded too.
    """
    login = login[:254] if isinstance(login, str) and "\x00" not in login else ""
    password = password if isinstance(password, str) and "\x00" not in password else ""
    with unit() as conn:
        row = conn.execute(
            text(
                # The key at most 254 characters (NFKC can lengthen hostile text: a real address
                # is ASCII and shorter), so counting and auditing take any text.
                "select pg_catalog.left(users.login_key(:login), 254) as key, u.id, u.password_hash,"
                " coalesce(u.is_active and u.deleted_at is null, false) as usable,"
                " coalesce(extract(epoch from u.password_changed_at), 0)::bigint as password_epoch"
                " from (select) x"
                " left join users.users u on users.login_key(u.login) = users.login_key(:login)"
            ),
            {"login": login},
        ).one()
        device = _device_id(device_token, row.id, row.password_epoch)
        limits = {f"device:{device}": DEVICE_ATTEMPTS} if device else {f"account:{row.key}": ACCOUNT_ATTEMPTS}
        address = _address_key(ip_address)
        if not device and address is not None:  # no address known (a Unix socket): no shared bucket
            limits[address] = ADDRESS_ATTEMPTS
        counted = conn.execute(
            text("select * from auth.count_sign_in_attempt(cast(:keys as text[]), :window)"),
            {"keys": list(limits), "window": THROTTLE_WINDOW},
        ).all()
        over = [c.retry_after_seconds for c in counted if c.attempts > limits[c.key]]
        if over:
            _event(conn, "sign_in_throttled", row.key, user_agent, ip_address)
            wait = max(over)
            message = f"Too many failed sign-ins. Try again in {_minutes(wait)}."
            return SignInOutcome(None, message, retry_after=wait)
    # Refused before hashing: a password longer than any the policy allows (argon2 of a megabyte
    # is work for nothing), and a check that would wait for a free slot.
    if len(password) > users.MAX_PASSWORD_LENGTH:
        ok = False
    elif not _verification_slots().acquire(blocking=False):
        with unit() as conn:
            _forgive(conn, list(limits))
            _event(conn, "sign_in_refused", row.key, user_agent, ip_address)
        return SignInOutcome(None, BUSY, retry_after=2)
    else:
        try:
            ok = users.verify_password(row.password_hash, password) and row.usable
        finally:
            _verification_slots().release()
    with unit() as conn:
        if not ok:
            _event(conn, "sign_in_failed", row.key, user_agent, ip_address)
            return SignInOutcome(None, FAILED)
        _forgive(conn, list(limits), reset=[f"device:{device}"] if device else [])
        set_actor(conn, row.id)
        users.record_sign_in(conn, user_id=row.id, password=password, password_hash=row.password_hash)
        new = create_session(conn, user_id=row.id, user_agent=user_agent, ip_address=ip_address)
        _event(conn, "sign_in", str(row.id), user_agent, ip_address)
    return SignInOutcome(new, None, device_token=make_device_token(row.id, row.password_epoch))


def _minutes(seconds: int) -> str:
    minutes = max(1, -(-seconds // 60))
    return "1 minute" if minutes == 1 else f"{minutes} minutes"


def _forgive(conn: Connection, keys_: list[str], reset: list[str] = ()) -> None:
    conn.execute(
        text("select auth.forgive_sign_in_attempt(cast(:keys as text[]), cast(:reset as text[]))"),
        {"keys": keys_, "reset": list(reset)},
    )


def _event(conn: Connection, action: str, record: str, user_agent: str | None, ip: str | None) -> None:
    conn.execute(
        text("select audit.record_event(:action, 'sign_in', :record, cast(:context as jsonb))"),
        {
            "action": action,
            "record": record,
            "context": json.dumps({"ip_address": ip, "user_agent": (user_agent or "")[:300]}),
        },
    )


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
        _event(conn, "sign_out" if own else "session_revoked", session_id, user_agent, ip_or_none(ip_address))


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
