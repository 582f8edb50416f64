"""Tests of db/files: storage, file types, ingest, previews and text extraction."""

from __future__ import annotations

import os
from contextlib import contextmanager
from functools import partial

from db.core import migrate
from db.core.engine import make_engine, sqlalchemy_url, system_transaction, transaction
from db.domain import access, projects, users
from tests.conftest import _refresh_settings, create_database


@contextmanager
def file_team(server_url: str, tmp_path_factory, name: str):
    """A database of its own (`prosync_<name>`) with committed rows and a local objects folder:
    (engine, project, owner, reviewer, folder). Files are read and written between transactions,
    as the server does, so these tests cannot run inside one rolled-back transaction."""
    url = create_database(server_url, f"prosync_{name}")
    migrate.upgrade(url=url)
    engine = make_engine(sqlalchemy_url(url), pool_size=10)
    folder = tmp_path_factory.mktemp(f"{name}-objects")
    saved = {k: os.environ.get(k) for k in ("PROSYNC_STORAGE_DIR", "PROSYNC_STORAGE")}
    os.environ.update({"PROSYNC_STORAGE_DIR": str(folder), "PROSYNC_STORAGE": "local"})
    _refresh_settings()
    try:
        with system_transaction(engine=engine) as conn:
            owner, reviewer = (
                users.create_user(
                    conn, login=f"{n}@{name}.example.com", display_name=n, password=f"{n}-long-password"
                )
                for n in ("owner", "reviewer")
            )
        with transaction(actor_id=owner.id, engine=engine) as conn:
            project = projects.create_project(conn, name=name.title())
            access.grant_access(conn, project_id=project.id, user_id=reviewer.id, role="reviewer")
        yield engine, project, owner, reviewer, folder
    finally:
        for key, value in saved.items():
            os.environ.pop(key, None) if value is None else os.environ.__setitem__(key, value)
        _refresh_settings()
        engine.dispose()


def unit(engine, user):
    """A transaction as `user` (None: the command line) on `engine`, as db/files takes one."""
    if user is None:
        return partial(system_transaction, engine=engine)
    return partial(transaction, actor_id=user.id, engine=engine)
