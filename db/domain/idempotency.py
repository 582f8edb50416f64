"""Idempotency keys (the API's Idempotency-Key header): a retried request is answered with the first
request's answer instead of doing the work again, even when the retries arrive at the same moment.

Each call is its own unit of work: the key is claimed (and committed) before the work starts, so a
second request with the key sees it at once; the answer is recorded when the work ends. Keys live
a day.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import Connection, text

from db.core.errors import Conflict, InvalidInput
from db.domain.access import require_actor

KEPT_FOR = timedelta(hours=24)
# A claim without an answer this old is taken to be abandoned (its server process died mid-way): the
# next request with the key does the work.
ABANDONED_AFTER = timedelta(minutes=15)
MAX_KEY = 200


@dataclass(frozen=True)
class KeyState:
    state: str  # "new" (this request does the work), "running" (another does), "done"
    status_code: int | None = None
    response: dict | None = None


def clean_key(key: object, longest: int = MAX_KEY) -> str:
    if not isinstance(key, str) or not 1 <= len(key) <= longest or any(not ch.isprintable() for ch in key):
        raise InvalidInput(f"An Idempotency-Key is 1 to {MAX_KEY} printable characters (a UUID is usual).")
    return key


def claim_key(conn: Connection, *, key: str, fingerprint: str) -> KeyState:
    """Claim `key` for a request of this `fingerprint`; what became of it if it was claimed before.
    Conflict when the key was used for a different request. (The API prefixes the client's key
    with the token's id, so that each token has keys of its own.)"""
    actor, key = require_actor(conn), clean_key(key, MAX_KEY + 50)
    fingerprint = fingerprint[:500]
    conn.execute(
        text("delete from auth.api_idempotency where user_id = :u and created_at < now() - :kept"),
        {"u": actor, "kept": KEPT_FOR},
    )
    params = {"u": actor, "k": key, "f": fingerprint, "abandoned": ABANDONED_AFTER}
    for _ in range(3):  # the first request may free its key between our two statements
        claimed = conn.execute(
            text(
                "insert into auth.api_idempotency (user_id, key, fingerprint) values (:u, :k, :f)"
                " on conflict (user_id, key) do nothing returning 1"
            ),
            params,
        ).scalar_one_or_none()
        if claimed:
            return KeyState("new")
        row = conn.execute(
            text(
                "select fingerprint, status_code, response, created_at < now() - :abandoned as abandoned"
                " from auth.api_idempotency where user_id = :u and key = :k for update"
            ),
            params,
        ).one_or_none()
        if row is None:
            continue
        if row.fingerprint != fingerprint:
            raise Conflict("This Idempotency-Key was used for another request; use a new key for this one.")
        if row.status_code is not None:
            return KeyState("done", row.status_code, row.response)
        if row.abandoned:
            conn.execute(
                text("update auth.api_idempotency set created_at = now() where user_id = :u and key = :k"),
                params,
            )
            return KeyState("new")
        return KeyState("running")
    return KeyState("running")


def finish_key(conn: Connection, *, key: str, status_code: int, response: dict) -> None:
    """Record the answer given to the request that claimed `key`."""
    conn.execute(
        text(
            "update auth.api_idempotency"
            " set status_code = :s, response = cast(:r as jsonb), finished_at = now()"
            " where user_id = :u and key = :k and status_code is null"
        ),
        {
            "u": require_actor(conn),
            "k": clean_key(key, MAX_KEY + 50),
            "s": status_code,
            "r": json.dumps(response),
        },
    )


def release_key(conn: Connection, *, key: str) -> None:
    """Forget a claim whose request failed without an answer worth repeating: a retry does the work."""
    conn.execute(
        text("delete from auth.api_idempotency where user_id = :u and key = :k and status_code is null"),
        {"u": require_actor(conn), "k": clean_key(key, MAX_KEY + 50)},
    )
