"""Contents (the stored bytes, by SHA-256) shared by documents and staged files: where they are
stored, the per-content locks that serialise storing and removing them, and the claims an upload in
flight holds so that nothing removes an object it is about to use."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from sqlalchemy import Connection, text

# Held by a backup while it copies objects (exclusive), and by a purge before it removes one (shared).
BACKUP_LOCK_KEY = "hashtextextended('prosync.backup', 0)"


def lock_content(conn: Connection, *, checksum: str) -> None:
    """Serialise, until this transaction ends, every change to whether some content is stored."""
    lock_contents(conn, checksums=[checksum])


def lock_contents(conn: Connection, *, checksums: Sequence[str]) -> None:
    """`lock_content` for many, always in checksum order, so two batches sharing contents cannot deadlock."""
    if checksums:
        conn.execute(
            text(
                "select pg_advisory_xact_lock(hashtextextended(c, 0)) from unnest(cast(:cs as text[])) as c"
            ),
            {"cs": sorted(set(checksums))},
        )


def claim_contents(conn: Connection, *, checksums: Sequence[str]) -> list[int]:
    """Claim contents whose objects an upload is about to store, under their locks: until the claims
    are released (when the upload is recorded, or cleaned up), nothing removes those objects."""
    lock_contents(conn, checksums=checksums)
    return list(
        conn.execute(
            text(
                "insert into staging.upload_claims (checksum) select unnest(cast(:cs as text[])) returning id"
            ),
            {"cs": list(checksums)},
        ).scalars()
    )


def release_claims(conn: Connection, *, claim_ids: Sequence[int]) -> None:
    """Drop an upload's claims (in the transaction that records it, or that cleans it up)."""
    if claim_ids:
        conn.execute(text("delete from staging.upload_claims where id = any(:ids)"), {"ids": list(claim_ids)})


def claimed(conn: Connection, *, checksums: Sequence[str]) -> set[str]:
    """The contents among these that an upload in flight, anyone's, has claimed (one answer past
    row-level security, revision 0016: each user sees only their own claims)."""
    return set(
        conn.execute(
            text("select staging.claimed_checksums(cast(:cs as text[]))"), {"cs": list(checksums)}
        ).scalars()
    )


def drop_stale_claims(conn: Connection, *, older_than: timedelta) -> int:
    """Drop claims left by uploads that died (older than any upload takes); how many were dropped."""
    return conn.execute(
        text("delete from staging.upload_claims where claimed_at < now() - :age"), {"age": older_than}
    ).rowcount


def store_contents(
    conn: Connection,
    *,
    checksums: Sequence[str],
    sizes: Sequence[int],
    storage_codes: Sequence[str],
    object_keys: Sequence[str],
) -> dict:
    """Record where these contents are stored (those not recorded yet); checksum -> the recorded row
    (size, store, key), new or already there. Through documents.store_contents (revision 0016):
    prosync_app does not write documents.contents itself, and a member may only record the
    content-addressed key."""
    rows = conn.execute(
        text(
            "select * from documents.store_contents(cast(:c as text[]), cast(:size as bigint[]),"
            " cast(:storage as text[]), cast(:key as text[]))"
        ),
        {"c": list(checksums), "size": list(sizes), "storage": list(storage_codes), "key": list(object_keys)},
    )
    return {r.checksum: r for r in rows}


def stored_contents(conn: Connection, *, checksums: Sequence[str]) -> dict:
    """checksum -> (storage_code, object_key) of the contents among these already recorded, in any
    project (an upload of known bytes reuses their object)."""
    rows = conn.execute(
        text("select * from documents.stored_contents(cast(:cs as text[]))"), {"cs": list(checksums)}
    )
    return {r.checksum: r for r in rows}
