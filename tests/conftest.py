"""Fixtures: a real PostgreSQL (embedded 18 by default, or PROSYNC_TEST_DATABASE_URL), migrated
once per session; each test runs in a transaction that is rolled back."""

from __future__ import annotations

import hashlib
import itertools
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest

# The dashboard's background recount of project totals stays off in tests (AppTest runs the app in
# this process); tests refresh the totals themselves where they count documents.
os.environ.setdefault("PROSYNC_SUMMARY_REFRESH_SECONDS", "0")
# Likewise the text indexer of `prosync serve`: tests index the text themselves (or turn it on).
os.environ.setdefault("PROSYNC_TEXT_INDEX_SECONDS", "0")
from sqlalchemy import Connection, Engine, make_url, text

from db.core import migrate
from db.core.embedded import ensure_server
from db.core.engine import (
    clear_unit,
    current_actor,
    is_system,
    make_engine,
    restore_actor,
    set_actor,
    set_system,
    sqlalchemy_url,
    transaction_failed,
)
from db.core.errors import AuthenticationFailed, ProSyncError
from db.core.types import Document, NewStagedFile, Project, StagedFile, User
from db.domain import access, projects, sessions, staging, users
from db.files import storage

_counter = itertools.count(1)
TEST_PASSWORD = "correct-horse-battery"


def _with_database(url: str, name: str) -> str:
    return make_url(url).set(database=name).render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def server_url(tmp_path_factory) -> Iterator[str]:
    """URL of a maintenance database on the test server: the embedded one; or the server at
    PROSYNC_TEST_DATABASE_URL; or a cluster made from the binaries in PROSYNC_TEST_PG_BINDIR
    (`make test` runs the database tests again on Debian's PostgreSQL 15 that way)."""
    external = os.environ.get("PROSYNC_TEST_DATABASE_URL")
    bindir = os.environ.get("PROSYNC_TEST_PG_BINDIR")
    if external:
        yield external
    elif bindir:
        from tests.other_server import cluster

        with cluster(Path(bindir)) as url:
            yield url
    else:
        yield ensure_server(tmp_path_factory.mktemp("pg") / "pgdata")


@pytest.fixture(scope="session")
def plain_server_url(tmp_path_factory) -> Iterator[str]:
    """A second embedded server with PostgreSQL's stock settings: pg_stat_statements not preloaded."""
    from db.core.embedded import PostgresServer

    pgdata = tmp_path_factory.mktemp("plain") / "pgdata"
    pgdata.mkdir()
    with PostgresServer(pgdata, cleanup_mode="delete") as server:
        yield server.get_uri()


def create_database(server_url: str, name: str) -> str:
    """A new, empty database on the test server; returns its URL."""
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f'drop database if exists "{name}" with (force)')
        conn.execute(f'create database "{name}"')
    return _with_database(server_url, name)


@pytest.fixture(scope="session")
def database_url(server_url) -> str:
    url = create_database(server_url, "prosync_test")
    migrate.upgrade(url=url)
    return url


@pytest.fixture(scope="session")
def engine(database_url) -> Iterator[Engine]:
    eng = make_engine(sqlalchemy_url(database_url), pool_size=10)
    yield eng
    eng.dispose()


@pytest.fixture
def conn(engine) -> Iterator[Connection]:
    """A connection inside a transaction that is rolled back after the test: the owner, as psql
    would be; inside `acting(conn, user)` it is the dashboard's prosync_app, under row-level
    security, as the running application is."""
    with engine.connect() as connection:
        outer = connection.begin()
        try:
            yield connection
        finally:
            clear_unit(connection)
            outer.rollback()


