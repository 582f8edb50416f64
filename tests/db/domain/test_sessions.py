"""db.domain.sessions: session tokens (only their hash stored), expiry, idle timeout and revocation,
each audited; signing in, its throttling per account, device and client address."""

from datetime import timedelta

import pytest
from sqlalchemy import text

from db.core.errors import AuthenticationFailed, Conflict, InvalidInput, PermissionDenied
from db.domain import sessions, users
from tests.conftest import acting, count, is_live, make_user, open_sessions


def test_only_the_hash_of_a_session_token_is_stored(conn):
    user = make_user(conn)
    with acting(conn, user):
        new = sessions.create_session(conn, user_id=user.id, user_agent="pytest", ip_address="10.1.2.3")
    assert len(new.token) >= 43  # 256 bits, url-safe base64
    stored = conn.execute(
        text("select token_hash from auth.sessions where id = cast(:id as uuid)"), {"id": new.session.id}
    ).scalar_one()
    assert bytes(stored) == sessions.hash_token(new.token) and new.token.encode() not in bytes(stored)
    assert count(conn, "select count(*) from audit.audit_log where new_values ? 'token_hash'") == 0
    assert sessions.resolve_session(conn, token=new.token).ip_address == "10.1.2.3"


def test_revoked_expired_and_idle_sessions_are_refused_with_the_reason(conn):
    user = make_user(conn)
    with acting(conn, user):
        revoked = sessions.create_session(conn, user_id=user.id)
        sessions.revoke_session(conn, session_id=revoked.session.id)
        with pytest.raises(AuthenticationFailed, match="signed out"):
            sessions.resolve_session(conn, token=revoked.token)
        idle = sessions.create_session(conn, user_id=user.id)
        conn.execute(
            text(
                "update auth.sessions set created_at = now() - interval '3 hours',"
                " last_active_at = now() - interval '2 hours' where id = cast(:id as uuid)"
            ),
            {"id": idle.session.id},
        )
        with pytest.raises(AuthenticationFailed, match="inactivity"):
            sessions.resolve_session(conn, token=idle.token, idle=timedelta(minutes=30))
        short = sessions.create_session(conn, user_id=user.id, lifetime=timedelta(hours=1))
        conn.execute(
            text(
                "update auth.sessions set created_at = now() - interval '2 hours',"
                " last_active_at = now() - interval '1 minute',"
                " expires_at = now() - interval '1 hour' where id = cast(:id as uuid)"
            ),
            {"id": short.session.id},
        )
        with pytest.raises(AuthenticationFailed, match="expired"):
            sessions.resolve_session(conn, token=short.token)
        with pytest.raises(AuthenticationFailed, match="not valid"):
            sessions.resolve_session(conn, token="made-up")


def test_session_must_expire_after_it_starts(conn):
    user = make_user(conn)
    with pytest.raises(Exception, match="sessions_expiry_after_creation"):
        conn.execute(
            text(
                "insert into auth.sessions (user_id, token_hash, expires_at)"
                " values (:u, sha256('x'), now() - interval '1 hour')"
            ),
            {"u": user.id},
        )


def _session_events(conn, session_id):
    return conn.execute(
        text(
            "select action, actor_id, context->>'ip_address' as ip, context->>'user_agent' as agent"
            " from audit.audit_log where table_name = 'sign_in' and record_id = :id order by id"
        ),
        {"id": session_id},
    ).all()


def test_signing_out_and_revoking_are_audited_with_who_ip_and_user_agent(conn):
    user, admin = make_user(conn), make_user(conn, roles=("admin",))
    with acting(conn, user):
        mine = sessions.create_session(conn, user_id=user.id)
        sessions.revoke_session(
            conn, session_id=mine.session.id, user_agent="Firefox/140", ip_address="10.0.0.7"
        )
        sessions.revoke_session(conn, session_id=mine.session.id)  # already ended: no second event
        other = sessions.create_session(conn, user_id=user.id)
    with acting(conn, admin):
        sessions.revoke_session(
            conn, session_id=other.session.id, reason="lost laptop", user_agent="Chrome/142", ip_address="bad"
        )
    assert [tuple(e) for e in _session_events(conn, mine.session.id)] == [
        ("sign_out", user.id, "10.0.0.7", "Firefox/140")
    ]
    assert [tuple(e) for e in _session_events(conn, other.session.id)] == [
        ("session_revoked", admin.id, None, "Chrome/142")
    ]
    with acting(conn, make_user(conn)), pytest.raises(PermissionDenied):
        sessions.revoke_session(conn, session_id=other.session.id)


def test_touch_writes_at_most_once_a_minute_and_is_not_audited(conn):
    user = make_user(conn)
    with acting(conn, user):
        new = sessions.create_session(conn, user_id=user.id)
        before = count(conn, "select count(*) from audit.audit_log where table_name = 'sessions'")
        assert sessions.touch_session(conn, session_id=new.session.id) is False
        conn.execute(
            text(
                "update auth.sessions set created_at = now() - interval '5 minutes',"
                " last_active_at = now() - interval '2 minutes' where id = cast(:id as uuid)"
            ),
            {"id": new.session.id},
        )
        mid = count(conn, "select count(*) from audit.audit_log where table_name = 'sessions'")
        assert sessions.touch_session(conn, session_id=new.session.id) is True
        after = count(conn, "select count(*) from audit.audit_log where table_name = 'sessions'")
    assert after == mid and mid == before + 1  # only the created_at edit above, not the touch


