"""The load run (`prosync load`): many workers at once, for minutes, through the data-access module
as the dashboard calls it, then the audit log checked against what they changed.

Each worker signs in as a user of its own (a maintainer of two of the run's ten projects, so they
collide on purpose) and loops over a mix: every screen's reads, uploads through ingest (object
first, then the row), approvals of what others uploaded, tags put on and taken off, a viewer
granted and revoked. A refusal the application gives a person (already a member, already
approved, not a member any more) is expected and counted; anything else (a deadlock, a driver
error, a bug) is an error. Afterwards every effective write must have exactly one audit row:
the workers' own ledger of what they changed, per table and action, is compared with the rows
the audit triggers wrote for the workers' users during the run."""

from __future__ import annotations

import io
import random
import statistics
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial

from sqlalchemy import Engine, text

from db.core.engine import system_transaction, transaction
from db.core.errors import Conflict, NotFound, ProSyncError
from db.domain import access, audit, documents, projects, staging, tags, users
from db.files import ingest
from db.tools.bench.report import percentile

PROJECTS = 10
CHURN_USERS = 30
TAGS = 6
PASSWORD = "load-run-password-1"

# The rows each kind of effective write changes, as (table, audit action): the ledger.
EFFECTS = {
    "upload": [("documents.contents", "insert"), ("staging.documents_ingest", "insert")],
    "approve": [("documents.documents", "insert"), ("staging.documents_ingest", "update")],
    "tag": [("projects.project_tag", "insert")],
    "untag": [("projects.project_tag", "delete")],
    "grant": [("projects.project_access", "insert")],
    "revoke": [("projects.project_access", "delete")],
}


# What one worker's write may meet because another got there first: a grant of someone already a
# member, a revoke of someone no longer one, a file approved by someone else. Any other error,
# refusals included (a lost connection, a store that failed, a permission), fails the run.
EXPECTED = (Conflict, NotFound)


@dataclass
class Setup:
    stamp: str
    worker_ids: list[int]
    projects_of: dict[int, list[int]]  # worker user id -> its two projects
    churn_ids: list[int]
    tag_ids: list[int]


@dataclass
class LoadReport:
    workers: int
    seconds: float
    latencies: dict[str, list[float]] = field(default_factory=dict)  # ms per call, by operation
    refusals: Counter = field(default_factory=Counter)  # (operation, error class)
    errors: list[str] = field(default_factory=list)
    ledger: Counter = field(default_factory=Counter)  # (table, action) the workers changed
    audited: Counter = field(default_factory=Counter)  # (table, action) the audit log holds
    deadlocks: int = 0

    @property
    def calls(self) -> int:
        return sum(len(v) for v in self.latencies.values())

    @property
    def ok(self) -> bool:
        return not self.errors and self.deadlocks == 0 and self.ledger == self.audited


def prepare(owner_engine: Engine, *, workers: int) -> Setup:
    """Users, projects, memberships and tags for one run, with names of their own (a run stamp)."""
    stamp = datetime.now(UTC).strftime("%Y%m%d%H%M%S") + uuid.uuid4().hex[:4]
    with system_transaction(engine=owner_engine) as conn:
        admin = users.create_user(
            conn, login=f"load-{stamp}-admin@example.com", display_name="Load admin", password=PASSWORD,
            system_roles=("admin",),
        )  # fmt: skip

        def person(name: str) -> int:
            return users.create_user(
                conn, login=f"load-{stamp}-{name}@example.com", display_name=name, password=PASSWORD
            ).id

        worker_ids = [person(f"w{i}") for i in range(workers)]
        churn_ids = [person(f"c{i}") for i in range(CHURN_USERS)]
    projects_of: dict[int, list[int]] = {}
    with transaction(actor_id=admin.id, engine=owner_engine) as conn:
        made = [projects.create_project(conn, name=f"Load {stamp} {n}").id for n in range(PROJECTS)]
        tag_ids = [tags.create_tag(conn, name=f"load {stamp} {n}", category="Load").id for n in range(TAGS)]
        for i, worker in enumerate(worker_ids):
            projects_of[worker] = [made[i % PROJECTS], made[(i + 3) % PROJECTS]]
            for project_id in projects_of[worker]:
                access.grant_access(conn, project_id=project_id, user_id=worker, role="maintainer")
    return Setup(stamp, worker_ids, projects_of, churn_ids, tag_ids)