@contextmanager
def acting(conn: Connection, user: User | None, *, app: bool | None = None):
    """Run the block as `user` (None: as the command line), in a savepoint. A user's block runs as
    the prosync_app role, whose rows row-level security limits; the command line's as the owner.
    `app=True` with no user: the dashboard before anyone has signed in (the sign-in route).

    A refused write rolls back to the savepoint, as the application's transaction would roll
    back, so a test can go on checking what was (not) written.
    """
    previous = (current_actor(conn), is_system(conn))
    role = conn.execute(text("select current_user")).scalar_one()
    savepoint = conn.begin_nested()
    set_actor(conn, None if user is None else user.id)
    as_app = user is not None if app is None else app
    set_system(conn, user is None and not as_app)
    # The command line holds the owner's credentials; a signed-in user's work runs as prosync_app.
    conn.execute(text("set local role prosync_app" if as_app else "reset role"))
    try:
        yield conn
    except BaseException:
        savepoint.rollback()
        raise
    else:
        if conn.in_transaction() and transaction_failed(conn):
            savepoint.rollback()  # a refusal was caught inside the block (pytest.raises)
        else:
            savepoint.commit()
    finally:
        restore_actor(conn, previous[0])
        set_system(conn, previous[1])
        if conn.in_transaction() and not transaction_failed(conn):
            conn.execute(text(f"set local role {role}"))
        if conn.in_transaction() and not transaction_failed(conn):
            set_actor(conn, previous[0])  # None too: no actor left behind for the owner's next statement


def sqlstate_of(conn: Connection, sql: str, **params) -> str | None:
    """Run `sql` in a savepoint that is always rolled back: the server's refusal (SQLSTATE), or None."""
    from sqlalchemy.exc import DBAPIError

    savepoint = conn.begin_nested()
    try:
        conn.execute(text(sql), params)
    except DBAPIError as error:
        savepoint.rollback()
        return error.orig.sqlstate
    savepoint.rollback()
    return None


# Factories: each states only what the test cares about.


def make_user(conn: Connection, *, roles: tuple[str, ...] = (), **fields) -> User:
    n = next(_counter)
    with acting(conn, None):
        return users.create_user(
            conn,
            login=fields.get("login", f"user{n}@example.com"),
            display_name=fields.get("display_name", f"User {n}"),
            password=fields.get("password", TEST_PASSWORD),
            system_roles=roles,
        )


def make_project(conn: Connection, *, owner: User, name: str | None = None, members=()) -> Project:
    """A project owned by `owner`; members is a list of (user, role)."""
    with acting(conn, owner):
        project = projects.create_project(conn, name=name or f"Project {next(_counter)}")
        for user, role in members:
            access.grant_access(conn, project_id=project.id, user_id=user.id, role=role)
    return project


def make_checksum(content: bytes | None = None) -> str:
    return hashlib.sha256(content or f"content {next(_counter)}".encode()).hexdigest()


def make_staged(conn: Connection, *, project: Project, uploader: User, **fields) -> StagedFile:
    checksum = fields.pop("checksum", None) or make_checksum()
    with acting(conn, uploader):
        return enqueue_staged(
            conn,
            project_id=project.id,
            original_name=fields.pop("original_name", f"file-{next(_counter)}.pdf"),
            checksum=checksum,
            size_bytes=fields.pop("size_bytes", 1234),
            detected_mime=fields.pop("detected_mime", "application/pdf"),
            storage_code="local",
            object_key=storage.object_key(checksum),
            **fields,
        )


def enqueue_staged(
    conn: Connection,
    *,
    project_id: int,
    original_name: str,
    checksum: str,
    size_bytes: int,
    detected_mime: str,
    storage_code: str,
    object_key: str,
    declared_mime: str | None = None,
    notes: str = "",
    metadata: dict | None = None,
) -> StagedFile:
    """One file recorded as pending review through staging.enqueue_many (a test helper: ingest stores
    the bytes and enqueues many at once); the refusal raised."""
    file = NewStagedFile(
        original_name, checksum, size_bytes, detected_mime, storage_code, object_key, declared_mime, metadata
    )
    [result] = staging.enqueue_many(conn, project_id=project_id, files=[file], notes=notes)
    if isinstance(result, ProSyncError):
        raise result
    return result


