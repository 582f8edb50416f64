"""db.domain.contents: where each content (the bytes, by SHA-256) is stored, recorded once and found
across projects; the claims an upload in flight holds; the per-content locks."""

from datetime import timedelta

import pytest
from sqlalchemy import text

from db.core.errors import InvalidInput
from db.core.sql import domain_errors
from db.domain import contents
from db.files import storage
from tests.conftest import acting, count, make_checksum, make_project, make_user


def test_database_refuses_zero_size_even_outside_the_app(conn):
    with pytest.raises(Exception, match="contents_size_positive"):
        conn.execute(
            text(
                "insert into documents.contents (checksum, size_bytes, storage_code, object_key)"
                " values (:c, 0, 'local', 'k')"
            ),
            {"c": make_checksum()},
        )


def test_a_content_is_recorded_once_and_its_object_found_from_any_project(conn):
    owner, stranger = make_user(conn), make_user(conn)
    make_project(conn, owner=owner)
    make_project(conn, owner=stranger)
    checksum = make_checksum()
    key = storage.object_key(checksum)
    with acting(conn, owner):
        first = contents.store_contents(
            conn, checksums=[checksum], sizes=[10], storage_codes=["local"], object_keys=[key]
        )
        again = contents.store_contents(
            conn, checksums=[checksum], sizes=[11], storage_codes=["local"], object_keys=[key]
        )
    assert (first[checksum].size_bytes, first[checksum].object_key) == (10, key)
    assert again[checksum].size_bytes == 10, "the row already recorded, not a second one"
    assert count(conn, "select count(*) from documents.contents where checksum = :c", c=checksum) == 1
    with acting(conn, stranger):  # an upload of the same bytes into another project reuses the object
        found = contents.stored_contents(conn, checksums=[checksum, make_checksum()])
    assert {c: (r.storage_code, r.object_key) for c, r in found.items()} == {checksum: ("local", key)}


def test_a_member_records_a_content_only_under_its_own_object_key(conn):
    owner = make_user(conn)
    make_project(conn, owner=owner)
    checksum = make_checksum()
    with acting(conn, owner), pytest.raises(InvalidInput, match="content's own"), domain_errors():
        contents.store_contents(
            conn, checksums=[checksum], sizes=[10], storage_codes=["local"], object_keys=["elsewhere/x"]
        )
    assert count(conn, "select count(*) from documents.contents where checksum = :c", c=checksum) == 0


def test_a_claimed_content_stays_claimed_for_everyone_until_every_claim_is_released(conn):
    owner, stranger = make_user(conn), make_user(conn)
    make_project(conn, owner=owner)
    checksum, other = make_checksum(), make_checksum()
    with acting(conn, owner):
        first = contents.claim_contents(conn, checksums=[checksum])
        second = contents.claim_contents(conn, checksums=[checksum])  # a second upload of the same bytes
    with acting(conn, stranger):  # past row-level security: whoever's upload holds it
        assert contents.claimed(conn, checksums=[checksum, other]) == {checksum}
    with acting(conn, owner):
        contents.release_claims(conn, claim_ids=first)
        assert contents.claimed(conn, checksums=[checksum]) == {checksum}, "the second upload still holds it"
        contents.release_claims(conn, claim_ids=second)
        assert contents.claimed(conn, checksums=[checksum]) == set()


def test_only_claims_older_than_the_given_age_are_dropped(conn):
    stale, fresh = make_checksum(), make_checksum()
    with acting(conn, None):  # as `prosync reconcile --fix` does it
        [old] = contents.claim_contents(conn, checksums=[stale])
        contents.claim_contents(conn, checksums=[fresh])
        conn.execute(
            text("update staging.upload_claims set claimed_at = now() - interval '3 hours' where id = :id"),
            {"id": old},
        )
        assert contents.drop_stale_claims(conn, older_than=timedelta(hours=2)) >= 1
        assert contents.claimed(conn, checksums=[stale, fresh]) == {fresh}


def test_a_locked_content_is_held_against_every_other_transaction(conn, engine):
    a, b, free = make_checksum(), make_checksum(), make_checksum()
    contents.lock_contents(conn, checksums=[b, a, b])
    contents.lock_content(conn, checksum=a)  # again, in the same transaction: no wait
    try_lock = text("select pg_try_advisory_xact_lock(hashtextextended(:c, 0))")
    with engine.connect() as other:
        assert [other.execute(try_lock, {"c": c}).scalar_one() for c in (a, b, free)] == [False, False, True]
        other.rollback()
