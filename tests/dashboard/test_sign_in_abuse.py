"""Sign-in under attack (dashboard/auth_routes.py over db/domain/sessions.py), with real threads
against the routes served by uvicorn on loopback (as `prosync serve` serves them): guesses sent at
once are counted before any is checked, and at most a few password checks run at once, the rest
answered 429 with Retry-After."""

from __future__ import annotations

import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx2 as httpx
import pytest
import uvicorn
from sqlalchemy import text

from db.core.engine import system_transaction
from db.domain import sessions, users
from db.tools.demo import DEMO_PASSWORD
from db.tools.processes import free_port, wait_until_up
from tests.dashboard.helpers import forget_attempts, routes_app
from tests.pages.helpers import scalar
from tests.waiting import wait_until


@pytest.fixture
def served(demo_env):
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(routes_app(), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    assert wait_until_up(url + "/auth/sign-in", seconds=30)
    yield url
    server.should_exit = True
    thread.join(10)
    forget_attempts()


class Checks:
    """users.verify_password, counted: how many ran, and how many at once at most."""

    def __init__(self, monkeypatch, *, seconds: float = 0.0):
        self.lock, self.calls, self.running, self.most = threading.Lock(), 0, 0, 0
        real = users.verify_password

        def counted(password_hash, password):
            with self.lock:
                self.calls += 1
                self.running += 1
                self.most = max(self.most, self.running)
            try:
                time.sleep(seconds)  # hold the slot a while, as a slow argon2 would
                return real(password_hash, password)
            finally:
                with self.lock:
                    self.running -= 1

        monkeypatch.setattr(users, "verify_password", counted)


def _attempt(url: str, email: str, password: str, cookies: dict | None = None) -> httpx.Response:
    with httpx.Client(base_url=url, cookies=cookies or {}) as client:
        form = client.get("/auth/sign-in")
        token = re.search(r'name="csrf" value="([^"]+)"', form.text).group(1)
        return client.post(
            "/auth/sign-in",
            data={"email": email, "password": password, "csrf": token},
            headers={"origin": url},
            follow_redirects=False,
        )


def _at_once(n: int, work) -> list:
    barrier = threading.Barrier(n)

    def go(i):
        barrier.wait()
        return work(i)

    with ThreadPoolExecutor(n) as pool:
        return list(pool.map(go, range(n)))


def test_forty_guesses_at_once_are_forty_attempts_and_only_five_are_checked(served, monkeypatch):
    """Found: 18 of 40 simultaneous wrong guesses were checked against the password, not 5 (the
    failures were counted, then written, with no lock between)."""
    checks = Checks(monkeypatch)
    since = scalar("select coalesce(max(id), 0) from audit.audit_log")
    answers = _at_once(40, lambda i: _attempt(served, "maria@example.com", f"wrong-guess-{i:02d}"))
    wrong = [a for a in answers if a.status_code == 401]
    throttled = [a for a in answers if a.status_code == 429 and "Too many failed sign-ins" in a.text]
    # An attempt that found every password check busy was answered at once and given back.
    busy = [a for a in answers if a.status_code == 429 and "Try again in a few seconds" in a.text]
    # A busy attempt's count is given back, so a later one may take its place: what never changes
    # is that no more than five passwords were checked, and every guess was answered.
    assert checks.calls == len(wrong) and 1 <= len(wrong) <= sessions.ACCOUNT_ATTEMPTS
    assert len(wrong) + len(busy) + len(throttled) == 40
    assert len(throttled) >= 40 - sessions.ACCOUNT_ATTEMPTS - len(busy)
    if not busy:
        assert len(wrong) == sessions.ACCOUNT_ATTEMPTS
    audited = scalar(
        "select count(*) from audit.audit_log where action = 'sign_in_failed'"
        " and record_id = 'maria@example.com' and id > :since",
        since=since,
    )
    assert audited == len(wrong)


def test_at_most_a_few_password_checks_run_at_once_and_the_rest_are_told_to_retry(served, monkeypatch):
    """Found: 16 sign-ins at once for addresses that do not exist took the server to 1 GB (argon2id
    at 64 MiB each) and a real person's sign-in to 2 s."""
    limit = sessions.get_settings().sign_in_concurrency
    checks = Checks(monkeypatch, seconds=0.5)
    answers = _at_once(16, lambda i: _attempt(served, f"nobody-{i}@example.com", "a-guess-12345"))
    busy = [a for a in answers if a.status_code == 429]
    assert checks.most <= limit
    assert busy and all(int(a.headers["retry-after"]) >= 1 for a in busy)
    assert all("Try again in a few seconds" in a.text for a in busy)
    assert len(busy) + checks.calls == 16

    # A busy answer did not count against anyone: the real person, retrying, gets in.
    def answered():  # None while every password check is busy (429)
        answer = _attempt(served, "maria@example.com", DEMO_PASSWORD)
        return answer if answer.status_code != 429 else None

    response = wait_until(answered, timeout=20, interval=0.2, what="a free check for maria's sign-in")
    assert response.status_code == 303


def test_a_password_longer_than_the_policy_is_refused_before_it_is_hashed(served, monkeypatch):
    checks = Checks(monkeypatch)
    response = _attempt(served, "maria@example.com", "x" * (users.MAX_PASSWORD_LENGTH + 1))
    assert response.status_code == 401 and checks.calls == 0
    with system_transaction() as conn:
        attempts = conn.execute(
            text("select attempts from auth.sign_in_attempts where key = 'account:maria@example.com'")
        ).scalar_one()
    assert attempts == 1, "it still counts as an attempt"