def authenticate(conn: Connection, *, login: str, password: str) -> User:
    """The user whose login and password these are, if active (a test helper with sign-in's password
    check, without sign-in's throttling and audit: db.domain.sessions.sign_in is the real way in)."""
    failure = AuthenticationFailed("The e-mail address or password is not correct.")
    if not isinstance(login, str) or not isinstance(password, str) or "\x00" in login + password:
        raise failure
    if len(password) > users.MAX_PASSWORD_LENGTH:
        raise failure  # before hashing
    row = conn.execute(
        text(
            "select id, password_hash, is_active and deleted_at is null as usable"
            " from users.users where users.login_key(login) = users.login_key(:login)"
        ),
        {"login": login},
    ).one_or_none()
    if not users.verify_password(row.password_hash if row else None, password) or not row.usable:
        raise failure
    return users.get_user(conn, user_id=row.id)


def approve_staged(conn: Connection, *, ingest_id: int, reviewer_notes: str = ""):
    """Approve one staged file in the test's transaction, through the domain's batch function (the
    screens and the command go through db.files.ingest, which also stores the preview)."""
    [result] = staging.approve_many(conn, ingest_ids=[ingest_id], reviewer_notes=reviewer_notes)
    if isinstance(result, Exception):
        raise result
    return result


def make_document(
    conn: Connection, *, project: Project, uploader: User, reviewer: User | None = None
) -> Document:
    """A document of `project`: a file staged by `uploader`, approved by `reviewer` (the uploader
    if none is given)."""
    staged = make_staged(conn, project=project, uploader=uploader)
    with acting(conn, reviewer or uploader):
        return approve_staged(conn, ingest_id=staged.id)


def open_sessions(conn: Connection, user: User, n: int = 1) -> list:
    """`n` new sessions of `user` (sessions.NewSession: the session and its token), as n browsers
    would hold them."""
    with acting(conn, user):
        return [sessions.create_session(conn, user_id=user.id, user_agent=f"browser {i}") for i in range(n)]


def is_live(conn: Connection, new) -> bool:
    """Whether the token of `new` (a sessions.NewSession) still resolves to its session."""
    try:
        sessions.resolve_session(conn, token=new.token)
    except AuthenticationFailed:
        return False
    return True


@pytest.fixture
def upload_team(conn) -> tuple[Project, User, User, User, User]:
    """A project with its owner, a contributor, a reviewer and a viewer: (project, owner,
    contributor, reviewer, viewer)."""
    owner = make_user(conn)
    contributor, reviewer, viewer = make_user(conn), make_user(conn), make_user(conn)
    project = make_project(
        conn, owner=owner, members=[(contributor, "contributor"), (reviewer, "reviewer"), (viewer, "viewer")]
    )
    return project, owner, contributor, reviewer, viewer


@pytest.fixture
def ops_user(conn) -> User:
    """A user with the ops system role (the Ops screen's reader)."""
    return make_user(conn, roles=("ops",))


def count(conn: Connection, sql: str, **params) -> int:
    """A count as the owner sees it (every row, whoever is acting): the test's own view."""
    with acting(conn, None):
        return conn.execute(text(sql), params).scalar_one()


def plan_indexes(conn: Connection, sql: str, **params) -> set[str]:
    """Index names the plan uses, each partition's index named by its partitioned parent."""
    conn.execute(text("set local enable_seqscan = off"))
    plan = conn.execute(text("explain (format json) " + sql), params).scalar_one()
    conn.execute(text("set local enable_seqscan = on"))
    found, stack = set(), [plan[0]["Plan"]]
    while stack:
        node = stack.pop()
        if "Index Name" in node:
            found.add(node["Index Name"])
        stack.extend(node.get("Plans", []))
    parents = conn.execute(
        text(
            "select coalesce(p.relname, c.relname) from pg_class c"
            " left join pg_inherits i on i.inhrelid = c.oid"
            " left join pg_class p on p.oid = i.inhparent"
            " where c.relname = any(:names)"
        ),
        {"names": list(found)},
    ).scalars()
    return set(parents)


