"""`prosync bench`: every screen's queries timed on the scale data set, as the data-access module
issues them; writes with and without their audit triggers, ingest against raw storage writes.

It prints figures and never fails on timing: targets are shown beside the figures, and a missed one
is a finding to explain in docs/benchmarks.md, not a red test.
"""

from __future__ import annotations

import logging
import os
import platform
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import Connection, Engine, text

from db import access, audit, documents, ops, partitions, projects, staging, tags
from db.engine import read_only, transaction
from db.errors import Conflict
from db.generate import GENERATED_DOMAIN
from db.types import Cursor

log = logging.getLogger(__name__)

PAGE = 50


@dataclass(frozen=True)
class Context:
    """Who and what the queries run for, picked once from the data set."""

    lead_id: int
    admin_id: int
    ops_id: int
    project_id: int  # the biggest project the lead maintains
    project_documents: int
    page_200: Cursor  # the last row of page 199 of that project's active documents
    tag_id: int
    mime_type: str
    date_from: datetime
    date_to: datetime
    search: str  # a word many names hold
    rare_search: str  # digits only a few names hold


@dataclass(frozen=True)
class Case:
    screen: str
    label: str
    actor: str  # lead, admin or ops
    run: Callable[[Connection, Context], object]
    target_ms: float | None = None  # p95
    index: str | None = None  # the index the plan should use (a partitioned index by its parent's name)
    pruning: bool = False  # whether the plan should read only some partitions


@dataclass
class Timing:
    screen: str
    label: str
    target_ms: float | None
    median_ms: float
    p95_ms: float
    rows: int | None  # None for a render
    partitions: str  # "7/43 audit.audit_log", or "" when no partitioned table was read
    pruned: bool | None  # None when pruning was not asked for
    indexes: list[str]
    index_used: bool | None  # None when no index was asked for

    @property
    def within(self) -> bool | None:
        return None if self.target_ms is None else self.p95_ms <= self.target_ms


@dataclass
class Ratio:
    label: str
    measured: float  # throughput of the product path / throughput of the bare path
    target: float | None
    detail: str

    @property
    def within(self) -> bool | None:
        return None if self.target is None else self.measured >= self.target


@dataclass
class Report:
    scale: str
    runs: int
    machine: str
    server: str
    read_replica: bool
    started_at: str
    timings: list[Timing] = field(default_factory=list)
    ratios: list[Ratio] = field(default_factory=list)
    renders: list[Timing] = field(default_factory=list)
    memory_mb: float | None = None
    notes: list[str] = field(default_factory=list)


def _rows(result: object) -> int:
    if result is None:
        return 1
    if hasattr(result, "rows"):
        return len(result.rows)
    if isinstance(result, tuple | list):
        return (
            sum(_rows(r) for r in result) if result and isinstance(result[0], tuple | list) else len(result)
        )
    try:
        return len(result)  # DataFrames and the like
    except TypeError:
        return 1


def _ops_tabs(conn: Connection, _ctx: Context) -> list:
    """Every query the ops screen's tabs issue, except the Explain tab's (the screens' own queries)."""
    return [
        ops.health_checks(conn),
        ops.table_stats(conn),
        ops.index_stats(conn),
        partitions.partition_status(conn),
        ops.top_queries(conn).frame,
        ops.explain_sample(conn),
        ops.activity(conn),
        ops.session_summary(conn).active,
        ops.server_settings(conn),
        ops.writer_stats(conn),
        ops.maintenance_progress(conn),
        ops.vacuum_queue(conn),
        ops.schema_state(conn),
        ops.schema_changes(conn).events,
        ops.database_roles(conn),
        ops.role_memberships(conn),
        ops.constraints(conn),
        ops.views(conn),
        ops.schema_graph(conn).relations,
    ]


