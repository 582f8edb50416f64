"""Bad input, tried on purpose (hypothesis): every write function of the data-access module, fed
hostile values, either accepts them as the valid input they happen to be or refuses them with a
domain error a person can act on, and a refusal writes nothing (rows and audit rows unchanged)."""

from __future__ import annotations

import io
from collections import Counter
from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from db.core.errors import ProSyncError
from db.domain import access, documents, projects, staging, tags, users
from db.files import ingest, storage
from tests.conftest import acting, approve_staged, enqueue_staged, make_project, make_staged, make_user

EXAMPLES = 150
TRIED: Counter = Counter()  # function -> examples run (printed at the end of the run: conftest.py)
REFUSED: Counter = Counter()  # function -> examples refused with a domain error

NASTY = [
    "",
    " ",
    "\x00",
    "a\x00b",
    "\u202e",
    "report\u202efdp.exe",
    "\u200f\u200e",
    "\t\n\r",
    "\x1b[31m",
    "x" * 10_000,
    "'; drop table users.users; --",
    "' or '1'='1",
    "$$; select pg_sleep(10); $$",
    "../../etc/passwd",
    "..\\..\\boot.ini",
    "%s%s%n",
    "{{7*7}}",
    "<script>alert(1)</script>",
    "\ud7ff\ue000\uffff",
    "💥" * 300,
    "NULL",
    "None",
    "-1",
    "1e309",
    "NaN",
]
TEXT = st.one_of(
    st.sampled_from(NASTY),
    st.text(max_size=300),  # any code point but lone surrogates: control characters included
    # around 10,000 characters (the notes' limit) of a short repeated run, NUL and RTL marks included
    st.text(alphabet="ab\x00\x01\u202e\u200b ", min_size=1, max_size=20).map(
        lambda s: (s * 10_010)[: 9_990 + len(s)]
    ),
)
WRONG_TYPE = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=True),
    st.binary(max_size=8),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)
ANY_TEXT = st.one_of(TEXT, WRONG_TYPE)
IDS = st.one_of(
    st.sampled_from([0, -1, 2**31, 2**63 - 1, 2**63, -(2**63) - 1, 10**30]),
    st.integers(min_value=-(2**70), max_value=2**70),
    WRONG_TYPE,
)
DATES = st.one_of(
    st.datetimes(timezones=st.just(UTC)),
    st.datetimes(),
    st.sampled_from([datetime.min, datetime.max]),
    WRONG_TYPE,
)
# One count per table in ProSync's schemas (every schema but PostgreSQL's own), a partitioned table
# once with its partitions in it. Read from the catalog, so a table added later is watched too; a
# refusal that added a row to one table and removed one from another shows as the two it changed.
TABLES = (
    "select string_agg(format('select %L as name, count(*) from %I.%I', n.nspname || '.' || c.relname,"
    " n.nspname, c.relname), ' union all ' order by n.nspname, c.relname)"
    " from pg_class c join pg_namespace n on n.oid = c.relnamespace"
    " where c.relkind in ('r', 'p') and not c.relispartition"
    " and n.nspname <> 'information_schema' and n.nspname !~ '^pg_'"
)
_COUNTS: dict[str, str] = {}  # database -> the query counting each of its tables (built once)


def table_counts(conn) -> dict[str, int]:
    """Rows in each of ProSync's tables, as the test's owner connection sees them."""
    database = str(conn.engine.url)
    if database not in _COUNTS:
        _COUNTS[database] = conn.execute(text(TABLES)).scalar_one()
    return {name: rows for name, rows in conn.execute(text(_COUNTS[database]))}


def changed(before: dict[str, int], after: dict[str, int]) -> dict[str, tuple[int | None, int | None]]:
    """Each table whose count differs: (rows before, rows after)."""
    tables = sorted(before.keys() | after.keys())
    return {t: (before.get(t), after.get(t)) for t in tables if before.get(t) != after.get(t)}


CHECKED = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)


def attempt(conn, actor, name: str, call) -> None:
    """Run one write as `actor`; a refusal must be a domain error with a message and leave no trace."""
    before = table_counts(conn)
    TRIED[name] += 1
    try:
        with acting(conn, actor):
            call()
    except ProSyncError as error:
        REFUSED[name] += 1
        message = str(error)
        assert 10 <= len(message) <= 500 and "psycopg" not in message and "Traceback" not in message
        wrote = changed(before, table_counts(conn))
        assert not wrote, f"{name} was refused but wrote (table: rows before, after) {wrote}: {message}"


@pytest.fixture
def cast(conn):
    admin = make_user(conn, roles=("admin",))
    owner = make_user(conn)
    project = make_project(conn, owner=owner)
    return admin, owner, project


@CHECKED
@given(login=ANY_TEXT, name=ANY_TEXT, password=ANY_TEXT)
def test_create_user(conn, cast, login, name, password):
    admin, _, _ = cast
    attempt(
        conn,
        admin,
        "users.create_user",
        lambda: users.create_user(conn, login=login, display_name=name, password=password),
    )