DEMO_STORAGE: dict[str, str] = {}  # demo database URL -> its local objects folder


def _demo_database(server_url: str, name: str, storage, extra_env: dict[str, str] | None = None) -> str:
    from db.tools.demo import load_demo

    url = create_database(server_url, name)
    migrate.upgrade(url=url)
    DEMO_STORAGE[url] = str(storage)
    extra_env = {"PROSYNC_STORAGE_DIR": str(storage), **(extra_env or {})}
    saved = {key: os.environ.get(key) for key in extra_env}
    os.environ.update(extra_env)
    _refresh_settings()
    try:
        engine = make_engine(sqlalchemy_url(url))
        assert load_demo(engine) is True
        engine.dispose()
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        _refresh_settings()
    return url


@pytest.fixture(scope="session")
def demo_url(server_url, tmp_path_factory) -> str:
    """The committed demo data set, for tests that only read (screens, end to end, the CLI)."""
    return _demo_database(server_url, "prosync_demo", tmp_path_factory.mktemp("objects"))


@pytest.fixture(scope="session")
def demo_rw_url(server_url, tmp_path_factory) -> str:
    """A second copy of the demo, for screen tests that write (so readers' counts stay true)."""
    return _demo_database(server_url, "prosync_demo_rw", tmp_path_factory.mktemp("objects_rw"))


@pytest.fixture(scope="session")
def api_url(server_url, tmp_path_factory) -> str:
    """The demo data set for the HTTP API's tests, which write (uploads, decisions, tokens)."""
    return _demo_database(server_url, "prosync_api", tmp_path_factory.mktemp("objects_api"))


@pytest.fixture(scope="session")
def demo_s3_url(server_url, tmp_path_factory, moto_s3) -> str:
    """The demo data set with every object in the moto S3 bucket (prefix demo)."""
    moto_s3.start()
    return _demo_database(
        server_url, "prosync_demo_s3", tmp_path_factory.mktemp("unused"), s3_environment(moto_s3, "demo")
    )


@pytest.fixture
def demo_s3_env(demo_s3_url, moto_s3, monkeypatch):
    """The app reads the S3 demo database, with the S3 settings an operator would set."""
    moto_s3.start()
    for name, value in s3_environment(moto_s3, "demo").items():
        monkeypatch.setenv(name, value)
    with _settings_pointing_at(demo_s3_url, monkeypatch) as url:
        yield url


def _refresh_settings() -> None:
    from db.core.settings import get_settings

    get_settings.cache_clear()


@contextmanager
def _settings_pointing_at(url: str, monkeypatch):
    """ProSync's settings (as the app reads them) aimed at `url` for the duration of a test."""
    monkeypatch.setenv("DATABASE_URL", url)
    if url in DEMO_STORAGE:
        monkeypatch.setenv("PROSYNC_STORAGE_DIR", DEMO_STORAGE[url])
    _refresh_settings()
    yield url
    monkeypatch.undo()
    _refresh_settings()


@pytest.fixture
def demo_env(demo_url, monkeypatch):
    """The app reads the read-only demo database."""
    with _settings_pointing_at(demo_url, monkeypatch) as url:
        yield url


@pytest.fixture
def demo_rw_env(demo_rw_url, monkeypatch):
    """The app reads and writes the writable demo database."""
    with _settings_pointing_at(demo_rw_url, monkeypatch) as url:
        yield url


@pytest.fixture
def api_env(api_url, monkeypatch):
    """The API reads and writes its own copy of the demo."""
    with _settings_pointing_at(api_url, monkeypatch) as url:
        yield url


@pytest.fixture
def api(api_env):
    """The HTTP API as `prosync api` serves it (/api/v1/…), over Starlette's TestClient."""
    from starlette.testclient import TestClient

    from dashboard.api.app import standalone
    from dashboard.api.security import limiter

    limiter._seen.clear()
    with TestClient(standalone, base_url="http://testserver") as c:
        yield c