def cases() -> list[Case]:
    """The queries each screen issues, with the issue's targets (p95, ms) where it sets one."""
    return [
        Case("Onboarding", "summary, a lead's 50 projects", "lead",
             lambda c, x: projects.onboarding_summary(c), 100),
        Case("Onboarding", "summary, every project (admin)", "admin",
             lambda c, x: projects.onboarding_summary(c), 300),
        Case("Onboarding", "uploads per week, 26 weeks", "lead",
             lambda c, x: documents.uploads_per_week(c, weeks=26), None, None, True),
        Case("Onboarding", "project history, 20 rows", "lead",
             lambda c, x: projects.project_history(c, project_id=x.project_id, limit=20)),
        Case("Documents", "one project, first page", "lead",
             lambda c, x: documents.list_active_documents(c, project_id=x.project_id), 10,
             "idx_documents_project_date"),
        Case("Documents", "one project, 200th page (keyset)", "lead",
             lambda c, x: documents.list_active_documents(c, project_id=x.project_id, after=x.page_200), 10,
             "idx_documents_project_date", True),
        Case("Documents", "filtered by tag, type and 90 days", "lead",
             lambda c, x: documents.list_active_documents(
                 c, tag_id=x.tag_id, mime_type=x.mime_type, uploaded_from=x.date_from, uploaded_to=x.date_to),
             50, "documents_uploaded_idx", True),
        Case("Documents", "name search, a common word, the lead's projects", "lead",
             lambda c, x: documents.list_active_documents(c, name_contains=x.search), 100,
             "documents_uploaded_idx"),
        Case("Documents", "name search, a common word, every project (admin)", "admin",
             lambda c, x: documents.list_active_documents(c, name_contains=x.search), 100,
             "documents_uploaded_idx"),
        Case("Documents", "name search, a rare number, every project (admin)", "admin",
             lambda c, x: documents.list_active_documents(c, name_contains=x.rare_search), 100,
             "documents_name_trgm_idx"),
        Case("Audit trail", "one project, last 30 days, 100 rows", "lead",
             lambda c, x: audit.audit_trail(
                 c, project_id=x.project_id, since=datetime.now(UTC) - timedelta(days=30), limit=100),
             20, "audit_log_project_time_idx", True),
        Case("Review", "review queue, first page", "lead", lambda c, x: staging.list_pending(c), 10,
             "documents_ingest_queue_idx"),
        Case("Review", "rejected files, first page", "lead", lambda c, x: staging.list_rejected(c), None,
             "documents_ingest_rejected_idx"),
        Case("Access", "permission check (can_view)", "lead",
             lambda c, x: access.require_permission(c, project_id=x.project_id, permission="can_view"), 1),
        Case("Access", "members of a project", "lead",
             lambda c, x: access.list_members(c, project_id=x.project_id)),
        Case("Tags", "tag usage", "lead", lambda c, x: tags.tag_usage(c)),
        Case("Ops", "all tabs' queries together", "ops", _ops_tabs, 1000),
    ]  # fmt: skip


def context(conn: Connection) -> Context:
    """The lead, admin and ops accounts of the generated data set, and the lead's biggest project."""
    ids = dict(
        conn.execute(
            text(
                "select login, id from users.users"
                " where login in ('lead@example.com', 'admin@example.com', 'ops@example.com')"
            )
        ).all()
    )
    if len(ids) < 3:
        raise Conflict("No scale data set here: run `prosync generate --scale …` first (or `prosync bench`).")
    project = conn.execute(
        text(
            "select a.project_id, count(*) as n from projects.project_access a"
            " join documents.document_registry r on r.project_id = a.project_id"
            " where a.user_id = :lead group by 1 order by 2 desc, 1 limit 1"
        ),
        {"lead": ids["lead@example.com"]},
    ).one()
    page = conn.execute(
        text(
            "select uploaded_at, id from documents.active_documents where project_id = :p"
            " order by uploaded_at desc, id desc offset :skip limit 1"
        ),
        {"p": project.project_id, "skip": 199 * PAGE - 1},
    ).one()
    tag = conn.execute(
        text(
            "select t.tag_id from projects.project_tag t join projects.project_access a"
            " on a.project_id = t.project_id and a.user_id = :lead"
            " group by 1 order by count(*) desc, 1 limit 1"
        ),
        {"lead": ids["lead@example.com"]},
    ).scalar_one()
    # A name as `prosync generate` makes them, never one of the benchmark's own uploads
    # (bench-00001.txt …), which a run leaves as the project's newest documents:
    # "brief-memo-907578.png" gives a vocabulary word held by a tenth of all names ("brie") and a
    # number held by a handful ("07578").
    newest = conn.execute(
        text(
            "select name from documents.documents where project_id = :p"
            " and name ~ '^[a-z]+-[a-z]+-[0-9]+[.][a-z]+$' order by uploaded_at desc limit 1"
        ),
        {"p": project.project_id},
    ).scalar_one()
    digits = "".join(ch for ch in newest if ch.isdigit())
    now = datetime.now(UTC)
    return Context(
        lead_id=ids["lead@example.com"],
        admin_id=ids["admin@example.com"],
        ops_id=ids["ops@example.com"],
        project_id=project.project_id,
        project_documents=project.n,
        page_200=Cursor(page.uploaded_at, page.id),
        tag_id=tag,
        mime_type="application/pdf",
        date_from=now - timedelta(days=90),
        date_to=now,
        search=newest[:4],
        rare_search=digits[-5:] or newest[:8],
    )