def test_a_user_sees_only_their_own_sessions(conn):
    one, other = make_user(conn), make_user(conn)
    with acting(conn, one):
        sessions.create_session(conn, user_id=one.id)
        assert len(sessions.list_sessions(conn, user_id=one.id)) == 1
        with pytest.raises(PermissionDenied):
            sessions.list_sessions(conn, user_id=other.id)


def anonymous(conn):
    """Units of work as the sign-in route opens them: the dashboard's login, no one signed in yet."""
    return lambda: acting(conn, None, app=True)


def _try(conn, login, password, *, ip="10.0.0.9", device=None):
    return sessions.sign_in(
        anonymous(conn), login=login, password=password, user_agent="ua", ip_address=ip, device_token=device
    )


def test_sign_in_is_throttled_after_five_failures_and_every_attempt_is_audited(conn):
    user = make_user(conn, password="the-real-passphrase")
    for _ in range(5):
        outcome = _try(conn, user.login.upper(), "wrong-guess-123")
        assert outcome.new is None and outcome.message == "The e-mail address or password is not correct."
    blocked = _try(conn, user.login, "the-real-passphrase")
    assert blocked.new is None and "Too many failed sign-ins" in blocked.message
    assert 0 < blocked.retry_after <= 15 * 60
    rows = conn.execute(
        text(
            "select action, context ->> 'ip_address' as ip from audit.audit_log"
            " where record_id = :key and table_name = 'sign_in' order by id"
        ),
        {"key": user.login.lower()},
    ).all()
    assert [r.action for r in rows] == ["sign_in_failed"] * 5 + ["sign_in_throttled"]
    assert {r.ip for r in rows} == {"10.0.0.9"}


def test_unknown_email_is_throttled_the_same_way(conn):
    for _ in range(5):
        _try(conn, "ghost@example.com", "x" * 12, ip=None)
    blocked = _try(conn, "ghost@example.com", "x" * 12, ip=None)
    assert "Too many failed sign-ins" in blocked.message


def test_successful_sign_in_opens_a_session_with_the_user_as_actor(conn):
    user = make_user(conn, password="the-real-passphrase")
    outcome = sessions.sign_in(
        anonymous(conn),
        login=user.login,
        password="the-real-passphrase",
        user_agent="Firefox",
        ip_address="192.0.2.4",
    )
    assert outcome.new is not None and outcome.new.session.user_id == user.id
    assert outcome.device_token, "a browser that signed in is remembered (OWASP's device cookie)"
    actors = conn.execute(
        text(
            "select action, actor_id from audit.audit_log where table_name in ('sessions', 'sign_in')"
            " order by id desc limit 2"
        )
    ).all()
    assert {(r.action, r.actor_id) for r in actors} == {("insert", user.id), ("sign_in", user.id)}


def test_someone_elses_guesses_do_not_lock_the_owner_out_of_a_browser_they_signed_in_on(conn):
    """Five wrong guesses for admin@ from anywhere used to lock its owner out for 15 minutes."""
    user = make_user(conn, password="the-real-passphrase")
    mine = _try(conn, user.login, "the-real-passphrase", ip="192.0.2.10").device_token
    for _ in range(8):  # an attacker, from another address, with no device cookie
        _try(conn, user.login, "wrong-guess-123", ip="198.51.100.7")
    assert "Too many" in _try(conn, user.login, "the-real-passphrase", ip="198.51.100.8").message
    # The owner's browser is judged on its own failures: none.
    assert _try(conn, user.login, "the-real-passphrase", ip="198.51.100.7", device=mine).new is not None
    # A device cookie is the owner's only: for another account, or forged, it counts for nothing.
    other = make_user(conn, password="the-other-passphrase")
    assert "Too many" not in (_try(conn, other.login, "wrong-guess-123", device=mine).message or "")
    forged = mine[:-3] + ("AAA" if not mine.endswith("AAA") else "BBB")
    assert (
        "Too many" in _try(conn, user.login, "the-real-passphrase", ip="198.51.100.9", device=forged).message
    )
    # And a stolen device cookie does not lift the limit for its thief: it has its own five.
    for _ in range(5):
        _try(conn, user.login, "wrong-guess-123", device=mine)
    assert "Too many" in _try(conn, user.login, "the-real-passphrase", device=mine).message
    # A password change ends every device cookie's trust: the old one now counts as no cookie.
    fresh = _try(conn, other.login, "the-other-passphrase", ip="192.0.2.11").device_token
    with acting(conn, other):
        changed = "update users.users set password_changed_at = now() + interval '1 second' where id = :u"
        conn.execute(text(changed), {"u": other.id})
    for _ in range(sessions.ACCOUNT_ATTEMPTS):
        _try(conn, other.login, "wrong-guess-123", ip="198.51.100.20")
    assert "Too many" in _try(conn, other.login, "the-other-passphrase", device=fresh).message


