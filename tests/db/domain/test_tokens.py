"""db.domain.tokens: personal access tokens (only their hash stored), narrowed to their projects and
scopes by the data-access checks and again by the database, ended by a credential change, every use
audited as their user with the token named."""

from contextlib import contextmanager

import pytest
from sqlalchemy import text

from db.core.engine import set_token, transaction_failed
from db.core.errors import AuthenticationFailed, Conflict, InvalidInput, NotFound, PermissionDenied
from db.domain import access, documents, tokens, users
from db.files import storage
from tests.conftest import (
    acting,
    count,
    enqueue_staged,
    make_checksum,
    make_document,
    make_project,
    make_user,
    sqlstate_of,
)  # fmt: skip


def _use(conn, secret: str, request: str = "GET /api/v1/projects"):
    with acting(conn, None, app=True):
        return tokens.use_token(
            conn, secret=secret, ip_address="10.0.0.7", user_agent="curl/8", request=request
        )


@contextmanager
def through(conn, user, grant):
    """As `user`, through the API token `grant` (the API's unit of work)."""
    with acting(conn, user):
        set_token(conn, grant)
        try:
            yield conn
        finally:
            if not transaction_failed(conn):
                set_token(conn, None)


@pytest.fixture
def team(conn):
    alice, bob = make_user(conn), make_user(conn)
    a = make_project(conn, owner=alice, members=[(bob, "reviewer")])
    b = make_project(conn, owner=alice)
    return alice, bob, a, b


def test_only_the_hash_of_a_token_is_stored_and_the_secret_says_what_it_is(conn, team):
    alice, _, a, _ = team
    with acting(conn, alice):
        new = tokens.create_token(conn, name="CI publisher", scopes=["upload", "read"], project_ids=[a.id])
    assert new.secret.startswith("psy_") and len(new.secret) == tokens.SECRET_LENGTH
    assert new.token.token_prefix == new.secret[:12] and new.token.scopes == ("read", "upload")
    assert new.token.project_ids == (a.id,)
    stored = conn.execute(text("select * from auth.api_tokens where id = :id"), {"id": new.token.id}).one()
    assert bytes(stored.token_hash) == tokens.hash_secret(new.secret)
    assert new.secret not in str(stored._mapping.values())
    assert count(conn, "select count(*) from audit.audit_log where new_values ? 'token_hash'") == 0
    assert (
        count(
            conn, "select count(*) from audit.audit_log where new_values::text like :s", s=f"%{new.secret}%"
        )
        == 0
    )


def test_a_use_is_recorded_as_the_tokens_user_with_the_token_named(conn, team):
    alice, _, a, _ = team
    with acting(conn, alice):
        new = tokens.create_token(conn, name="nightly report", project_ids=[a.id])
    grant = _use(conn, new.secret, "GET /api/v1/projects/1")
    assert (grant.user_id, grant.name, grant.scopes, grant.project_ids) == (
        alice.id, "nightly report", frozenset({"read"}), frozenset({a.id}),
    )  # fmt: skip
    row = conn.execute(
        text("select actor_id, context from audit.audit_log where action = 'api_request' and record_id = :t"),
        {"t": str(new.token.id)},
    ).one()
    assert row.actor_id == alice.id and row.context["token"] == "nightly report"
    assert row.context["request"] == "GET /api/v1/projects/1" and row.context["ip_address"] == "10.0.0.7"
    used = conn.execute(
        text("select host(last_used_ip) from auth.api_tokens where id = :t"), {"t": new.token.id}
    )
    assert used.scalar_one() == "10.0.0.7"


def test_a_write_through_a_token_is_audited_with_the_token_named(conn, team):
    alice, _, a, _ = team
    with acting(conn, alice):
        new = tokens.create_token(conn, name="uploader", scopes=["read", "upload"], project_ids=[a.id])
    grant = _use(conn, new.secret)
    with through(conn, alice, grant):
        checksum = make_checksum()
        staged = enqueue_staged(
            conn, project_id=a.id, original_name="report.pdf", checksum=checksum, size_bytes=10,
            detected_mime="application/pdf", storage_code="local", object_key=storage.object_key(checksum),
        )  # fmt: skip
        # and a write its scopes do not carry changes nothing, even past the Python checks
        conn.execute(
            text("update projects.projects set description = 'via the API' where id = :p"), {"p": a.id}
        )
    row = conn.execute(
        text(
            "select actor_id, context from audit.audit_log"
            " where table_name = 'documents_ingest' and record_id = :i"
        ),
        {"i": str(staged.id)},
    ).one()
    assert row.actor_id == alice.id and row.context == {"token_id": new.token.id, "token": "uploader"}
    assert count(conn, "select count(*) from projects.projects where description = 'via the API'") == 0


