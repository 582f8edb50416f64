"""Personal access tokens for the HTTP API: create (the secret shown once), list, revoke, use.

A token belongs to one user and can do at most what that user can, narrowed to its projects and
scopes (db.domain.access applies them; so does the database, by `prosync.token_id`). Only the
SHA-256 of its secret is stored. The secret starts with `psy_` so that secret scanners can find
one that leaked.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, text

from db.core.engine import current_actor, current_token
from db.core.errors import AuthenticationFailed, Conflict, InvalidInput, NotFound, PermissionDenied
from db.core.sql import require_id
from db.core.types import ApiToken, TokenGrant
from db.domain import access, sessions

PREFIX = "psy_"
SECRET_LENGTH = len(PREFIX) + 43  # psy_ and 32 random bytes, URL-safe base64
SHOWN_PREFIX = len(PREFIX) + 8  # what lists show of a secret: psy_ and eight characters
DEFAULT_DAYS = 90
MAX_DAYS = 366
MAX_NAME = 100

_COLUMNS = (
    "t.id, t.user_id, t.name, t.token_prefix, t.scopes, t.created_at, t.expires_at, t.last_used_at,"
    " host(t.last_used_ip) as last_used_ip, t.revoked_at, t.revoke_reason,"
    " case when t.all_projects then null else array(select p.project_id from auth.api_token_projects p"
    " where p.token_id = t.id order by p.project_id) end as project_ids"
)

# Why a token is refused: the same 401 for each; the words help its holder, who has the secret.
REFUSED = {
    "unknown": "This access token is not valid.",
    "revoked": "This access token has been revoked. Make a new one.",
    "inactive": "The account this access token belongs to is not active.",
    "expired": "This access token has expired. Make a new one.",
}


@dataclass(frozen=True)
class NewToken:
    token: ApiToken
    secret: str  # shown once; only its hash is stored


def hash_secret(secret: str) -> bytes:
    return hashlib.sha256(secret.encode()).digest()


def _row(row) -> ApiToken:
    values = dict(row._mapping)
    values["scopes"] = tuple(values["scopes"])
    if values["project_ids"] is not None:
        values["project_ids"] = tuple(values["project_ids"])
    return ApiToken(**values)


def _clean_name(name: object) -> str:
    if not isinstance(name, str) or not name.strip():
        raise InvalidInput('Give the token a name that says where it is used ("CI publisher").')
    name = " ".join(name.split())
    if len(name) > MAX_NAME:
        raise InvalidInput(f"A token's name is at most {MAX_NAME} characters.")
    if any(not ch.isprintable() for ch in name):
        raise InvalidInput("A token's name cannot contain control characters.")
    return name


def _clean_scopes(scopes: object) -> list[str]:
    if isinstance(scopes, str) or not isinstance(scopes, Sequence | set | frozenset):
        raise InvalidInput("Scopes are a list: read, upload, review.")
    chosen = []
    for scope in scopes:
        if scope not in access.SCOPES:
            shown = str(scope)[:40]
            raise InvalidInput(f"There is no scope {shown!r}: a token's scopes are read, upload and review.")
        if scope not in chosen:
            chosen.append(scope)
    if not chosen:
        raise InvalidInput("Choose at least one scope: read, upload or review.")
    return sorted(chosen, key=access.SCOPES.index)


def create_token(
    conn: Connection,
    *,
    name: str,
    scopes: Sequence[str] = ("read",),
    project_ids: Sequence[int] | None = None,
    expires_days: int = DEFAULT_DAYS,
) -> NewToken:
    """A new token for the acting user, for `project_ids` (None: all their projects) and `scopes`,
    living `expires_days` days; the secret is in the result and nowhere else."""
    user_id = access.require_actor(conn)
    if current_token(conn) is not None:
        raise PermissionDenied("An access token cannot make another; sign in to the dashboard.")
    name = _clean_name(name)
    chosen = _clean_scopes(scopes)
    if (
        isinstance(expires_days, bool)
        or not isinstance(expires_days, int)
        or not 1 <= expires_days <= MAX_DAYS
    ):
        raise InvalidInput(f"A token lives from 1 to {MAX_DAYS} days.")
    projects = None
    if project_ids is not None:
        projects = sorted({require_id(p, "project") for p in project_ids})
        if not projects:
            raise InvalidInput("Choose at least one project, or all of them.")
        member = {project_id for project_id, _ in list_token_projects(conn)}
        if missing := [p for p in projects if p not in member]:
            shown = ", ".join(str(p) for p in missing[:5])
            raise PermissionDenied(f"A token can only name projects you are a member of (not {shown}).")
    taken = conn.execute(
        text(
            "select exists (select from auth.api_tokens where user_id = :u and lower(name) = lower(:n)"
            " and revoked_at is null and expires_at > now())"
        ),
        {"u": user_id, "n": name},
    ).scalar_one()
    if taken:
        raise Conflict(f"You already have a token named {name!r}: revoke it first or choose another name.")
    secret = PREFIX + secrets.token_urlsafe(32)
    token_id = conn.execute(
        text(
            "insert into auth.api_tokens (user_id, name, token_hash, token_prefix, scopes, all_projects,"
            " expires_at) values (:u, :n, :h, :prefix, cast(:scopes as text[]), :all,"
            " now() + make_interval(days => :days)) returning id"
        ),
        {
            "u": user_id, "n": name, "h": hash_secret(secret), "prefix": secret[:SHOWN_PREFIX],
            "scopes": chosen, "all": projects is None, "days": expires_days,
        },
    ).scalar_one()  # fmt: skip
    if projects:
        conn.execute(
            text(
                "insert into auth.api_token_projects (token_id, project_id)"
                " select :t, unnest(cast(:ids as bigint[]))"
            ),
            {"t": token_id, "ids": projects},
        )
    return NewToken(token=get_token(conn, token_id=token_id), secret=secret)


def get_token(conn: Connection, *, token_id: int) -> ApiToken:
    """One token of the acting user's (an admin: anyone's)."""
    require_id(token_id, "token")
    row = conn.execute(
        text(f"select {_COLUMNS} from auth.api_tokens t where t.id = :id"), {"id": token_id}
    ).one_or_none()
    if row is None or (row.user_id != access.require_actor(conn) and not _is_admin(conn)):
        raise NotFound("There is no such token.")
    return _row(row)


def _is_admin(conn: Connection) -> bool:
    return "admin" in access.actor_system_roles(conn)


def list_tokens(
    conn: Connection, *, user_id: int | None = None, include_ended: bool = False
) -> list[ApiToken]:
    """Tokens, newest first: the acting user's own, or anyone's (`user_id`) for an admin."""
    actor = access.require_actor(conn)
    user_id = actor if user_id is None else require_id(user_id, "user")
    if user_id != actor:
        access.require_admin(conn)
    rows = conn.execute(
        text(
            f"select {_COLUMNS} from auth.api_tokens t where t.user_id = :u"
            " and (:all or (t.revoked_at is null and t.expires_at > now()))"
            " order by t.created_at desc, t.id desc limit 500"
        ),
        {"u": user_id, "all": include_ended},
    )
    return [_row(r) for r in rows]


def revoke_token(conn: Connection, *, token_id: int, reason: str = "revoked by its owner") -> ApiToken:
    """End a token at once (its user, or an admin); its next request is refused."""
    token = get_token(conn, token_id=token_id)
    if token.user_id != current_actor(conn):
        access.require_admin(conn)
        reason = "revoked by an administrator"
    conn.execute(
        text(
            "update auth.api_tokens set revoked_at = now(), revoked_by = :actor, revoke_reason = :reason"
            " where id = :id and revoked_at is null"
        ),
        {"id": token_id, "actor": current_actor(conn), "reason": reason[:200]},
    )
    return get_token(conn, token_id=token_id)


def _printable(value: str, limit: int) -> str:
    """`value` for the audit log: at most `limit` characters, anything unprintable (a NUL, a lone
    surrogate, a line break a client sent) as U+FFFD."""
    return "".join(
        ch if ch.isprintable() and not 0xD800 <= ord(ch) <= 0xDFFF else "\ufffd" for ch in value[:limit]
    )


def looks_like_token(secret: object) -> bool:
    """Whether `secret` has a token's shape (checked before any database work)."""
    return (
        isinstance(secret, str)
        and secret.startswith(PREFIX)
        and len(secret) == SECRET_LENGTH
        and all(ch.isalnum() or ch in "-_" for ch in secret[len(PREFIX) :])
    )


