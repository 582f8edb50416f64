"""Run Alembic programmatically (no alembic.ini: the URL always comes from ProSync's settings)."""

from __future__ import annotations

import io
from functools import lru_cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection

from db.core.engine import database_url

MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"


def alembic_config(url: str | None = None) -> Config:
    """An Alembic Config pointing at ProSync's migrations and database."""
    config = Config(stdout=io.StringIO())
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["url"] = url or database_url()
    return config


def upgrade(revision: str = "head", *, url: str | None = None) -> list[str]:
    """Migrate the database up to `revision`; what the migrations warned about (a feature the
    server refused), for the person upgrading."""
    config = alembic_config(url)
    command.upgrade(config, revision)
    return config.attributes.get("warnings", [])


def downgrade(revision: str, *, url: str | None = None) -> None:
    """Migrate the database down to `revision` (or "base")."""
    command.downgrade(alembic_config(url), revision)


@lru_cache(maxsize=1)
def head_revision() -> str:
    """The newest revision in migrations/versions (read once per process)."""
    head = ScriptDirectory.from_config(alembic_config("postgresql://unused/")).get_current_head()
    assert head is not None
    return head


def current_revision(conn: Connection) -> str | None:
    """The revision the connected database is at (None when not migrated)."""
    return MigrationContext.configure(conn).get_current_revision()
