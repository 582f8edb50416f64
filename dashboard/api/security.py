"""Who is calling: the bearer token checked on every request (its use audited), its rate limit, its
scopes; and the units of work a route runs in, as the token's user through the token."""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from dashboard.auth_routes import client_address
from db.core.engine import read_only, transaction
from db.core.errors import AuthenticationFailed
from db.core.settings import get_settings
from db.core.types import TokenGrant
from db.domain import tokens

from .problems import Problem

bearer = HTTPBearer(
    auto_error=False,
    scheme_name="PersonalAccessToken",
    description="A personal access token (psy_…) from the dashboard's Account screen or "
    "`prosync token create`, sent as `Authorization: Bearer psy_…`.",
)
CHALLENGE = {"WWW-Authenticate": 'Bearer realm="prosync"'}
ADDRESS_FACTOR = 10  # one address may make this many times a token's requests (several tokens behind it)


@dataclass(frozen=True)
class Caller:
    grant: TokenGrant
    ip_address: str | None
    user_agent: str | None

    @property
    def user_id(self) -> int:
        return self.grant.user_id

    def reading(self):
        """A read-only unit of work as this token's user, through the token (a replica if any)."""
        return read_only(actor_id=self.user_id, token=self.grant)

    def writing(self):
        """A unit of work that writes, as this token's user, through the token."""
        return transaction(actor_id=self.user_id, token=self.grant)

    def client(self) -> dict:
        return {"user_agent": self.user_agent, "ip_address": self.ip_address}


class RateLimiter:
    """At most `per_minute` requests per key in any minute, in this process (a sliding window)."""

    def __init__(self):
        self._lock = threading.Lock()
        self._seen: dict[object, deque[float]] = {}
        self._swept = 0.0

    def retry_after(self, key: object, per_minute: int) -> int | None:
        """None when this request may go on (and it is counted); else the seconds to wait."""
        now = time.monotonic()
        with self._lock:
            window = self._seen.setdefault(key, deque())
            while window and window[0] <= now - 60:
                window.popleft()
            if len(window) >= per_minute:
                return max(1, math.ceil(window[0] + 60 - now))
            window.append(now)
            # Forget keys idle for a minute, at most once a second (many guessed secrets must not make
            # every request sweep the whole table under the lock).
            if len(self._seen) > 10000 and now - self._swept > 1:
                self._swept = now
                for idle in [k for k, w in self._seen.items() if not w or w[-1] <= now - 60]:
                    del self._seen[idle]
            return None


limiter = RateLimiter()


def _resolve(secret: str, ip: str | None, agent: str | None, request_line: str) -> TokenGrant:
    with transaction(actor_id=None) as conn:
        return tokens.use_token(conn, secret=secret, ip_address=ip, user_agent=agent, request=request_line)


def caller(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
) -> Caller:
    """The calling token (401 without a valid one, 429 past its rate limit)."""
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Problem(401, "Send a personal access token: Authorization: Bearer psy_…", headers=CHALLENGE)
    ip, agent = client_address(request), request.headers.get("user-agent")
    # Counted before the token is looked up, so that a refused request costs the database nothing
    # and writes no audit row: per secret, and per address (guessing with many secrets).
    per_minute = get_settings().api_rate_per_minute
    secret = credentials.credentials
    for key, limit, whose in (  # the address first: a refused guess is not remembered per secret
        (("address", ip), per_minute * ADDRESS_FACTOR, "This address"),
        (("secret", tokens.hash_secret(secret)), per_minute, "This token"),
    ):
        wait = limiter.retry_after(key, limit)
        if wait is not None:
            raise Problem(
                429, f"{whose} made more than {limit} requests in a minute; try again in {wait} s.",
                headers={"Retry-After": str(wait)},
            )  # fmt: skip
    try:
        grant = _resolve(secret, ip, agent, f"{request.method} {request.url.path}")
    except AuthenticationFailed as error:
        raise Problem(401, str(error), headers=CHALLENGE) from None
    return Caller(grant=grant, ip_address=ip, user_agent=agent)


def scoped(*scopes: str):
    """A dependency: the caller, whose token must carry one of `scopes` (403 otherwise)."""

    def dependency(who: Annotated[Caller, Depends(caller)]) -> Caller:
        if not who.grant.scopes & set(scopes):
            wanted = " or ".join(scopes)
            raise Problem(403, f"This token does not have the {wanted} scope; make one that has.")
        return who

    return dependency
