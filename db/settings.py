"""One frozen settings object, built from the environment and .streamlit/secrets.toml."""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Settings:
    database_url: str | None
    data_dir: Path
    pgdata: Path
    storage_dir: Path
    partition_premake: int
    audit_retention_months: int | None
    documents_retention_quarters: int | None
    session_lifetime_hours: int
    session_idle_minutes: int


def _secrets() -> dict[str, object]:
    """Top-level keys of .streamlit/secrets.toml, if the file exists."""
    path = ROOT / ".streamlit" / "secrets.toml"
    if not path.is_file():
        return {}
    with path.open("rb") as fh:
        return tomllib.load(fh)


def _optional_int(value: str | None) -> int | None:
    return int(value) if value not in (None, "", "none") else None


def load(env: dict[str, str] | None = None) -> Settings:
    """Build settings from `env` (the process environment by default) over secrets.toml."""
    source: dict[str, str] = {k.upper(): str(v) for k, v in _secrets().items()}
    source.update(os.environ if env is None else env)
    data_dir = Path(source.get("PROSYNC_DATA_DIR", ROOT / ".prosync")).expanduser().resolve()
    return Settings(
        database_url=source.get("DATABASE_URL") or None,
        data_dir=data_dir,
        pgdata=Path(source.get("PROSYNC_PGDATA", data_dir / "pgdata")).expanduser().resolve(),
        storage_dir=Path(source.get("PROSYNC_STORAGE_DIR", data_dir / "objects")).expanduser(),
        partition_premake=int(source.get("PROSYNC_PARTITION_PREMAKE", "4")),
        audit_retention_months=_optional_int(source.get("PROSYNC_AUDIT_RETENTION_MONTHS")),
        documents_retention_quarters=_optional_int(source.get("PROSYNC_DOCUMENTS_RETENTION_QUARTERS")),
        session_lifetime_hours=int(source.get("PROSYNC_SESSION_LIFETIME_HOURS", "72")),
        session_idle_minutes=int(source.get("PROSYNC_SESSION_IDLE_MINUTES", "60")),
    )


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings (read once)."""
    return load()