def make_token(
    login: str, *, scopes=("read",), projects: list[str] | None = None, days: int = 90, name: str = ""
) -> str:
    """A personal access token's secret for the demo user `login`, as `prosync token create` makes it."""
    from db.core.engine import acting_as, system_transaction
    from db.domain import tokens

    with system_transaction() as conn:
        user = users.find_user_by_login(conn, login=login)
        ids = None
        if projects is not None:
            ids = [
                conn.execute(text("select id from projects.projects where name = :n"), {"n": n}).scalar_one()
                for n in projects
            ]
        with acting_as(conn, user.id):
            new = tokens.create_token(
                conn, name=name or f"test token {next(_counter)}", scopes=list(scopes), project_ids=ids,
                expires_days=days,
            )  # fmt: skip
    return new.secret


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


# Processes: whether one has ended, and the embedded server running in a data folder.


def process_ended(pid: int) -> bool:
    """Whether process `pid` has ended (a zombie waiting for its parent counts as ended)."""
    import psutil

    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def postmaster_pid(pgdata: Path) -> int | None:
    """The pid of the server running in `pgdata`, or None."""
    import psutil

    pid_file = pgdata / "postmaster.pid"
    if not pid_file.exists():
        return None
    pid = int(pid_file.read_text().split()[0])
    return pid if psutil.pid_exists(pid) else None


# The HTTP routes (sign-in, sign-out, files) as dashboard/server.py mounts them, over Starlette's
# TestClient, against the read-only demo database.


@pytest.fixture
def client(demo_env):
    from starlette.responses import PlainTextResponse
    from starlette.testclient import TestClient

    from tests.dashboard.helpers import forget_attempts, routes_app

    async def home(request):
        return PlainTextResponse("dashboard")

    with TestClient(routes_app(home), base_url="http://testserver") as c:
        yield c
    forget_attempts()


# Object stores: a temporary folder, and a real S3 HTTP endpoint on loopback (moto's server).


class MotoS3:
    """moto's ThreadedMotoServer on a fixed loopback port, which a fault test may stop and restart."""

    def __init__(self):
        from moto.server import ThreadedMotoServer

        self._make = lambda port: ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
        self.server = self._make(0)
        self.server.start()
        self.port = self.server.get_host_and_port()[1]
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.running = True

    def stop(self) -> None:
        """Stop answering: connections to the port are refused from now on."""
        self.server.stop()
        self.server._server.server_close()
        self.running = False

    def start(self) -> None:
        if not self.running:
            self.server = self._make(self.port)
            self.server.start()
            self.running = True


@pytest.fixture(scope="session")
def moto_s3() -> Iterator[MotoS3]:
    server = MotoS3()
    import boto3

    boto3.client(
        "s3",
        endpoint_url=server.endpoint,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    ).create_bucket(Bucket="prosync-test")
    yield server
    if server.running:
        server.stop()


def s3_environment(moto_s3: MotoS3, prefix: str) -> dict[str, str]:
    """The settings that point ProSync at the moto bucket (as an operator would set them)."""
    return {
        "PROSYNC_STORAGE": "s3",
        "PROSYNC_S3_ENDPOINT_URL": moto_s3.endpoint,
        "PROSYNC_S3_BUCKET": "prosync-test",
        "PROSYNC_S3_PREFIX": prefix,
        "PROSYNC_S3_REGION": "us-east-1",
        "PROSYNC_S3_PART_SIZE_MB": "5",
        "PROSYNC_S3_MAX_ATTEMPTS": "2",
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
    }