def _operations(engine: Engine, setup: Setup) -> dict[str, tuple[int, Callable]]:
    """Operation name -> (weight, call(user_id, project_id, rng) -> effect name or None)."""

    def read(function):
        def call(user_id, project_id, rng):
            with transaction(actor_id=user_id, engine=engine) as conn:
                function(conn, project_id)

        return call

    def write(function):
        def call(user_id, project_id, rng):
            with transaction(actor_id=user_id, engine=engine) as conn:
                return function(conn, project_id, rng)

        return call

    def upload(user_id, project_id, rng):
        data = f"load run {setup.stamp} {uuid.uuid4()}\n".encode() * 32
        outcome = ingest.try_stage(
            partial(transaction, actor_id=user_id, engine=engine),
            project_id=project_id,
            name=f"load-{uuid.uuid4().hex[:12]}.txt",
            stream=io.BytesIO(data),
        )
        if outcome.status != "staged":  # every upload's bytes are new: no refusal is expected
            raise RuntimeError(f"upload {outcome.status}: {outcome.message}")
        return "upload"

    def approve(user_id, project_id, rng):
        with transaction(actor_id=user_id, engine=engine) as conn:
            queue = staging.list_pending(conn, project_id=project_id, limit=5).rows
        if not queue:
            return None
        outcome = ingest.approve_file(
            partial(transaction, actor_id=user_id, engine=engine), ingest_id=rng.choice(queue).id
        )
        if outcome.status != "approved":
            if "already handled by someone else" not in outcome.message:
                raise RuntimeError(f"approval {outcome.status}: {outcome.message}")
            raise _Refused(outcome.status, outcome.message)  # another worker approved it first
        return "approve"

    def tag(conn, project_id, rng):
        tag_id = rng.choice(setup.tag_ids)
        if rng.random() < 0.5:
            return "tag" if tags.tag_project(conn, project_id=project_id, tag_id=tag_id) else None
        return "untag" if tags.untag_project(conn, project_id=project_id, tag_id=tag_id) else None

    def membership(conn, project_id, rng):
        churn = rng.choice(setup.churn_ids)
        if rng.random() < 0.5:
            access.grant_access(conn, project_id=project_id, user_id=churn, role="viewer")
            return "grant"
        access.revoke_access(conn, project_id=project_id, user_id=churn)
        return "revoke"

    return {
        "read onboarding summary": (6, read(lambda c, p: projects.onboarding_summary(c))),
        "read documents page": (8, read(lambda c, p: documents.list_active_documents(c, project_id=p))),
        "read name search": (4, read(lambda c, p: documents.list_active_documents(c, name_contains="load"))),
        "read audit trail": (4, read(lambda c, p: audit.audit_trail(c, project_id=p, limit=100))),
        "read review queue": (4, read(lambda c, p: staging.list_pending(c))),
        "read permission check": (6, read(lambda c, p: access.has_permission(c, project_id=p, permission="can_view"))),  # noqa: E501
        "read members": (3, read(lambda c, p: access.list_members(c, project_id=p))),
        "read tag usage": (2, read(lambda c, p: tags.tag_usage(c))),
        "upload": (6, upload),
        "approve": (5, approve),
        "tag or untag": (4, write(tag)),
        "grant or revoke": (4, write(membership)),
    }  # fmt: skip


class _Refused(ProSyncError):
    """An ingest outcome that is a refusal (duplicate, refused): expected under contention."""

    def __init__(self, status: str, message: str):
        super().__init__(message)
        self.status = status