def _actor(ctx: Context, who: str) -> int:
    return {"lead": ctx.lead_id, "admin": ctx.admin_id, "ops": ctx.ops_id}[who]


def percentile(values: list[float], fraction: float) -> float:
    """The nearest-rank percentile (0.95: the p95 the benchmark and the load run print)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(fraction * len(ordered) + 0.5) - 1))]


def time_case(engine: Engine, ctx: Context, case: Case, runs: int) -> Timing:
    """Warm once, then time `runs` calls, each in its own read-only transaction as a screen does it;
    then EXPLAIN (ANALYZE) the statements that fetch what the screen shows."""
    actor = _actor(ctx, case.actor)
    samples = []
    result = None
    for attempt in range(runs + 1):
        with read_only(actor_id=actor, engine=engine) as conn:
            started = time.perf_counter()
            result = case.run(conn, ctx)
            elapsed = (time.perf_counter() - started) * 1000
        if attempt:  # the first call warms the cache and the connection
            samples.append(elapsed)
    partitions, pruned, indexes, used = "", None, [], None
    if case.index or case.pruning:
        with read_only(actor_id=actor, engine=engine) as conn:
            statements = ops.explain_call(conn, lambda c: case.run(c, ctx))
        # What fetches the rows: the last statement, and every one that read a partitioned table (a
        # list across projects reads one quarter per statement; see documents.list_active_documents).
        fetching = [st for st in statements[:-1] if st.partitions] + [statements[-1]]
        indexes = sorted({name for st in fetching for name in st.indexes})
        used = None if case.index is None else case.index in indexes
        read: dict[str, list[int]] = {}
        for st in fetching:
            for parent, (count, total) in st.partitions.items():
                read.setdefault(parent, [0, total])[0] += count
        partitions = ", ".join(f"{min(n, total)}/{total} {parent}" for parent, (n, total) in read.items())
        if case.pruning:
            pruned = bool(read) and all(n < total for n, total in read.values())
    return Timing(
        screen=case.screen,
        label=case.label,
        target_ms=case.target_ms,
        median_ms=statistics.median(samples),
        p95_ms=percentile(samples, 0.95),
        rows=_rows(result),
        partitions=partitions,
        pruned=pruned,
        indexes=indexes,
        index_used=used,
    )


# --- writes: audited against the same writes with the audit triggers switched off ---------------

AUDIT_TRIGGERS = ("audit_insert", "audit_update", "audit_delete")


def require_scale_data(conn: Connection) -> None:
    """The write measurements switch triggers off for a moment: never on a real database."""
    generated = conn.execute(
        text("select exists (select 1 from users.users where login like :pattern)"),
        {"pattern": f"%@{GENERATED_DOMAIN}"},
    ).scalar_one()
    if not generated:
        raise Conflict(
            "This database does not hold a generated data set: the benchmark measures writes by "
            "switching audit triggers off for a moment, so it only runs on `prosync generate` data."
        )


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


def _files(count: int, size: int) -> Iterator[tuple[str, bytes]]:
    """`count` distinct plain-text files of `size` bytes."""
    line = b"ProSync benchmark line: the quick brown fox jumps over the lazy dog.\n"
    body = (line * (size // len(line) + 1))[:size]
    for i in range(count):
        head = f"file {i} {os.urandom(8).hex()}\n".encode()
        yield f"bench-{i:05d}.txt", head + body[len(head) :]


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
    import io
    from concurrent.futures import ThreadPoolExecutor

    from db import ingest, storage

    unit = _unit(engine, ctx.lead_id)
    with transaction(actor_id=ctx.lead_id, engine=engine) as conn:
        store = storage.upload_store(conn)
    if store.provider != provider:
        raise Conflict(f"The upload storage is {store.provider}, not {provider}.")

    def rate(action, items) -> float:
        started = time.perf_counter()
        with ThreadPoolExecutor(workers) as pool:
            list(pool.map(action, items))  # list(): re-raise the first failure
        return len(items) / (time.perf_counter() - started)

    # As `prosync ingest FOLDER` stages a folder and a reviewer approves a selection on the Review
    # screen: batches of ingest.BATCH, objects stored `workers` at a time.
    items = list(_files(count, size))
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
    bare_files = list(_files(count, size))
    if provider == "s3":
        client, bucket, prefix = store.client, store.bucket, store.prefix
        bare = rate(
            lambda item: client.put_object(Bucket=bucket, Key=f"{prefix}bench/{item[0]}", Body=item[1]),
            bare_files,
        )
        what = "boto3 put_object"
    else:
        with tempfile.TemporaryDirectory() as source, tempfile.TemporaryDirectory(dir=store.root) as target:
            for name, data in bare_files:
                Path(source, name).write_bytes(data)

            def copy(item: tuple[str, bytes]) -> None:
                shutil.copyfile(Path(source, item[0]), Path(target, item[0]))
                with open(Path(target, item[0]), "rb+") as fh:
                    os.fsync(fh.fileno())

            bare = rate(copy, bare_files)
        what = "file copy + fsync"
    return Ratio(
        f"ingest (stage + approve) / {what}, {count:,} files of {size // 1024} KB, {provider}, "
        f"{workers} at a time",
        product / bare,
        0.5 if provider == "s3" else None,
        f"{product:,.1f} vs {bare:,.1f} files/s",
    )


def _unit(engine: Engine, actor: int):
    from functools import partial

    return partial(transaction, actor_id=actor, engine=engine)


# --- the report ---------------------------------------------------------------------------------


def machine() -> str:
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1024**3
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{os.cpu_count()} cores ({cpu}), {memory:.0f} GB, {platform.system()} {platform.release()}"


def server_version(engine: Engine) -> str:
    with engine.connect() as conn:
        return conn.execute(text("select current_setting('server_version')")).scalar_one()


def _mark(within: bool | None) -> str:
    return "" if within is None else ("ok" if within else "MISSED")


def table(report: Report) -> str:
    """The report as a Markdown table (what the terminal shows and docs/benchmarks.md keeps)."""
    lines = [
        "| screen | query | rows | median ms | p95 ms | target p95 | | partitions read | index |",
        "| --- | --- | ---: | ---: | ---: | ---: | --- | --- | --- |",
    ]
    for t in report.timings + report.renders:
        target = "" if t.target_ms is None else f"≤ {t.target_ms:g}"
        index = (
            ", ".join(t.indexes)
            if t.index_used is None
            else f"{'yes' if t.index_used else 'NO'}: " + (", ".join(t.indexes) or "none")
        )
        pruning = t.partitions + ("" if t.pruned is None else (" (pruned)" if t.pruned else " (NOT pruned)"))
        rows = "" if t.rows is None else f"{t.rows:,}"
        lines.append(
            f"| {t.screen} | {t.label} | {rows} | {t.median_ms:,.2f} | {t.p95_ms:,.2f} | {target} "
            f"| {_mark(t.within)} | {pruning} | {index} |"
        )
    if report.ratios:
        lines += ["", "| ratio | measured | target | | detail |", "| --- | ---: | ---: | --- | --- |"]
        for r in report.ratios:
            target = "" if r.target is None else f"≥ {r.target:g}"
            lines.append(f"| {r.label} | {r.measured:.2f} | {target} | {_mark(r.within)} | {r.detail} |")
    if report.memory_mb is not None:
        lines += [
            "",
            f"Streamlit server RSS after visiting every screen: {report.memory_mb:,.0f} MB (target ≤ 400)",
        ]
    return "\n".join(lines)


def as_json(report: Report) -> dict:
    data = asdict(report)
    for key in ("timings", "renders"):
        for item, timing in zip(data[key], getattr(report, key), strict=True):
            item["within_target"] = timing.within
    for item, ratio in zip(data["ratios"], report.ratios, strict=True):
        item["within_target"] = ratio.within
    return data


def summary(report: Report) -> str:
    """The section appended to docs/benchmarks.md for this run."""
    replica = " reads on a streaming replica;" if report.read_replica else ""
    head = (
        f"\n## {report.started_at}: `--scale {report.scale} --runs {report.runs}`\n\n"
        f"{report.machine}; PostgreSQL {report.server};{replica} warm cache.\n\n"
    )
    notes = "".join(f"\n- {n}" for n in report.notes)
    return head + table(report) + ("\n" + notes if notes else "") + "\n"


@contextmanager
def moto_endpoint() -> Iterator[bool]:
    """Uploads go to a fresh bucket on moto's S3 server on loopback for the block (a real S3 HTTP
    endpoint in a process of its own, as S3 is; the bare put_object writes to the same one);
    False when moto is not installed."""
    import subprocess
    import sys

    try:
        import moto.server  # noqa: F401
    except ImportError:
        yield False
        return
    import boto3

    from db.settings import get_settings

    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    endpoint = f"http://127.0.0.1:{port}"
    values = {
        "PROSYNC_STORAGE": "s3", "PROSYNC_S3_ENDPOINT_URL": endpoint, "PROSYNC_S3_BUCKET": "prosync-bench",
        "PROSYNC_S3_PREFIX": "bench", "PROSYNC_S3_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench",
    }  # fmt: skip
    saved = {name: os.environ.get(name) for name in values}
    try:
        if not wait_until_up(endpoint + "/moto-api/", seconds=30):
            raise Conflict("moto's S3 server did not come up within 30 s.")
        os.environ.update(values)
        get_settings.cache_clear()
        boto3.client(
            "s3", endpoint_url=endpoint, region_name="us-east-1",
            aws_access_key_id="bench", aws_secret_access_key="bench",
        ).create_bucket(Bucket="prosync-bench")  # fmt: skip
        yield True
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        get_settings.cache_clear()
        server.terminate()
        server.wait(10)


def free_port() -> int:
    """A loopback port that nothing listens on right now."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until_up(url: str, *, seconds: float) -> bool:
    """Whether `url` answered within `seconds` (asked every 0.2 s)."""
    import urllib.request

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url, timeout=2)
            return True
        except OSError:
            time.sleep(0.2)
    return False


