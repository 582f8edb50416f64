"""Users: create, authenticate (argon2id), deactivate, soft delete and restore, system roles."""

from __future__ import annotations

import json
import logging

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Connection, text

from db.core.engine import current_actor
from db.core.errors import AuthenticationFailed, Conflict, InvalidInput, NotFound
from db.core.sql import domain_errors, require_id
from db.core.types import User
from db.domain import access

log = logging.getLogger(__name__)

# argon2id with argon2-cffi's RFC 9106 "low memory" profile: t=3, m=64 MiB, p=4.
_hasher = PasswordHasher(time_cost=3, memory_cost=65536, parallelism=4)


def hash_password(password: str) -> str:
    """The argon2id hash stored for a password (ProSync's parameters above)."""
    return _hasher.hash(password)


# Verified against when the login is unknown, so both paths cost the same time.
_DUMMY_HASH = hash_password("prosync-timing-equaliser")

MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 1024  # refused before hashing: argon2 of a megabyte is work for nothing
COMMON_PASSWORDS = frozenset(
    {
        "password", "password1", "password123", "123456789", "1234567890", "qwertyuiop",
        "iloveyou", "letmein123", "welcome123", "administrator", "changeme123", "passw0rd123",
        "prosync123", "qwerty1234", "1q2w3e4r5t", "abc1234567", "monkey1234", "dragon1234",
    }
)  # fmt: skip
SYSTEM_ROLES = ("admin", "ops")

_USER_COLUMNS = """
    u.id, u.login, u.display_name, u.is_active, u.created_at, u.last_login_at, u.deleted_at,
    coalesce((select array_agg(r.role order by r.role) from users.user_system_role r
              where r.user_id = u.id), '{}') as system_roles
"""


def _row_to_user(row) -> User:
    return User(
        id=row.id,
        login=row.login,
        display_name=row.display_name,
        is_active=row.is_active,
        system_roles=tuple(row.system_roles),
        created_at=row.created_at,
        last_login_at=row.last_login_at,
        deleted_at=row.deleted_at,
    )


def check_password(password: str, *, login: str) -> None:
    """Refuse passwords that are short, the e-mail address, or common."""
    if not isinstance(password, str) or "\x00" in password:
        raise InvalidInput("The password must be text.")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput(f"The password must have at least {MIN_PASSWORD_LENGTH} characters.")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise InvalidInput(f"The password must have at most {MAX_PASSWORD_LENGTH:,} characters.")
    lowered = password.lower()
    if lowered == login.lower() or lowered == login.split("@")[0].lower():
        raise InvalidInput("The password must not be the e-mail address.")
    if lowered in COMMON_PASSWORDS:
        raise InvalidInput("This password is too common; choose another.")


def _clean_login(login: str) -> str:
    if not isinstance(login, str) or not login.strip():
        raise InvalidInput("An e-mail address is required.")
    if "\x00" in login:
        raise InvalidInput("The e-mail address is not valid.")
    return login.strip()


def _clean_name(display_name: str) -> str:
    if not isinstance(display_name, str) or "\x00" in display_name:
        raise InvalidInput("The display name must be text.")
    return display_name.strip()


def create_user(
    conn: Connection,
    *,
    login: str,
    display_name: str,
    password: str,
    system_roles: tuple[str, ...] = (),
) -> User:
    """Create a user (admins only); the password is stored as an argon2id hash."""
    access.require_admin(conn)
    login = _clean_login(login)
    check_password(password, login=login)
    unknown = set(system_roles) - set(SYSTEM_ROLES)
    if unknown:
        raise InvalidInput(f"Unknown system role: {', '.join(sorted(unknown))}.")
    with domain_errors():
        user_id = conn.execute(
            text(
                "insert into users.users (login, display_name, password_hash)"
                " values (:login, :name, :hash) returning id"
            ),
            {"login": login, "name": _clean_name(display_name), "hash": hash_password(password)},
        ).scalar_one()
        for role in system_roles:
            _set_system_role(conn, user_id, role, granted=True)
    return get_user(conn, user_id=user_id)