@CHECKED
@given(user_id=IDS, password=ANY_TEXT)
def test_set_password(conn, cast, user_id, password):
    admin, owner, _ = cast
    attempt(
        conn,
        admin,
        "users.set_password",
        lambda: users.set_password(conn, user_id=user_id, password=password),
    )
    attempt(
        conn,
        admin,
        "users.set_password",
        lambda: users.set_password(conn, user_id=owner.id, password=password),
    )


@CHECKED
@given(name=ANY_TEXT, description=ANY_TEXT)
def test_create_project(conn, cast, name, description):
    _, owner, _ = cast
    attempt(
        conn,
        owner,
        "projects.create_project",
        lambda: projects.create_project(conn, name=name, description=description),
    )


@CHECKED
@given(project_id=IDS, name=ANY_TEXT, description=ANY_TEXT)
def test_update_project(conn, cast, project_id, name, description):
    _, owner, project = cast
    for target in (project_id, project.id):
        attempt(
            conn,
            owner,
            "projects.update_project",
            lambda t=target: projects.update_project(conn, project_id=t, name=name, description=description),
        )


@CHECKED
@given(name=ANY_TEXT, category=ANY_TEXT, description=ANY_TEXT, color=ANY_TEXT)
def test_create_tag(conn, cast, name, category, description, color):
    admin, _, _ = cast
    attempt(
        conn,
        admin,
        "tags.create_tag",
        lambda: tags.create_tag(conn, name=name, category=category, description=description, color=color),
    )


@CHECKED
@given(project_id=IDS, tag_id=IDS)
def test_tag_project(conn, cast, project_id, tag_id):
    admin, owner, project = cast
    attempt(
        conn, owner, "tags.tag_project", lambda: tags.tag_project(conn, project_id=project_id, tag_id=tag_id)
    )
    attempt(
        conn, owner, "tags.tag_project", lambda: tags.tag_project(conn, project_id=project.id, tag_id=tag_id)
    )


@CHECKED
@given(project_id=IDS, tag_ids=st.one_of(IDS, st.lists(IDS, max_size=5)))
def test_set_project_tags(conn, cast, project_id, tag_ids):
    admin, owner, project = cast
    for target in (project_id, project.id):
        attempt(
            conn,
            owner,
            "tags.set_project_tags",
            lambda t=target: tags.set_project_tags(conn, project_id=t, tag_ids=tag_ids),
        )


@CHECKED
@given(project_id=IDS, user_id=IDS, role=ANY_TEXT, login=ANY_TEXT)
def test_grant_access(conn, cast, project_id, user_id, role, login):
    admin, owner, project = cast
    attempt(
        conn,
        owner,
        "access.grant_access",
        lambda: access.grant_access(conn, project_id=project_id, user_id=user_id, role=role),
    )
    attempt(
        conn,
        owner,
        "access.grant_access",
        lambda: access.grant_access(conn, project_id=project.id, user_id=admin.id, role=role),
    )
    attempt(
        conn,
        owner,
        "access.grant_access_by_login",
        lambda: access.grant_access_by_login(conn, project_id=project.id, login=login, role="viewer"),
    )


@CHECKED
@given(
    name=ANY_TEXT,
    checksum=ANY_TEXT,
    size=IDS,
    mime=ANY_TEXT,
    code=ANY_TEXT,
    key=ANY_TEXT,
    notes=ANY_TEXT,
    metadata=st.one_of(WRONG_TYPE, st.dictionaries(TEXT, TEXT, max_size=3)),
)
def test_enqueue(conn, cast, name, checksum, size, mime, code, key, notes, metadata):
    _, owner, project = cast
    attempt(
        conn,
        owner,
        "staging.enqueue_many",
        lambda: enqueue_staged(
            conn,
            project_id=project.id,
            original_name=name,
            checksum=checksum,
            size_bytes=size,
            detected_mime=mime,
            storage_code=code,
            object_key=key,
            notes=notes,
            metadata=metadata,
        ),
    )


@CHECKED
@given(ingest_id=IDS, reason=ANY_TEXT, notes=ANY_TEXT)
def test_decisions(conn, cast, ingest_id, reason, notes):
    _, owner, project = cast
    staged = make_staged(conn, project=project, uploader=owner)
    for target in (ingest_id, staged.id):
        attempt(
            conn,
            owner,
            "staging.reject",
            lambda t=target: staging.reject(conn, ingest_id=t, reason=reason, reviewer_notes=notes),
        )
        attempt(
            conn,
            owner,
            "staging.approve_many",
            lambda t=target: approve_staged(conn, ingest_id=t, reviewer_notes=notes),
        )


@CHECKED
@given(document_id=IDS)
def test_document_trash(conn, cast, document_id):
    _, owner, _ = cast
    attempt(
        conn,
        owner,
        "documents.soft_delete_document",
        lambda: documents.soft_delete_document(conn, document_id=document_id),
    )
    attempt(
        conn,
        owner,
        "documents.restore_document",
        lambda: documents.restore_document(conn, document_id=document_id),
    )