def run(
    *,
    scale: str,
    runs: int,
    engine: Engine,
    read_engine: Engine,
    owner_engine: Engine | None = None,
    files: int = 1000,
    workers: int = 4,
    writes: bool = True,
    ingest: bool = True,
    progress: Callable[[str], None] = lambda line: None,
) -> Report:
    """Every screen query on the read engine; writes and ingest on the primary. The sample (and the
    audit triggers' switch for the bare side of the write ratios) needs the owner's engine, whom
    row-level security does not limit; `engine` is the application's."""
    owner_engine = owner_engine or engine
    report = Report(
        scale=scale,
        runs=runs,
        machine=machine(),
        server=server_version(read_engine),
        read_replica=read_engine is not engine,
        started_at=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
    )
    with read_only(actor_id=None, engine=owner_engine) as conn:
        conn.info["system"] = True  # picking the sample reads across projects, as the command line
        try:
            ctx = context(conn)
        finally:
            conn.info.pop("system", None)  # info outlives the checkout: never leak it to the screens
    progress(
        f"lead's biggest project: {ctx.project_documents:,} documents; searching names for {ctx.search!r}"
    )
    for case in cases():
        timing = time_case(read_engine, ctx, case, runs)
        report.timings.append(timing)
        progress(f"{case.screen:<12} {case.label:<45} p95 {timing.p95_ms:9.2f} ms  {_mark(timing.within)}")
    if writes:
        for ratio in measure_writes(engine, ctx, owner_engine=owner_engine):
            report.ratios.append(ratio)
            progress(f"{ratio.label:<70} {ratio.measured:.2f}  {_mark(ratio.within)}")
    if ingest:
        ratio = measure_ingest(engine, ctx, provider="local", count=files, workers=workers)
        report.ratios.append(ratio)
        progress(f"{ratio.label:<70} {ratio.measured:.2f}")
        with moto_endpoint() as available:
            if available:
                ratio = measure_ingest(engine, ctx, provider="s3", count=files, workers=workers)
                report.ratios.append(ratio)
                progress(f"{ratio.label:<70} {ratio.measured:.2f}  {_mark(ratio.within)}")
            else:
                report.notes.append(
                    "S3 ingest not measured: moto is not installed (`pip install -e .[test]`)."
                )
    return report


def measure_renders(report: Report, *, progress: Callable[[str], None] = lambda line: None) -> None:
    """Add each screen's first complete render in Chromium, and the server's memory, to `report`."""
    from dashboard import render_bench
    from db.demo import DEMO_PASSWORD

    missing = render_bench.available()
    if missing:
        report.notes.append(f"First renders not measured: {missing}.")
        return
    timings, memory = render_bench.measure(DEMO_PASSWORD, runs=max(3, min(report.runs, 5)), progress=progress)
    for title, samples in timings.items():
        ms = [s * 1000 for s in samples]
        report.renders.append(
            Timing(
                screen=title, label="first complete render in Chromium", target_ms=2000,
                median_ms=statistics.median(ms), p95_ms=percentile(ms, 0.95), rows=None,
                partitions="", pruned=None, indexes=[], index_used=None,
            )
        )  # fmt: skip
    report.memory_mb = memory