@pytest.mark.parametrize("how", ["revoked", "expired", "deactivated", "password reset", "password changed"])
def test_a_token_stops_working_at_once(conn, team, how):
    alice, bob, a, _ = team
    admin = make_user(conn, roles=("admin",))
    with acting(conn, bob):
        new = tokens.create_token(conn, name="bot", project_ids=[a.id])
    _use(conn, new.secret)
    if how == "revoked":
        with acting(conn, bob):
            assert tokens.revoke_token(conn, token_id=new.token.id).revoked_at is not None
    elif how == "expired":
        # Back in time, past the guard that keeps a token's expiry fixed (this test's own change).
        conn.execute(text("set local session_replication_role = replica"))
        conn.execute(
            text(
                "update auth.api_tokens set created_at = now() - interval '2 days',"
                " expires_at = now() - interval '1 second', last_used_at = null where id = :t"
            ),
            {"t": new.token.id},
        )
    elif how == "deactivated":
        with acting(conn, admin):
            users.deactivate_user(conn, user_id=bob.id)
    elif how == "password reset":
        with acting(conn, admin):
            users.set_password(conn, user_id=bob.id, password="an entirely new passphrase 42")
    else:
        with acting(conn, bob):
            users.set_password(conn, user_id=bob.id, password="an entirely new passphrase 42")
    expected = {"revoked": "revoked", "expired": "expired", "deactivated": "not active"}.get(how, "revoked")
    conn.execute(text("set local session_replication_role = origin"))
    with pytest.raises(AuthenticationFailed, match=expected):
        _use(conn, new.secret)
    if how in ("deactivated", "password reset", "password changed"):
        reason = conn.execute(
            text("select revoke_reason from auth.api_tokens where id = :t"), {"t": new.token.id}
        )
        assert reason.scalar_one() in ("account deactivated", "password changed")


def test_unknown_and_malformed_secrets_are_refused_before_any_lookup(conn):
    for secret in ("", "psy_", "psy_" + "x" * 43, "ghp_" + "x" * 43, "psy_" + "é" * 43, None, 42):
        with pytest.raises(AuthenticationFailed, match="not valid"):
            _use(conn, secret)


def test_a_token_is_narrowed_to_its_projects_and_scopes_in_the_data_access_checks(conn, team):
    alice, _, a, b = team
    with acting(conn, alice):
        new = tokens.create_token(conn, name="reader", scopes=["read"], project_ids=[a.id])
    grant = _use(conn, new.secret)
    with through(conn, alice, grant):
        role = access.project_role(conn, project_id=a.id)
        assert role.role == "owner" and role.can_view and not role.can_upload and not role.can_manage_access
        assert access.project_role(conn, project_id=b.id) is None
        assert access.visible_project_ids(conn) == [a.id]
        assert access.project_ids_with(conn, permission="can_upload") == []
        with pytest.raises(PermissionDenied, match="do not have access"):
            access.require_permission(conn, project_id=b.id, permission="can_view")


def test_the_database_narrows_a_token_even_when_the_python_checks_are_skipped(conn, team):
    alice, _, a, b = team
    doc_a = make_document(conn, project=a, uploader=alice)
    doc_b = make_document(conn, project=b, uploader=alice)
    with acting(conn, alice):
        new = tokens.create_token(conn, name="narrow", scopes=["read"], project_ids=[a.id])
    grant = _use(conn, new.secret)
    with through(conn, alice, grant):
        seen = set(conn.execute(text("select id from documents.documents")).scalars())
        assert doc_a.id in seen and doc_b.id not in seen
        assert conn.execute(text("select projects.actor_projects_with('can_upload')")).scalar_one() == []
        assert conn.execute(text("select projects.actor_projects()")).scalar_one() == [a.id]
        # a token cannot mint another, even by writing the table itself
        assert (
            sqlstate_of(
                conn,
                "insert into auth.api_tokens (user_id, name, token_hash, token_prefix, scopes, all_projects,"
                " expires_at) values (:u, 'x', sha256('x'), 'psy_abcd', '{read}', true,"
                " now() + interval '1 day')",
                u=alice.id,
            )
            == "42501"
        )
    # a forged token id (another user's token, or none that exists) narrows to nothing
    with acting(conn, alice):
        conn.execute(text("select set_config('prosync.token_id', '999999999', true)"))
        assert conn.execute(text("select count(*) from documents.documents")).scalar_one() == 0
        conn.execute(text("select set_config('prosync.token_id', '', true)"))


def test_an_admins_token_acts_as_a_member_never_as_an_admin(conn, team):
    alice, _, a, b = team
    admin = make_user(conn, roles=("admin",))
    doc = make_document(conn, project=b, uploader=alice)
    with acting(conn, admin):
        new = tokens.create_token(conn, name="admin bot")
    grant = _use(conn, new.secret)
    with through(conn, admin, grant):
        assert access.visible_project_ids(conn) == []
        assert conn.execute(text("select system.actor_sees_all()")).scalar_one() is False
        with pytest.raises((NotFound, PermissionDenied)):
            documents.get_document(conn, document_id=doc.id)


def test_a_token_may_name_only_projects_its_user_is_a_member_of(conn, team):
    alice, bob, a, b = team
    with acting(conn, bob), pytest.raises(PermissionDenied, match="member of"):
        tokens.create_token(conn, name="too wide", project_ids=[a.id, b.id])
    with acting(conn, bob):
        tokens.create_token(conn, name="fine", project_ids=[a.id])
        # past the Python check, the database refuses a project its user is not a member of
        assert sqlstate_of(
            conn, "insert into auth.api_token_projects (token_id, project_id)"
            " select id, :b from auth.api_tokens where user_id = :u", b=b.id, u=bob.id,
        ) == "42501"  # fmt: skip
    assert count(conn, "select count(*) from auth.api_token_projects where project_id = :b", b=b.id) == 0


