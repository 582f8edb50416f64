"""The server's secret, and what is signed with it (CSRF tokens, device cookies).

The secret is PROSYNC_SECRET_KEY when set (several dashboard processes on several machines must
share it), else a random key made once in the data folder (`secret_key`, mode 0600), which the
processes of one machine share. It never reaches the database, the logs or a page.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
import time
from functools import lru_cache

from db.core.settings import get_settings

KEY_FILE = "secret_key"


@lru_cache(maxsize=1)
def server_secret() -> bytes:
    """The secret the signatures below are made with."""
    settings = get_settings()
    if settings.secret_key:
        return settings.secret_key.encode()
    path = settings.data_dir / KEY_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass  # made by an earlier run, or by another process just now
    else:
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_hex(32))
    for _ in range(50):  # another process may be writing it this very moment
        key = path.read_text().strip()
        if len(key) >= 32:
            return key.encode()
        time.sleep(0.02)
    raise RuntimeError(f"{path} holds no usable key: remove it to make a new one")


def _mac(purpose: str, message: str) -> str:
    digest = hmac.new(server_secret(), f"{purpose}\x00{message}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def sign(purpose: str, message: str) -> str:
    """`message.signature`, the signature bound to `purpose` (a CSRF token is no device cookie)."""
    return f"{message}.{_mac(purpose, message)}"


def unsign(purpose: str, token: object, *, max_age: float | None = None) -> str | None:
    """The message of a token `sign(purpose, …)` made, or None (forged, altered, or, with
    `max_age`, older than that many seconds: the message must then start with `sign_timed`'s time)."""
    if not isinstance(token, str) or len(token) > 1000 or "." not in token:
        return None
    message, _, mac = token.rpartition(".")
    if not hmac.compare_digest(mac, _mac(purpose, message)):
        return None
    if max_age is not None:
        issued, _, _ = message.partition(":")
        if not issued.isdigit() or time.time() - int(issued) > max_age:
            return None
    return message


def sign_timed(purpose: str, message: str = "") -> str:
    """A signed token that `unsign(..., max_age=…)` accepts until it is that old."""
    return sign(purpose, f"{int(time.time())}:{secrets.token_urlsafe(16)}:{message}")
