"""Writes timed with and without their audit triggers, and ingest (upload to staging, approval)
against the bare storage write."""

from __future__ import annotations

import io
import logging
import os
import shutil
import statistics
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

from sqlalchemy import Engine, text

from db.core.engine import system_transaction, transaction
from db.core.errors import Conflict, ProSyncError
from db.files import ingest, storage
from db.tools.bench.reads import require_scale_data
from db.tools.bench.report import (
    Context,
    Ratio,
)

log = logging.getLogger(__name__)
AUDIT_TRIGGERS = ("audit_insert", "audit_update", "audit_delete")


@contextmanager
def _unaudited(engine: Engine, table: str) -> Iterator[None]:
    """The table's audit (and history) triggers off, for the bare side of a ratio."""
    actions = ", ".join(f"disable trigger {t}" for t in AUDIT_TRIGGERS)
    with engine.begin() as conn:
        conn.execute(text(f"alter table {table} {actions}"))
    try:
        yield
    finally:
        with engine.begin() as conn:
            conn.execute(text(f"alter table {table} {actions.replace('disable', 'enable')}"))


def _throughput(engine: Engine, actor: int, statement: str, batches: list[dict], *, commit: bool) -> float:
    """Statements per second: each batch in its own transaction (committed or rolled back)."""
    started = time.perf_counter()
    for params in batches:
        with engine.connect() as conn:
            trans = conn.begin()
            conn.execute(text("select set_config('prosync.actor_id', :a, true)"), {"a": str(actor)})
            conn.execute(text(statement), params)
            trans.commit() if commit else trans.rollback()
    return len(batches) / (time.perf_counter() - started)