def get_user(conn: Connection, *, user_id: int) -> User:
    """One user, deleted or not."""
    require_id(user_id, "user")
    row = conn.execute(
        text(f"select {_USER_COLUMNS} from users.users u where u.id = :id"), {"id": user_id}
    ).one_or_none()
    if row is None:
        raise NotFound(f"There is no user {user_id}.")
    return _row_to_user(row)


def find_user_by_login(conn: Connection, *, login: str) -> User | None:
    """The user with this e-mail address (in its canonical form, users.login_key), or None."""
    row = conn.execute(
        text(
            f"select {_USER_COLUMNS} from users.users u"
            " where users.login_key(u.login) = users.login_key(:login)"
        ),
        {"login": login},
    ).one_or_none()
    return _row_to_user(row) if row else None


def list_users(
    conn: Connection,
    *,
    include_deleted: bool = False,
    search: str | None = None,
    ids: list[int] | None = None,
    limit: int | None = None,
) -> list[User]:
    """Users by e-mail, for administrators: all of them, those whose e-mail or name holds `search`,
    or those with the given ids; at most `limit`."""
    access.require_admin(conn)
    if search is not None and "\x00" in search:
        raise InvalidInput("The search text must not contain NUL characters.")
    pattern = None
    if search and search.strip():
        escaped = search.strip().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        pattern = f"%{escaped}%"
    rows = conn.execute(
        text(
            f"select {_USER_COLUMNS} from users.users u"
            " where (:all or u.deleted_at is null)"
            " and (cast(:pattern as text) is null or u.login ilike :pattern or u.display_name ilike :pattern)"
            " and (cast(:ids as bigint[]) is null or u.id = any(:ids))"
            " order by lower(u.login) limit :limit"
        ),
        {"all": include_deleted, "pattern": pattern, "ids": ids, "limit": limit},
    )
    return [_row_to_user(r) for r in rows]


def verify_password(password_hash: str | None, password: str) -> bool:
    """Whether `password` is the one behind `password_hash`. None (no such user) is checked against
    a dummy hash all the same, so that an unknown address takes as long as a known one."""
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def record_sign_in(conn: Connection, *, user_id: int, password: str, password_hash: str) -> None:
    """After a successful sign-in as the user (the actor): the time, and the hash made again when
    ProSync's argon2 parameters have changed since it was."""
    rehash = hash_password(password) if _hasher.check_needs_rehash(password_hash) else None
    conn.execute(
        text(
            "update users.users set last_login_at = now(),"
            " password_hash = coalesce(cast(:hash as text), password_hash) where id = :id"
        ),
        {"id": user_id, "hash": rehash},
    )


def set_password(conn: Connection, *, user_id: int, password: str, keep_session: str | None = None) -> int:
    """Set a new password (the user themself, or an admin) and end every session of that user but
    `keep_session` (the person changing their own password stays signed in where they are).
    Returns how many sessions ended."""
    require_id(user_id, "user")
    own = current_actor(conn) == user_id
    if not own:
        access.require_admin(conn)
    user = get_user(conn, user_id=user_id)
    check_password(password, login=user.login)
    conn.execute(
        text("update users.users set password_hash = :hash, password_changed_at = now() where id = :id"),
        {"hash": hash_password(password), "id": user_id},
    )
    reason = "password changed" if own else "password reset by an administrator"
    return end_sessions(conn, user_id=user_id, reason=reason, keep_session=keep_session if own else None)


def change_own_password(
    conn: Connection, *, current_password: str, new_password: str, keep_session: str | None = None
) -> int:
    """The signed-in user's own password change: the current one first, then `set_password`."""
    actor = current_actor(conn)
    if actor is None:
        raise AuthenticationFailed("Please sign in.")
    row = conn.execute(text("select password_hash from users.users where id = :id"), {"id": actor}).one()
    if not isinstance(current_password, str) or len(current_password) > MAX_PASSWORD_LENGTH:
        raise AuthenticationFailed("The current password is not correct.")
    try:
        _hasher.verify(row.password_hash, current_password)
    except (VerificationError, InvalidHashError):
        raise AuthenticationFailed("The current password is not correct.") from None
    return set_password(conn, user_id=actor, password=new_password, keep_session=keep_session)


