"""db.domain.users: who may sign in and how a password is kept; accounts managed by administrators;
a change of password or system role ends the user's other sessions."""

import pytest
from sqlalchemy import text

from db.core.errors import AuthenticationFailed, Conflict, InvalidInput, PermissionDenied
from db.domain import sessions, users
from tests.conftest import TEST_PASSWORD, acting, authenticate, count, is_live, make_user, open_sessions


@pytest.mark.parametrize(
    "login",
    [
        "no-at-sign",
        "two@@example.com",
        "a@b",
        "spaces in@example.com",
        "a@-bad.com",
        "x" * 250 + "@e.io",
    ],
)
def test_invalid_email_is_refused(conn, login):
    with pytest.raises(InvalidInput, match="e-mail address is not valid"):
        make_user(conn, login=login)


def test_login_is_unique_whatever_its_case(conn):
    make_user(conn, login="Alice@Example.com")
    with pytest.raises(Conflict, match="already exists"):
        make_user(conn, login="alice@example.COM")


def test_weak_password_is_refused(conn):
    with pytest.raises(InvalidInput, match="at least 10"):
        make_user(conn, password="short")
    with pytest.raises(InvalidInput, match="too common"):
        make_user(conn, password="password123")


def test_passwords_are_argon2id_and_never_audited(conn):
    user = make_user(conn)
    stored = count(
        conn,
        "select count(*) from users.users where id = :id and password_hash like '$argon2id$%'",
        id=user.id,
    )
    assert stored == 1
    leaked = count(
        conn,
        "select count(*) from audit.audit_log where table_name = 'users'"
        " and (new_values ? 'password_hash' or old_values ? 'password_hash')",
    )
    assert leaked == 0


def test_soft_deleted_user_cannot_sign_in(conn):
    user = make_user(conn, password="a-good-long-password")
    with acting(conn, None):
        assert authenticate(conn, login=user.login, password="a-good-long-password").id == user.id
        users.soft_delete_user(conn, user_id=user.id)
        with pytest.raises(Exception, match="not correct"):
            authenticate(conn, login=user.login, password="a-good-long-password")


def test_deactivating_a_user_ends_their_sessions_and_sign_in(conn):
    admin, user = make_user(conn, roles=("admin",)), make_user(conn)
    with acting(conn, user):
        new = sessions.create_session(conn, user_id=user.id)
    with acting(conn, admin):
        users.deactivate_user(conn, user_id=user.id)
    with pytest.raises(AuthenticationFailed):
        sessions.resolve_session(conn, token=new.token)
    with acting(conn, None), pytest.raises(AuthenticationFailed, match="not correct"):
        authenticate(conn, login=user.login, password=TEST_PASSWORD)


def test_only_admins_manage_users_and_not_themselves(conn):
    admin, user = make_user(conn, roles=("admin",)), make_user(conn)
    with acting(conn, user), pytest.raises(PermissionDenied, match="administrator"):
        users.deactivate_user(conn, user_id=admin.id)
    with acting(conn, admin), pytest.raises(Conflict, match="your own"):
        users.deactivate_user(conn, user_id=admin.id)


def test_password_change_is_audited_without_the_hash(conn):
    user = make_user(conn)
    with acting(conn, user):
        users.set_password(conn, user_id=user.id, password="a-brand-new-passphrase")
        assert authenticate(conn, login=user.login, password="a-brand-new-passphrase").id == user.id
    row = conn.execute(
        text(
            "select changed_columns, new_values from audit.audit_log where table_name = 'users'"
            " and record_id = :id and 'password_hash' = any(changed_columns)"
        ),
        {"id": str(user.id)},
    ).one()
    assert "password_hash" not in (row.new_values or {})


def test_an_admins_password_reset_ends_every_session_of_that_user(conn):
    """A stolen copy of the cookie stops working the moment an admin resets the password."""
    admin, user = make_user(conn, roles=("admin",)), make_user(conn)
    stolen, mine = open_sessions(conn, user, 2)
    admin_session = open_sessions(conn, admin)[0]
    with acting(conn, admin):
        assert users.set_password(
            conn, user_id=user.id, password="a-reset-passphrase", keep_session=admin_session.session.id
        ) == 2  # fmt: skip
    assert not is_live(conn, stolen) and not is_live(conn, mine) and is_live(conn, admin_session)
    with pytest.raises(AuthenticationFailed, match="signed out"):
        sessions.resolve_session(conn, token=stolen.token)
    assert count(
        conn,
        "select count(*) from audit.audit_log where action = 'sessions_ended' and record_id = :u"
        " and context ->> 'reason' = 'password reset by an administrator'",
        u=str(user.id),
    ) == 1  # fmt: skip


def test_changing_ones_own_password_keeps_this_session_and_ends_the_others(conn):
    user = make_user(conn)
    here, elsewhere = open_sessions(conn, user, 2)
    with acting(conn, user):
        with pytest.raises(AuthenticationFailed, match="current password"):
            users.change_own_password(conn, current_password="wrong", new_password="a-new-passphrase-1")
        ended = users.change_own_password(
            conn,
            current_password=TEST_PASSWORD,
            new_password="a-new-passphrase-1",
            keep_session=here.session.id,
        )
        assert ended == 1
    assert is_live(conn, here) and not is_live(conn, elsewhere)


def test_a_change_of_system_role_ends_the_users_sessions(conn):
    admin, user = make_user(conn, roles=("admin",)), make_user(conn)
    (granted,) = open_sessions(conn, user)
    with acting(conn, admin):
        users.grant_system_role(conn, user_id=user.id, role="ops")
    assert not is_live(conn, granted)
    (taken,) = open_sessions(conn, user)
    with acting(conn, admin):
        users.revoke_system_role(conn, user_id=user.id, role="ops")
    assert not is_live(conn, taken)
    # An admin changing their own roles keeps the session they do it from.
    here, other = open_sessions(conn, admin, 2)
    with acting(conn, admin):
        users.grant_system_role(conn, user_id=admin.id, role="ops", keep_session=here.session.id)
    assert is_live(conn, here) and not is_live(conn, other)
