"""db.domain.idempotency: a key is claimed once; a second claim learns it is running or gets the
first answer; another request with the key is a Conflict; an abandoned claim is taken over; keys
are each user's own."""

import pytest
from sqlalchemy import text

from db.core.errors import Conflict, InvalidInput
from db.domain import idempotency
from tests.conftest import acting, make_user


def test_a_key_is_claimed_once_then_answers_with_the_first_answer(conn):
    user = make_user(conn)
    with acting(conn, user):
        assert idempotency.claim_key(conn, key="k1", fingerprint="f").state == "new"
        assert idempotency.claim_key(conn, key="k1", fingerprint="f").state == "running"
        with pytest.raises(Conflict, match="another request"):
            idempotency.claim_key(conn, key="k1", fingerprint="other")
        idempotency.finish_key(conn, key="k1", status_code=200, response={"files": [1]})
        done = idempotency.claim_key(conn, key="k1", fingerprint="f")
        assert (done.state, done.status_code, done.response) == ("done", 200, {"files": [1]})


def test_a_released_or_abandoned_claim_lets_the_next_request_do_the_work(conn):
    user = make_user(conn)
    with acting(conn, user):
        idempotency.claim_key(conn, key="k2", fingerprint="f")
        idempotency.release_key(conn, key="k2")
        assert idempotency.claim_key(conn, key="k2", fingerprint="f").state == "new"
        conn.execute(
            text(
                "update auth.api_idempotency set created_at = now() - interval '16 minutes' where key = 'k2'"
            )
        )
        assert idempotency.claim_key(conn, key="k2", fingerprint="f").state == "new"
        assert idempotency.claim_key(conn, key="k2", fingerprint="f").state == "running"


def test_keys_are_each_users_own_and_must_be_printable(conn):
    alice, bob = make_user(conn), make_user(conn)
    with acting(conn, alice):
        idempotency.claim_key(conn, key="shared", fingerprint="a")
    with acting(conn, bob):
        assert idempotency.claim_key(conn, key="shared", fingerprint="b").state == "new"
        assert conn.execute(text("select count(*) from auth.api_idempotency")).scalar_one() == 1
        for bad in ("", "x" * 251, "tab\there", None):
            with pytest.raises(InvalidInput):
                idempotency.claim_key(conn, key=bad, fingerprint="b")
