"""One frozen settings object, built from the environment and .streamlit/secrets.toml."""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


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
    database_read_url: str | None = None  # a streaming replica for read-only screens; None: the primary
    database_app_url: str | None = field(default=None, repr=False)  # the prosync_app login; None: derived
    summary_refresh_seconds: int = 60  # how often the dashboard refreshes projects.project_totals
    storage_code: str | None = None  # where new uploads go; None: storage_reference's default row
    s3_endpoint_url: str | None = None
    s3_bucket: str | None = None
    s3_prefix: str = ""
    s3_region: str = "us-east-1"
    s3_access_key_id: str | None = field(default=None, repr=False)
    s3_secret_access_key: str | None = field(default=None, repr=False)
    s3_part_size_mb: int = 8
    s3_max_attempts: int = 3
    s3_timeout_seconds: int = 30
    presigned_url_seconds: int = 300
    secret_key: str | None = field(default=None, repr=False)  # signs CSRF tokens, device cookies
    sign_in_concurrency: int = 4  # password checks (argon2id, 64 MiB each) at once per process
    public_url: str | None = None  # https://…: cookies are Secure; the origin forms must come from
    trusted_proxies: tuple[str, ...] = ()  # addresses whose X-Forwarded-For/-Proto are believed
    api_rate_per_minute: int = 1200  # requests one API token may make per minute (per process)
    api_upload_workers: int = 4  # files of one API upload stored at once
    text_search_language: str = "english"  # PostgreSQL's text search configuration for words in files
    text_index_seconds: int = 5  # an idle text indexer looks for work this often; 0: no indexer


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
        database_read_url=source.get("DATABASE_READ_URL") or None,
        database_app_url=source.get("DATABASE_APP_URL") or None,
        summary_refresh_seconds=int(source.get("PROSYNC_SUMMARY_REFRESH_SECONDS", "60")),
        storage_code=source.get("PROSYNC_STORAGE") or None,
        s3_endpoint_url=source.get("PROSYNC_S3_ENDPOINT_URL") or None,
        s3_bucket=source.get("PROSYNC_S3_BUCKET") or None,
        s3_prefix=source.get("PROSYNC_S3_PREFIX", "").strip("/"),
        s3_region=source.get("PROSYNC_S3_REGION") or "us-east-1",
        # Credentials: the standard AWS variables, from the environment or secrets.toml. When
        # absent, boto3's own chain (instance roles, ~/.aws) applies. Never stored in the database.
        s3_access_key_id=source.get("AWS_ACCESS_KEY_ID") or None,
        s3_secret_access_key=source.get("AWS_SECRET_ACCESS_KEY") or None,
        s3_part_size_mb=max(5, int(source.get("PROSYNC_S3_PART_SIZE_MB", "8"))),
        s3_max_attempts=int(source.get("PROSYNC_S3_MAX_ATTEMPTS", "3")),
        s3_timeout_seconds=int(source.get("PROSYNC_S3_TIMEOUT_SECONDS", "30")),
        presigned_url_seconds=int(source.get("PROSYNC_PRESIGNED_URL_SECONDS", "300")),
        secret_key=source.get("PROSYNC_SECRET_KEY") or None,
        sign_in_concurrency=max(1, int(source.get("PROSYNC_SIGN_IN_CONCURRENCY", "4"))),
        public_url=(source.get("PROSYNC_PUBLIC_URL") or "").rstrip("/") or None,
        api_rate_per_minute=max(1, int(source.get("PROSYNC_API_RATE_PER_MINUTE", "1200"))),
        api_upload_workers=max(1, int(source.get("PROSYNC_API_UPLOAD_WORKERS", "4"))),
        text_search_language=(source.get("PROSYNC_TEXT_SEARCH_LANGUAGE") or "english").strip().lower(),
        text_index_seconds=max(0, int(source.get("PROSYNC_TEXT_INDEX_SECONDS", "5"))),
        trusted_proxies=tuple(
            p.strip() for p in source.get("PROSYNC_TRUSTED_PROXIES", "").split(",") if p.strip()
        ),
    )


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings (read once)."""
    return load()