def _compare(
    engine: Engine, owner_engine: Engine, actor: int, statement: str, batches: list[dict], *, commit: bool
) -> tuple:
    """Audited and bare throughput over the same rows, in rounds that take turns going first (the
    side that goes second finds the rows' pages already in memory), so neither side is favoured."""
    audited, bare = [], []
    rounds = 4
    size = max(1, len(batches) // rounds)
    for r in range(rounds):
        for side in ("audited", "bare") if r % 2 == 0 else ("bare", "audited"):
            # A value of its own for each side: an update to the value a row already holds changes
            # nothing, and the audit rightly records nothing for it.
            chunk = [
                {**b, "d": f"{b['d']} {side}"} if "d" in b else b for b in batches[r * size : (r + 1) * size]
            ]
            if side == "audited":
                audited.append(_throughput(engine, actor, statement, chunk, commit=commit))
            else:
                with _unaudited(owner_engine, "documents.documents"):
                    bare.append(_throughput(engine, actor, statement, chunk, commit=commit))
    return statistics.median(audited), statistics.median(bare)


UPDATE_ONE = "update documents.documents set description = :d where id = :id"
UPDATE_MANY = "update documents.documents set description = :d where id = any(:ids)"
INSERT_MANY = (
    "insert into documents.documents (project_id, name, description, mime_type, checksum, uploaded_at,"
    " uploaded_by) select :p, 'bench ' || s.n || '.pdf', '', 'application/pdf', s.checksum, now(), :by"
    " from unnest(cast(:checksums as text[])) with ordinality s(checksum, n)"
)


def measure_writes(
    engine: Engine, ctx: Context, *, owner_engine: Engine, single: int = 2000, bulk: int = 40
) -> list[Ratio]:
    """Throughput of audited writes over the same writes with the audit triggers off."""
    with transaction(actor_id=None, engine=owner_engine) as conn:
        require_scale_data(conn)
        ids = list(
            conn.execute(
                text(
                    "select id from documents.documents where project_id = :p and deleted_at is null"
                    " order by id limit :n"
                ),
                {"p": ctx.project_id, "n": max(single, 1000 * bulk)},
            ).scalars()
        )
        # Contents the lead's project does not hold yet, for inserting documents (rolled back).
        foreign = list(
            conn.execute(
                text(
                    "select c.checksum from documents.contents c where not exists (select 1 from"
                    " documents.document_registry r where r.checksum = c.checksum and r.project_id = :p)"
                    " limit 1000"
                ),
                {"p": ctx.project_id},
            ).scalars()
        )
    stamp = datetime.now(UTC).isoformat(timespec="seconds")
    ratios = []
    one = [{"d": f"bench {stamp} {i}", "id": ids[i % len(ids)]} for i in range(single)]
    audited, bare = _compare(engine, owner_engine, ctx.lead_id, UPDATE_ONE, one, commit=True)
    ratios.append(
        Ratio("audited / unaudited, single-row update transactions", audited / bare, 0.8,
              f"{audited:,.0f} vs {bare:,.0f} transactions/s")
    )  # fmt: skip
    many = [
        {"d": f"bench {stamp} bulk {b}", "ids": [ids[(b * 1000 + k) % len(ids)] for k in range(1000)]}
        for b in range(bulk)
    ]
    audited, bare = _compare(engine, owner_engine, ctx.lead_id, UPDATE_MANY, many, commit=True)
    ratios.append(
        Ratio("audited / unaudited, 1,000-row update statements", audited / bare, 0.35,
              f"{audited * 1000:,.0f} vs {bare * 1000:,.0f} rows/s")
    )  # fmt: skip
    if len(foreign) == 1000:
        inserts = [{"p": ctx.project_id, "by": ctx.lead_id, "checksums": foreign} for _ in range(bulk)]
        audited, bare = _compare(engine, owner_engine, ctx.lead_id, INSERT_MANY, inserts, commit=False)
        ratios.append(
            Ratio("audited / unaudited, 1,000-row insert statements (rolled back)", audited / bare, 0.35,
                  f"{audited * 1000:,.0f} vs {bare * 1000:,.0f} rows/s")
        )  # fmt: skip
    return ratios


# --- ingest: upload to staging and approval, against the bare storage write ----------------------


# The names `bench_files` gives, and nothing the generator or a person would name a file.
BENCH_NAMES = r"^(bench|api)-[0-9]{5}[.]txt$"


def forget_bench_documents(owner_engine: Engine, project_id: int, uploader_id: int) -> int:
    """Remove what ingest measurements left in the project: the documents `bench_files` named that
    the benchmark's user uploaded (the lead; the generated documents are other users'), their
    staged rows, history and registry rows, the contents no other row uses, and those contents'
    objects in the store they are in. Each run then measures the same data set rather than one
    grown by every earlier run's uploads (tens of thousands of the newest rows of the biggest
    project, which every newest-first read walks past). The removal is audited like any other."""
    with system_transaction(engine=owner_engine) as conn:
        require_scale_data(conn)  # never on a real database, whatever its files are called
        ids = list(
            conn.execute(
                text(
                    "select id from documents.documents"
                    " where project_id = :p and uploaded_by = :by and name ~ :names"
                ),
                {"p": project_id, "by": uploader_id, "names": BENCH_NAMES},
            ).scalars()
        )
        if not ids:
            return 0
        for statement in (
            "delete from staging.documents_ingest where document_id = any(:ids)",
            "delete from documents.document_history where document_id = any(:ids)",
            "delete from documents.documents where id = any(:ids)",
        ):
            conn.execute(text(statement), {"ids": ids})
        checksums = list(
            conn.execute(
                text("delete from documents.document_registry where id = any(:ids) returning checksum"),
                {"ids": ids},
            ).scalars()
        )
        unused = conn.execute(
            text(
                "delete from documents.contents c where c.checksum = any(:cs)"
                " and not exists (select 1 from documents.document_registry r where r.checksum = c.checksum)"
                " and not exists (select 1 from staging.documents_ingest i where i.checksum = c.checksum)"
                " returning c.storage_code, c.object_key, c.checksum"
            ),
            {"cs": checksums},
        ).all()
        stores = {}
        for code in {row.storage_code for row in unused}:
            try:
                stores[code] = storage.store_for(conn, code)
                stores[code].check()
            except ProSyncError:  # a store that is gone (an earlier run's moto): nothing to remove there
                stores.pop(code, None)
    for row in unused:
        if row.storage_code in stores:
            stores[row.storage_code].delete(row.object_key)
            stores[row.storage_code].delete(storage.preview_key(row.checksum))
    return len(ids)


# What the benchmark's own writes churn: updated and removed documents, their registry, staged and
# history rows, their contents, and the audit rows of all of it.
CHURNED = (
    "documents.documents", "documents.document_registry", "documents.document_history",
    "documents.contents", "staging.documents_ingest", "audit.audit_log",
)  # fmt: skip


def _maintain(owner_engine: Engine, statement: str, failed: str) -> None:
    """A maintenance statement as the owner, outside a transaction; measured as it is if refused
    (an owner without the right on a managed server)."""
    try:
        with owner_engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text(statement))
    except Exception:
        log.warning(failed, exc_info=True)


def vacuum_churned(owner_engine: Engine) -> None:
    """VACUUM (ANALYZE) what the benchmark's writes churn, before reads are timed: a run measures a
    tidy data set, not the dead rows of the run before it (left to autovacuum, which an embedded
    server that runs only during the benchmark hardly gets to; newest-first reads walk straight
    into the newest rows the ingest measurement made and removed)."""
    _maintain(owner_engine, f"vacuum (analyze) {', '.join(CHURNED)}", "could not vacuum before the reads")