@CHECKED
@given(name=ANY_TEXT, size=IDS, uploaded_at=DATES, mime=st.one_of(ANY_TEXT, st.just("application/pdf")))
def test_import_document(conn, cast, name, size, uploaded_at, mime):
    admin, _, project = cast
    checksum = "ab" * 32
    attempt(
        conn,
        admin,
        "documents.import_document",
        lambda: documents.import_document(
            conn,
            project_id=project.id,
            name=name,
            checksum=checksum,
            size_bytes=size,
            mime_type=mime,
            storage_code="local",
            object_key=storage.object_key(checksum),
            uploaded_at=uploaded_at,
            uploaded_by=None,
        ),
    )


NAMES = ["notes.txt", "report.pdf", "photo.png", "archive.zip", "data.csv", "page.html", "tool.exe"]
UPLOADS = st.one_of(
    st.sampled_from(
        [
            b"",
            b"\x00",
            b"MZ\x90\x00" + b"\0" * 60,
            b"%PDF-1.7\n",
            b"PK\x03\x04" + b"\0" * 26,
            b"#!/bin/sh\nrm -rf /\n",
            b"<svg onload=alert(1)>",
            b"\xff\xd8\xff\xe0" + b"\0" * 20,
        ]
    ),
    st.binary(max_size=2048),
)


@pytest.mark.parametrize("store", ["local"], indirect=True)
@CHECKED
@given(name=st.one_of(ANY_TEXT, st.sampled_from(NAMES)), data=UPLOADS, declared=st.one_of(st.none(), TEXT))
def test_stage_file(conn, cast, store, name, data, declared):
    _, owner, project = cast
    before = sorted(o.key for o in store.list_objects(""))

    def upload():
        ingest.stage_file(
            lambda: acting(conn, owner),
            project_id=project.id,
            name=name,
            stream=io.BytesIO(data),
            declared_mime=declared,
        )

    refused = REFUSED["ingest.stage_file"]
    attempt(conn, owner, "ingest.stage_file", upload)
    if REFUSED["ingest.stage_file"] > refused:
        assert sorted(o.key for o in store.list_objects("")) == before, "a refused upload left an object"


@CHECKED
@given(tag_id=IDS, name=ANY_TEXT, category=ANY_TEXT, color=ANY_TEXT)
def test_update_tag(conn, cast, tag_id, name, category, color):
    admin, _, _ = cast
    with acting(conn, admin):
        tag = tags.create_tag(conn, name=f"fixed {TRIED['tags.update_tag']}", category="team")
    for target in (tag_id, tag.id):
        attempt(
            conn,
            admin,
            "tags.update_tag",
            lambda t=target: tags.update_tag(conn, tag_id=t, name=name, category=category, color=color),
        )


MEMBERS: dict = {}  # project id -> the member the membership examples change


@CHECKED
@given(user_id=IDS, role=ANY_TEXT)
def test_membership_changes(conn, cast, user_id, role):
    admin, owner, project = cast
    member = MEMBERS.get(project.id) or MEMBERS.setdefault(project.id, make_user(conn))  # argon2 is slow
    with acting(conn, owner):
        if access.project_role(conn, project_id=project.id) and not any(
            m.user_id == member.id for m in access.list_members(conn, project_id=project.id)
        ):
            access.grant_access(conn, project_id=project.id, user_id=member.id, role="viewer")
    for target in (user_id, member.id):
        attempt(
            conn,
            owner,
            "access.change_role",
            lambda t=target: access.change_role(conn, project_id=project.id, user_id=t, role=role),
        )
        attempt(
            conn,
            owner,
            "access.revoke_access",
            lambda t=target: access.revoke_access(conn, project_id=project.id, user_id=t),
        )
    attempt(
        conn,
        owner,
        "projects.transfer_ownership",
        lambda: projects.transfer_ownership(conn, project_id=project.id, new_owner_id=user_id),
    )


@CHECKED
@given(user_id=IDS)
def test_user_state_changes(conn, cast, user_id):
    admin, _, _ = cast
    for name, change in (
        ("users.deactivate_user", users.deactivate_user),
        ("users.soft_delete_user", users.soft_delete_user),
        ("users.restore_user", users.restore_user),
    ):
        attempt(conn, admin, name, lambda change=change: change(conn, user_id=user_id))
    attempt(
        conn,
        admin,
        "users.grant_system_role",
        lambda: users.grant_system_role(conn, user_id=user_id, role="ops"),
    )


@CHECKED
@given(ingest_id=IDS, project_id=IDS)
def test_reopen_purge_and_project_trash(conn, cast, ingest_id, project_id):
    _, owner, _ = cast
    attempt(conn, owner, "staging.reopen", lambda: staging.reopen(conn, ingest_id=ingest_id))
    attempt(conn, owner, "staging.purge", lambda: staging.purge(conn, ingest_id=ingest_id))
    attempt(
        conn,
        owner,
        "projects.soft_delete_project",
        lambda: projects.soft_delete_project(conn, project_id=project_id),
    )
    attempt(
        conn, owner, "projects.restore_project", lambda: projects.restore_project(conn, project_id=project_id)
    )
