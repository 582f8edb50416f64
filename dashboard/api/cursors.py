"""Keyset cursors as opaque strings: the position after the last row of a page (sort key and id),
URL-safe base64 of JSON. A changed cursor only moves the position: every filter and permission
is applied again on each request."""

from __future__ import annotations

import base64
import json
import math
from datetime import datetime

from db.core.errors import InvalidInput
from db.core.types import Cursor


def encode(*values) -> str:
    plain = [v.isoformat() if isinstance(v, datetime) else v for v in values]
    return base64.urlsafe_b64encode(json.dumps(plain, separators=(",", ":")).encode()).decode().rstrip("=")


def decode(cursor: str | None, *kinds: type) -> tuple | None:
    """The values a cursor holds, of these kinds (str, int, datetime), or InvalidInput."""
    if cursor is None:
        return None
    try:
        if len(cursor) > 1000:
            raise ValueError
        values = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if not isinstance(values, list) or len(values) != len(kinds):
            raise ValueError
        out = []
        for value, kind in zip(values, kinds, strict=True):
            if kind is datetime:
                value = datetime.fromisoformat(value)
            elif kind is float:
                if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
                    raise ValueError
                value = float(value)
            elif kind is int:
                if not isinstance(value, int) or isinstance(value, bool) or not -(2**63) <= value < 2**63:
                    raise ValueError
            elif not isinstance(value, kind) or (
                isinstance(value, str) and any(ch == "\x00" or 0xD800 <= ord(ch) <= 0xDFFF for ch in value)
            ):
                raise ValueError
            out.append(value)
        return tuple(out)
    except (ValueError, TypeError, UnicodeDecodeError):
        raise InvalidInput("The cursor is not one this API gave; start again without it.") from None


def encode_page_cursor(cursor: Cursor | None) -> str | None:
    return None if cursor is None else encode(cursor.at, cursor.id)


def decode_page_cursor(cursor: str | None) -> Cursor | None:
    values = decode(cursor, datetime, int)
    return None if values is None else Cursor(*values)