@contextmanager
def ingest_round(owner_engine: Engine, ctx: Context) -> Iterator[None]:
    """Around one ingest ratio: a checkpoint first (what was written before, the data set and the
    last round's clean-up, is flushed, so that neither side of the ratio pays for it), and the
    round's own uploads removed after it, also when it failed (while its store is still there)."""
    _maintain(owner_engine, "checkpoint", "no checkpoint before the ingest ratio")
    try:
        yield
    finally:
        forget_bench_documents(owner_engine, ctx.project_id, ctx.lead_id)


def bench_files(count: int, size: int, prefix: str = "bench") -> Iterator[tuple[str, bytes]]:
    """`count` distinct plain-text files of `size` bytes."""
    line = b"ProSync benchmark line: the quick brown fox jumps over the lazy dog.\n"
    body = (line * (size // len(line) + 1))[:size]
    for i in range(count):
        head = f"file {i} {os.urandom(8).hex()}\n".encode()
        yield f"{prefix}-{i:05d}.txt", head + body[len(head) :]


def measure_ingest(
    engine: Engine,
    ctx: Context,
    *,
    provider: str,
    count: int = 1000,
    size: int = 256 * 1024,
    workers: int = 4,
) -> Ratio:
    """Files per second through ingest (stage + approve, as the lead) over bare writes of the same
    bytes: boto3 put_object to the same endpoint for S3, a file copy for the local folder. Both
    sides store `workers` objects at a time, as `prosync ingest --workers` and any S3 client does;
    ingest goes in batches, as `prosync ingest` stages a folder and a reviewer approves a selection."""

    unit = _unit(engine, ctx.lead_id)
    with transaction(actor_id=ctx.lead_id, engine=engine) as conn:
        store = storage.upload_store(conn)
    if store.provider != provider:
        raise Conflict(f"The upload storage is {store.provider}, not {provider}.")
    # As `prosync ingest FOLDER` stages a folder and a reviewer approves a selection on the Review
    # screen: batches of ingest.BATCH, objects stored `workers` at a time.
    items = list(bench_files(count, size))
    started = time.perf_counter()
    for first in range(0, count, ingest.BATCH):
        batch = items[first : first + ingest.BATCH]
        staged = ingest.stage_files(
            unit,
            project_id=ctx.project_id,
            files=[ingest.FileToStage(name, io.BytesIO(data)) for name, data in batch],
            workers=workers,
        )
        if not all(o.status == "staged" for o in staged):
            raise Conflict(f"ingest refused a benchmark file: {[o.message for o in staged if not o.ok][:1]}")
        approved = ingest.approve_files(unit, ingest_ids=[o.staged.id for o in staged])
        if not all(o.status == "approved" for o in approved):
            raise Conflict(f"approval refused a benchmark file: {[o.message for o in approved][:1]}")
    product = count / (time.perf_counter() - started)
    bare, what = bare_rate(store, provider, count, size, workers)
    return Ratio(
        f"ingest (stage + approve) / {what}, {count:,} files of {size // 1024} KB, {provider}, "
        f"{workers} at a time",
        product / bare,
        0.5 if provider == "s3" else None,
        f"{product:,.1f} vs {bare:,.1f} files/s",
    )


def bare_rate(store, provider: str, count: int, size: int, workers: int) -> tuple[float, str]:
    """Files per second of the bare write of `count` files of `size` bytes, `workers` at a time:
    boto3 put_object to the store's endpoint for S3, a file copy with fsync into the store's folder."""

    def rate(action, items) -> float:
        started = time.perf_counter()
        with ThreadPoolExecutor(workers) as pool:
            list(pool.map(action, items))  # list(): re-raise the first failure
        return len(items) / (time.perf_counter() - started)

    bare_files = list(bench_files(count, size))
    if provider == "s3":
        client, bucket, prefix = store.client, store.bucket, store.prefix
        put = lambda item: client.put_object(Bucket=bucket, Key=f"{prefix}bench/{item[0]}", Body=item[1])  # noqa: E731
        return rate(put, bare_files), "boto3 put_object"
    store.root.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as source, tempfile.TemporaryDirectory(dir=store.root) as target:
        for name, data in bare_files:
            Path(source, name).write_bytes(data)

        def copy(item: tuple[str, bytes]) -> None:
            shutil.copyfile(Path(source, item[0]), Path(target, item[0]))
            with open(Path(target, item[0]), "rb+") as fh:
                os.fsync(fh.fileno())

        return rate(copy, bare_files), "file copy + fsync"


def _unit(engine: Engine, actor: int):

    return partial(transaction, actor_id=actor, engine=engine)
