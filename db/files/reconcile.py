"""Storage against the database: orphan objects, rows whose object is missing, and (verify) corruption."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import Connection, text

from db.core.errors import NotFound, ProSyncError
from db.domain import contents
from db.files import storage

log = logging.getLogger(__name__)


@dataclass
class Finding:
    kind: str  # orphan, missing, relinked, corrupt, removed, unreachable
    store: str
    key: str
    detail: str = ""


@dataclass
class Report:
    objects_seen: int = 0
    rows_seen: int = 0
    verified: int = 0
    stale_claims_dropped: int = 0
    findings: list[Finding] = field(default_factory=list)

    def of(self, kind: str) -> list[Finding]:
        return [f for f in self.findings if f.kind == kind]

    @property
    def clean(self) -> bool:
        return not any(f.kind in ("orphan", "missing", "corrupt", "unreachable") for f in self.findings)


def _stores(conn: Connection, settings) -> list[storage.ObjectStore]:
    """Every store this installation can reach: the local folder always, S3 when a bucket is set."""
    stores = []
    for code, provider in sorted(storage.providers(conn).items()):
        if provider == "s3" and not settings.s3_bucket:
            continue
        stores.append(storage.make_store(code, provider, settings))
    return stores


def _references(conn: Connection, checksum: str) -> str:
    row = conn.execute(
        text(
            "select (select count(*) from documents.document_registry where checksum = :c) as documents,"
            " (select count(*) from staging.documents_ingest where checksum = :c) as staged"
        ),
        {"c": checksum},
    ).one()
    return f"{row.documents} document(s) and {row.staged} staged file(s) refer to it"


def reconcile(
    unit: Callable,
    *,
    fix: bool = False,
    verify: bool = False,
    grace: timedelta = timedelta(hours=1),
    settings=None,
    progress: Callable[[str], None] | None = None,
) -> Report:
    """Compare every store with `documents.contents`; `fix` removes old orphans and re-links moved rows."""
    from db.core.settings import get_settings

    settings = settings or get_settings()
    report = Report()
    with unit() as conn:
        if fix:  # claims of uploads that died: they kept their objects long enough
            report.stale_claims_dropped = contents.drop_stale_claims(conn, older_than=grace)
        stores = _stores(conn, settings)
        rows = conn.execute(
            text("select checksum, size_bytes, storage_code, object_key from documents.contents")
        ).all()
    report.rows_seen = len(rows)
    listed: dict[str, dict[str, storage.ObjectInfo]] = {}
    for store in stores:
        try:
            listed[store.code] = {
                o.key: o
                for prefix in (storage.CONTENT_PREFIX, storage.PREVIEW_PREFIX)
                for o in store.list_objects(prefix)
            }
        except ProSyncError as error:
            report.findings.append(Finding("unreachable", store.code, "", str(error)))
        report.objects_seen += len(listed.get(store.code, {}))
    by_code = {s.code: s for s in stores}
    known = {(r.storage_code, r.object_key) for r in rows}
    contents_by_checksum = {r.checksum: r for r in rows}

    for row in rows:
        objects = listed.get(row.storage_code)
        if objects is None:
            continue  # store not configured or unreachable: reported above
        if row.object_key in objects:
            if objects[row.object_key].size_bytes != row.size_bytes:
                report.findings.append(
                    Finding(
                        "corrupt",
                        row.storage_code,
                        row.object_key,
                        f"{objects[row.object_key].size_bytes:,} bytes stored, {row.size_bytes:,} recorded",
                    )
                )
            elif verify:
                _verify(by_code[row.storage_code], row, report, progress)
            continue
        elsewhere = next(
            (code for code, objs in listed.items() if code != row.storage_code and row.object_key in objs),
            None,
        )
        if elsewhere and fix:
            with unit() as conn:
                contents.lock_content(conn, checksum=row.checksum)
                conn.execute(
                    text("update documents.contents set storage_code = :s where checksum = :c"),
                    {"s": elsewhere, "c": row.checksum},
                )
            known.add((elsewhere, row.object_key))
            report.findings.append(
                Finding("relinked", elsewhere, row.object_key, f"was recorded in {row.storage_code}")
            )
            continue
        with unit() as conn:
            refs = _references(conn, row.checksum)
        hint = f"; found in {elsewhere} (run with --fix to re-link)" if elsewhere else ""
        report.findings.append(Finding("missing", row.storage_code, row.object_key, refs + hint))

    cutoff = datetime.now(UTC) - grace
    for code, objects in listed.items():
        for key, info in objects.items():
            if (code, key) in known:
                continue
            checksum = storage.checksum_of_key(key)
            if key.startswith(storage.PREVIEW_PREFIX) and checksum in contents_by_checksum:
                if contents_by_checksum[checksum].storage_code == code:
                    continue  # the preview of stored content
            young = info.modified_at > cutoff
            detail = f"{info.size_bytes:,} bytes, stored {info.modified_at:%Y-%m-%d %H:%M} UTC"
            if fix and not young:
                _remove_orphan(unit, by_code[code], key, checksum, report)
            else:
                note = " (younger than the grace period: may be an upload in flight)" if young else ""
                report.findings.append(Finding("orphan", code, key, detail + note))
    return report


def _verify(store: storage.ObjectStore, row, report: Report, progress) -> None:
    try:
        with store.open(row.object_key) as stream:
            checksum, size = storage.hash_stream(stream)
    except (NotFound, ProSyncError) as error:
        report.findings.append(Finding("unreachable", store.code, row.object_key, str(error)))
        return
    report.verified += 1
    if progress:
        progress(row.object_key)
    if checksum != row.checksum or size != row.size_bytes:
        report.findings.append(
            Finding(
                "corrupt",
                store.code,
                row.object_key,
                f"SHA-256 {checksum[:12]}… and {size:,} bytes read; {row.checksum[:12]}… and"
                f" {row.size_bytes:,} bytes recorded",
            )
        )


def _remove_orphan(unit, store: storage.ObjectStore, key: str, checksum: str | None, report: Report) -> None:
    """Remove an orphan under the content lock, after checking again that no row refers to it and no
    upload in flight claims it."""
    with unit() as conn:
        if checksum:
            contents.lock_content(conn, checksum=checksum)
        recorded = conn.execute(
            text("select 1 from documents.contents where storage_code = :s and object_key = :k"),
            {"s": store.code, "k": key},
        ).one_or_none()
        if checksum and contents.claimed(conn, checksums=[checksum]):
            report.findings.append(Finding("orphan", store.code, key, "an upload in flight claims it"))
        elif recorded is None and not (
            key.startswith(storage.PREVIEW_PREFIX) and _content_in(conn, checksum, store)
        ):
            store.delete(key)
            report.findings.append(Finding("removed", store.code, key, "orphan removed"))


def _content_in(conn: Connection, checksum: str | None, store: storage.ObjectStore) -> bool:
    return checksum is not None and bool(
        conn.execute(
            text("select 1 from documents.contents where checksum = :c and storage_code = :s"),
            {"c": checksum, "s": store.code},
        ).one_or_none()
    )
