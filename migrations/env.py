"""Alembic environment: the URL comes from ProSync's settings (or the caller), never from a file."""

from __future__ import annotations

from alembic import context
from sqlalchemy import pool, text

from db.core.engine import database_url, make_engine, sqlalchemy_url

config = context.config


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    url = config.attributes.get("url") or database_url()
    engine = make_engine(sqlalchemy_url(url), poolclass=pool.NullPool)
    with engine.connect() as conn:
        _run(conn)
    engine.dispose()


def _run(connection) -> None:
    # What a migration wants the person upgrading to know (RAISE WARNING: a feature the server
    # refused, and how to add it later) reaches the caller: `prosync db upgrade` prints it.
    said = config.attributes.setdefault("warnings", [])

    def keep(diagnostic) -> None:
        if diagnostic.severity_nonlocalized == "WARNING":
            said.append(diagnostic.message_primary)

    connection.connection.driver_connection.add_notice_handler(keep)
    # Fail fast instead of queueing behind a long lock held by a running dashboard.
    connection.execute(text("set lock_timeout = '15s'"))
    connection.commit()
    context.configure(
        connection=connection,
        target_metadata=None,
        transaction_per_migration=True,
    )
    before = _revision(connection)
    with context.begin_transaction():
        context.run_migrations()
    # Ownership and grants for whatever the run added (a new table, a view): from 0013 on, every
    # run that changed the revision ends with them, so no migration has to remember. (Only then:
    # each statement of it is a schema change the event triggers record.)
    if (
        _revision(connection) != before
        and connection.execute(
            text("select to_regprocedure('system.apply_roles()') is not null")
        ).scalar_one()
    ):
        connection.execute(text("call system.apply_roles()"))
    connection.commit()


def _revision(connection) -> str | None:
    exists = connection.execute(text("select to_regclass('public.alembic_version') is not null")).scalar_one()
    return (
        connection.execute(text("select max(version_num) from alembic_version")).scalar() if exists else None
    )


if context.is_offline_mode():
    raise SystemExit("ProSync migrations run online only: use `prosync db upgrade`.")
run_migrations_online()