def run(
    engine: Engine,
    owner_engine: Engine,
    *,
    workers: int = 50,
    seconds: float = 300,
    seed: int = 7,
    progress: Callable[[str], None] = lambda line: None,
) -> LoadReport:
    """`workers` threads for `seconds` on `engine` (the application's prosync_app engine; it needs a
    pool of at least `workers` connections), then the audit log compared with their ledger."""
    setup = prepare(owner_engine, workers=workers)
    progress(f"{workers} workers, {PROJECTS} projects, {seconds:.0f} s (run {setup.stamp})")
    operations = _operations(engine, setup)
    names = list(operations)
    weights = [operations[n][0] for n in names]
    report = LoadReport(workers=workers, seconds=seconds)
    lock = threading.Lock()
    with owner_engine.connect() as conn:
        start_id = conn.execute(text("select coalesce(max(id), 0) from audit.audit_log")).scalar_one()
        deadlocks_before = _deadlocks(conn)
    deadline = time.monotonic() + seconds

    def worker(n: int) -> None:
        rng = random.Random(seed * 1000 + n)
        user_id = setup.worker_ids[n]
        mine: dict[str, list[float]] = {}
        refusals: Counter = Counter()
        ledger: Counter = Counter()
        errors: list[str] = []
        while time.monotonic() < deadline:
            name = rng.choices(names, weights)[0]
            project_id = rng.choice(setup.projects_of[user_id])
            started = time.perf_counter()
            try:
                effect = operations[name][1](user_id, project_id, rng)
            except _Refused as refusal:
                refusals[(name, refusal.status)] += 1
            except EXPECTED as refusal:
                refusals[(name, type(refusal).__name__)] += 1
            except Exception as error:  # a lost connection, a deadlock, a bug: the run fails
                errors.append(f"{name}: {type(error).__name__}: {str(error).splitlines()[0][:300]}")
            else:
                for effect_row in EFFECTS.get(effect, []):
                    ledger[effect_row] += 1
            mine.setdefault(name, []).append((time.perf_counter() - started) * 1000)
        with lock:
            for name, values in mine.items():
                report.latencies.setdefault(name, []).extend(values)
            report.refusals.update(refusals)
            report.ledger.update(ledger)
            report.errors.extend(errors)

    threads = [threading.Thread(target=worker, args=(n,), name=f"load-{n}") for n in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    with owner_engine.connect() as conn:
        rows = conn.execute(
            text(
                "select schema_name || '.' || table_name as tbl, action, count(*) as n from audit.audit_log"
                " where id > :start and actor_id = any(:workers) group by 1, 2"
            ),
            {"start": start_id, "workers": setup.worker_ids},
        ).all()
        report.deadlocks = _deadlocks(conn) - deadlocks_before
    report.audited = Counter({(r.tbl, r.action): r.n for r in rows})
    return report


def _deadlocks(conn) -> int:
    conn.execute(text("select pg_stat_clear_snapshot()"))
    return conn.execute(
        text("select deadlocks from pg_stat_database where datname = current_database()")
    ).scalar_one()


def table(report: LoadReport) -> str:
    """The report as text: latencies per operation, refusals, the audit check."""
    lines = [
        f"{report.workers} workers for {report.seconds:.0f} s: {report.calls:,} calls,"
        f" {report.calls / report.seconds:,.0f} per second",
        "",
        f"{'operation':<26} {'calls':>7} {'median ms':>10} {'p95 ms':>9} {'max ms':>9}",
    ]
    for name in sorted(report.latencies):
        values = report.latencies[name]
        lines.append(
            f"{name:<26} {len(values):>7,} {statistics.median(values):>10.1f}"
            f" {percentile(values, 0.95):>9.1f} {max(values):>9.1f}"
        )
    lines += ["", "expected refusals (a person would see these messages):"]
    lines += [f"  {op}: {kind} × {n:,}" for (op, kind), n in sorted(report.refusals.items())] or ["  none"]
    lines += ["", f"{'table':<28} {'action':<7} {'writes':>7} {'audit rows':>10}"]
    for key in sorted(set(report.ledger) | set(report.audited)):
        mark = "" if report.ledger[key] == report.audited[key] else "  MISMATCH"
        lines.append(f"{key[0]:<28} {key[1]:<7} {report.ledger[key]:>7,} {report.audited[key]:>10,}{mark}")
    lines += ["", f"deadlocks: {report.deadlocks}", f"errors: {len(report.errors)}"]
    lines += [f"  {e}" for e in report.errors[:20]]
    return "\n".join(lines)