def use_token(
    conn: Connection, *, secret: str, ip_address: str | None, user_agent: str | None, request: str
) -> TokenGrant:
    """The live token behind a secret, its use recorded (last use, and an `api_request` row in the
    audit log as its user, the token named); AuthenticationFailed says why it is refused."""
    if not looks_like_token(secret):
        raise AuthenticationFailed(REFUSED["unknown"])
    # Found by the hash of the secret (an index lookup of a SHA-256: nothing to learn from timing).
    row = conn.execute(
        text("select * from auth.use_token(:h, cast(:ip as inet), :ua, :request)"),
        {
            "h": hash_secret(secret),
            "ip": sessions.ip_or_none(ip_address),
            "ua": _printable(user_agent or "", 300),
            "request": _printable(request, 300),
        },
    ).one()
    if row.status != "ok":
        raise AuthenticationFailed(REFUSED.get(row.status, REFUSED["unknown"]))
    return TokenGrant(
        id=row.token_id,
        user_id=row.user_id,
        name=row.name,
        scopes=frozenset(row.scopes),
        project_ids=None if row.project_ids is None else frozenset(row.project_ids),
    )


def list_token_projects(conn: Connection) -> list[tuple[int, str]]:
    """The live projects the acting user may name on a token of theirs (where they are a member),
    as (id, name), by name."""
    rows = conn.execute(
        text(
            "select p.id, p.name from projects.project_access a"
            " join projects.projects p on p.id = a.project_id and p.deleted_at is null"
            " where a.user_id = :u order by lower(p.name), p.id"
        ),
        {"u": access.require_actor(conn)},
    )
    return [(r.id, r.name) for r in rows]