@pytest.fixture(params=["local", "s3"])
def store(request, tmp_path, monkeypatch):
    """The configured upload store, once as a local folder and once as S3 (each test gets its own)."""
    from db.files import storage

    monkeypatch.setenv("PROSYNC_STORAGE_DIR", str(tmp_path / "objects"))
    if request.param == "s3":
        moto_s3 = request.getfixturevalue("moto_s3")
        moto_s3.start()
        for name, value in s3_environment(moto_s3, f"t{next(_counter)}").items():
            monkeypatch.setenv(name, value)
    else:
        monkeypatch.setenv("PROSYNC_STORAGE", "local")
    _refresh_settings()
    yield storage.make_store(request.param, request.param)
    monkeypatch.undo()
    _refresh_settings()


# Figures some tests gather for the end of the run: the load run's table (tests/db/tools/test_load.py)
# and the bad-input suite's cases tried and refused per write function (tests/db/test_bad_input.py). With
# pytest-xdist each worker writes its own into a folder the controller made; the controller prints
# them all.


def pytest_configure(config) -> None:
    if not hasattr(config, "workerinput"):
        import tempfile

        config.figures_dir = tempfile.mkdtemp(prefix="prosync-figures-")


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node) -> None:
    """pytest-xdist's controller, before each worker starts: where to write the figures."""
    node.workerinput["figures_dir"] = node.config.figures_dir


def pytest_sessionfinish(session) -> None:
    import json
    import sys

    config = session.config
    folder = getattr(config, "workerinput", {}).get("figures_dir") or getattr(config, "figures_dir", None)
    if folder is None:
        return
    loaded = sys.modules.get("tests.db.tools.test_load")
    bad = sys.modules.get("tests.db.test_bad_input")
    figures = {
        "load": list(getattr(loaded, "REPORTS", [])),
        "tried": dict(getattr(bad, "TRIED", {})),
        "refused": dict(getattr(bad, "REFUSED", {})),
    }
    name = getattr(config, "workerinput", {}).get("workerid", "main")
    Path(folder, f"{name}.json").write_text(json.dumps(figures))


def pytest_terminal_summary(terminalreporter, config) -> None:
    """The load run's figures, and the bad-input suite's cases tried and refused per write function
    (for docs/security.md)."""
    import json
    import shutil
    from collections import Counter

    folder = getattr(config, "figures_dir", None)
    if folder is None:
        return
    tried: Counter = Counter()
    refused: Counter = Counter()
    for path in sorted(Path(folder).glob("*.json")):
        figures = json.loads(path.read_text())
        for report in figures["load"]:
            terminalreporter.section("load run")
            for line in report.splitlines():
                terminalreporter.write_line(line)
        tried.update(figures["tried"])
        refused.update(figures["refused"])
    shutil.rmtree(folder, ignore_errors=True)
    if not tried:
        return
    terminalreporter.section("bad input")
    for name in sorted(tried):
        terminalreporter.write_line(
            f"{name:<36} {tried[name]:>5} tried {refused[name]:>5} refused with a domain error"
        )
    terminalreporter.write_line(f"{'total':<36} {sum(tried.values()):>5} tried")


@pytest.fixture(autouse=True)
def _fresh_screen_caches():
    """Screens' cached reads (st.cache_data) live in this process from one test to the next, and
    are not keyed by database: each test starts without them, whatever ran before it."""
    import streamlit as st

    st.cache_data.clear()


# The longest test files first, so that pytest-xdist (`--dist loadfile` hands out whole files in
# collection order) does not start one of them last while the other workers sit idle; within a
# file the order is unchanged.
LONGEST_FIRST = (
    "tests/e2e/",
    "tests/db/tools/",
    "tests/db/test_bad_input.py",
    "tests/db/domain/test_sessions.py",
)


def pytest_collection_modifyitems(config, items) -> None:
    root = Path(str(config.rootpath))

    def rank(item) -> int:
        path = Path(str(item.path)).relative_to(root).as_posix()
        return next(
            (i for i, prefix in enumerate(LONGEST_FIRST) if path.startswith(prefix)), len(LONGEST_FIRST)
        )

    items.sort(key=rank)  # stable: each file's own order is kept