@pytest.mark.parametrize(
    "details, message",
    [
        ({"name": ""}, "name"),
        ({"name": "x" * 101}, "at most 100"),
        ({"name": "bell\x07"}, "control"),
        ({"scopes": ["admin"]}, "no scope"),
        ({"scopes": []}, "at least one scope"),
        ({"scopes": "read"}, "list"),
        ({"expires_days": 0}, "1 to 366"),
        ({"expires_days": 367}, "1 to 366"),
        ({"expires_days": True}, "1 to 366"),
        ({"project_ids": []}, "at least one project"),
        ({"project_ids": ["1"]}, "whole number"),
    ],
)
def test_bad_token_requests_are_refused_with_a_message_and_write_nothing(conn, team, details, message):
    alice = team[0]
    before = count(conn, "select count(*) from auth.api_tokens")
    with acting(conn, alice), pytest.raises(InvalidInput, match=message):
        tokens.create_token(conn, **{"name": "ok", **details})
    assert count(conn, "select count(*) from auth.api_tokens") == before


def test_names_are_unique_among_a_users_live_tokens_and_others_tokens_are_hidden(conn, team):
    alice, bob, _, _ = team
    with acting(conn, alice):
        first = tokens.create_token(conn, name="CI")
        with pytest.raises(Conflict, match="already have"):
            tokens.create_token(conn, name="ci")
        tokens.revoke_token(conn, token_id=first.token.id)
        tokens.create_token(conn, name="CI")  # the name is free again
        assert [t.name for t in tokens.list_tokens(conn)] == ["CI"]
        assert len(tokens.list_tokens(conn, include_ended=True)) == 2
    with acting(conn, bob):
        with pytest.raises(NotFound):
            tokens.revoke_token(conn, token_id=first.token.id)
        with pytest.raises(PermissionDenied):
            tokens.list_tokens(conn, user_id=alice.id)
        assert (
            conn.execute(
                text("select count(*) from auth.api_tokens where user_id = :a"), {"a": alice.id}
            ).scalar_one()
            == 0
        )


def test_a_token_cannot_widen_or_revive_itself_even_past_the_python_checks(conn, team):
    alice, _, a, b = team
    with acting(conn, alice):
        new = tokens.create_token(conn, name="narrow one", scopes=["read"], project_ids=[a.id])
        ended = tokens.create_token(conn, name="ended one", scopes=["read"], project_ids=[a.id])
        tokens.revoke_token(conn, token_id=ended.token.id)
    grant = _use(conn, new.secret)
    with through(conn, alice, grant):
        for statement in (
            "update auth.api_tokens set all_projects = true, scopes = '{read,upload,review}' where id = :t",
            "update auth.api_tokens set revoked_at = null where id = :e",
            "insert into auth.api_token_projects (token_id, project_id) values (:t, :b)",
        ):
            assert sqlstate_of(conn, statement, t=new.token.id, e=ended.token.id, b=b.id) in (None, "42501")
        assert conn.execute(text("select system.actor_is_ops()")).scalar_one() is False
    # a token made earlier (not in this transaction) gets no project added, and nobody, not even its
    # user outside a token, changes what a token may do or revives it
    conn.execute(text("set local session_replication_role = replica"))
    conn.execute(
        text("update auth.api_tokens set created_at = created_at - interval '1 minute' where id = :t"),
        {"t": new.token.id},
    )
    conn.execute(text("set local session_replication_role = origin"))
    with acting(conn, alice):
        for statement in (
            "update auth.api_tokens set scopes = '{read,upload,review}' where id = :t",
            "update auth.api_tokens set expires_at = expires_at + interval '1 day' where id = :t",
            "update auth.api_tokens set revoked_at = null, revoke_reason = null where id = :e",
        ):
            assert sqlstate_of(conn, statement, t=new.token.id, e=ended.token.id) == "PS400", statement
        late = sqlstate_of(
            conn,
            "insert into auth.api_token_projects (token_id, project_id) values (:t, :b)",
            t=new.token.id,
            b=b.id,
        )
        assert late == "42501"
    # whatever each statement answered, nothing was widened, revived or added
    rows = conn.execute(
        text(
            "select id, all_projects, scopes, revoked_at is not null as revoked"
            " from auth.api_tokens where id in (:t, :e)"
        ),
        {"t": new.token.id, "e": ended.token.id},
    ).all()
    assert {r.id: (r.all_projects, r.scopes, r.revoked) for r in rows} == {
        new.token.id: (False, ["read"], False),
        ended.token.id: (False, ["read"], True),
    }
    projects = conn.execute(
        text("select array_agg(project_id) from auth.api_token_projects where token_id = :t"),
        {"t": new.token.id},
    ).scalar_one()
    assert projects == [a.id]