def end_sessions(conn: Connection, *, user_id: int, reason: str, keep_session: str | None = None) -> int:
    """End every open session of a user at once (but `keep_session`); the audit log records the
    revocations (auth.sessions is audited) and one `sessions_ended` event. Returns how many."""
    ended = conn.execute(
        text(
            "update auth.sessions set revoked_at = now(), revoked_by = :actor, revoke_reason = :reason"
            " where user_id = :id and revoked_at is null and id is distinct from cast(:keep as uuid)"
        ),
        {"id": user_id, "actor": current_actor(conn), "reason": reason[:200], "keep": keep_session},
    ).rowcount
    if ended:
        conn.execute(
            text("select audit.record_event('sessions_ended', 'sign_in', :record, cast(:context as jsonb))"),
            {"record": str(user_id), "context": json.dumps({"reason": reason[:200], "sessions": ended})},
        )
    return ended


def _set_state(conn: Connection, user_id: int, assignments: str, *, verb: str) -> User:
    access.require_admin(conn)
    require_id(user_id, "user")
    if current_actor(conn) == user_id:
        raise Conflict(f"You cannot {verb} your own account.")
    found = conn.execute(
        text(f"update users.users set {assignments} where id = :id returning id"),
        {"id": user_id, "actor": current_actor(conn)},
    ).one_or_none()
    if found is None:
        raise NotFound(f"There is no user {user_id}.")
    if verb in ("deactivate", "delete"):
        end_sessions(conn, user_id=user_id, reason=f"user {verb}d")  # they stop working at once
    return get_user(conn, user_id=user_id)


def deactivate_user(conn: Connection, *, user_id: int) -> User:
    """Stop a user from signing in and end their sessions (admins only)."""
    return _set_state(conn, user_id, "is_active = false", verb="deactivate")


def activate_user(conn: Connection, *, user_id: int) -> User:
    """Let a deactivated user sign in again (admins only)."""
    return _set_state(conn, user_id, "is_active = true", verb="activate")


def soft_delete_user(conn: Connection, *, user_id: int) -> User:
    """Hide a user everywhere and end their sessions; restore brings them back (admins only)."""
    return _set_state(
        conn,
        user_id,
        "deleted_at = coalesce(deleted_at, now()), deleted_by = :actor",
        verb="delete",
    )


def restore_user(conn: Connection, *, user_id: int) -> User:
    """Undo a soft delete (admins only)."""
    return _set_state(conn, user_id, "deleted_at = null, deleted_by = null", verb="restore")


def grant_system_role(conn: Connection, *, user_id: int, role: str, keep_session: str | None = None) -> None:
    """Give a user the admin or ops role (admins only); their sessions end (but `keep_session`)."""
    access.require_admin(conn)
    if not isinstance(role, str) or role not in SYSTEM_ROLES:
        raise InvalidInput(f"Unknown system role: {role}.")
    get_user(conn, user_id=user_id)
    _set_system_role(conn, user_id, role, granted=True, keep_session=keep_session)


def revoke_system_role(conn: Connection, *, user_id: int, role: str, keep_session: str | None = None) -> None:
    """Take the admin or ops role away (admins only); their sessions end (but `keep_session`)."""
    access.require_admin(conn)
    require_id(user_id, "user")
    if not isinstance(role, str) or role not in SYSTEM_ROLES:
        raise InvalidInput(f"Unknown system role: {role}.")
    if current_actor(conn) == user_id and role == "admin":
        raise Conflict("You cannot remove your own admin role.")
    _set_system_role(conn, user_id, role, granted=False, keep_session=keep_session)


def _set_system_role(
    conn: Connection, user_id: int, role: str, *, granted: bool, keep_session: str | None = None
) -> None:
    # Through users.set_system_role (revision 0016): prosync_app may not write the system roles
    # itself, and the database checks that the actor is an admin. A change ends the user's
    # sessions, except `keep_session` (the admin's own, when they change their own roles).
    with domain_errors():
        conn.execute(
            text("call users.set_system_role(:u, :r, :granted, cast(:keep as uuid))"),
            {"u": user_id, "r": role, "granted": granted, "keep": keep_session},
        )