def test_hostile_unicode_in_the_address_is_refused_and_audited_like_any_wrong_address(conn):
    """NFKC lengthens some characters (U+FDFA becomes 18): the key is cut after normalising."""
    for login in ["\ufdfa" * 20 + "@example.com", "\ufdfa" * 40 + "@example.com", "x" * 10_000]:
        outcome = _try(conn, login, "wrong-guess-123")
        assert outcome.message == "The e-mail address or password is not correct."
    assert (
        count(
            conn,
            "select count(*) from audit.audit_log where action = 'sign_in_failed'"
            " and length(record_id) <= 254"
            " and timestamp = now()",
        )
        >= 3
    )


def test_one_client_address_is_limited_across_every_account(conn):
    for n in range(sessions.ADDRESS_ATTEMPTS):
        outcome = _try(conn, f"spray{n}@example.com", "Winter2026!!", ip="203.0.113.5")
        assert "not correct" in outcome.message, n
    assert "Too many" in _try(conn, "spray-last@example.com", "Winter2026!!", ip="203.0.113.5").message
    # An IPv6 client is limited by its /64, which one machine is usually given whole.
    for n in range(sessions.ADDRESS_ATTEMPTS):
        _try(conn, f"six{n}@example.com", "Winter2026!!", ip=f"2001:db8:1:2::{n + 1:x}")
    assert "Too many" in _try(conn, "six-last@example.com", "Winter2026!!", ip="2001:db8:1:2:ffff::1").message
    assert "not correct" in _try(conn, "six-last@example.com", "Winter2026!!", ip="2001:db8:1:3::1").message


def test_one_canonical_address_for_lookup_uniqueness_and_throttling(conn):
    """`vİewer@` (a capital dotted I) signed in as viewer@ under a throttle key of its own: the
    lookup folded case in SQL, the throttle in Python. Now one function, users.login_key, for all
    three: a variant either is the account (found, counted against it, refused as a duplicate) or
    is not (none of the three)."""
    user = make_user(conn, login="viewer-canon@example.com", password="the-real-passphrase")

    def key(login: str) -> str:
        return conn.execute(text("select users.login_key(:l)"), {"l": login}).scalar_one()

    def attempts(login: str) -> int:
        found = conn.execute(
            text("select attempts from auth.sign_in_attempts where key = 'account:' || :k"), {"k": key(login)}
        ).scalar()
        return found or 0

    canonical = key(user.login)
    variants = ["vİewer-canon@example.com", " Viewer-Canon@EXAMPLE.com ", "ｖiewer-canon@example.com"]
    assert key(variants[2]) == canonical, "NFKC: a full-width letter is the plain one"
    conflicts = 0
    for variant in variants:
        same = key(variant) == canonical
        found = users.find_user_by_login(conn, login=variant)
        assert (found is not None and found.id == user.id) == same, variant
        before = attempts(user.login)
        _try(conn, variant, "wrong-guess-123")
        assert attempts(user.login) == before + (1 if same else 0), variant
        if same:  # refused as the same address (or, outside the address format, as no address)
            with pytest.raises((Conflict, InvalidInput)) as refused:
                make_user(conn, login=variant)
            conflicts += isinstance(refused.value, Conflict)
    assert conflicts >= 1  # addresses are ASCII (users_login_email_check): the others are no address


def test_a_password_longer_than_the_policy_is_refused_without_hashing(conn, monkeypatch):
    user = make_user(conn, password="the-real-passphrase")
    hashed = []
    monkeypatch.setattr(users, "verify_password", lambda *a: hashed.append(a) or False)
    outcome = _try(conn, user.login, "x" * (users.MAX_PASSWORD_LENGTH + 1))
    assert outcome.message == "The e-mail address or password is not correct." and hashed == []


def test_a_user_signs_out_everywhere_else(conn):
    user, stranger = make_user(conn), make_user(conn)
    here, *others = open_sessions(conn, user, 3)
    (theirs,) = open_sessions(conn, stranger)
    with acting(conn, user):
        assert sessions.sign_out_other_sessions(conn, keep_session_id=here.session.id) == 2
    assert is_live(conn, here) and not any(is_live(conn, o) for o in others) and is_live(conn, theirs)
    ended = "select count(*) from audit.audit_log where action = 'sessions_ended' and actor_id = :u"
    assert count(conn, ended, u=user.id) == 1


def test_attempt_counters_older_than_a_day_are_dropped(conn):
    user = make_user(conn, password="the-real-passphrase")
    with acting(conn, None):
        conn.execute(
            text(
                "insert into auth.sign_in_attempts (key, attempts, window_started_at)"
                " values ('account:old@example.com', 3, now() - interval '2 days')"
            )
        )
    assert _try(conn, user.login, "the-real-passphrase").new is not None
    assert (
        count(conn, "select count(*) from auth.sign_in_attempts where key = 'account:old@example.com'") == 0
    )
