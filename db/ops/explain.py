"""Explain: the screens' own queries, as ProSync runs them, with their plans."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Connection, TextClause, event, text

from db.core.engine import acting_as
from db.domain import access, audit, documents, projects, staging, tags
from db.ops.common import (
    guarded,
)


@dataclass(frozen=True)
class Sample:
    """What the explained screen queries run for: the busiest live project and its top member."""

    project_id: int
    project_name: str
    documents: int
    user_id: int
    login: str
    search: str  # a piece of one of its document names, for the name search


@dataclass(frozen=True)
class Statement:
    """One statement a screen query issued, with what EXPLAIN (ANALYZE, BUFFERS) found."""

    sql: str
    plan: str  # the plan tree as text
    execution_ms: float
    planning_ms: float
    rows: int
    indexes: tuple[str, ...]
    seq_scans: tuple[str, ...]
    partitions: dict[str, tuple[int, int]]  # partitioned table: (partitions read, partitions it has)
    shared_hit: int
    shared_read: int


@dataclass(frozen=True)
class Explained:
    screen: str
    query: str
    statements: tuple[Statement, ...]

    @property
    def main(self) -> Statement:
        """The statement that fetches what the screen shows: the last one (the ones before it check
        the user's roles and permissions)."""
        return self.statements[-1]


def _screen_queries():

    month_ago = datetime.now(UTC) - timedelta(days=30)
    return (
        ("Onboarding", "project summary (onboarding_project_summary)",
         lambda c, s: projects.onboarding_summary(c)),
        ("Onboarding", "uploads per week, 26 weeks", lambda c, s: documents.uploads_per_week(c, weeks=26)),
        ("Onboarding", "project history, last 20 changes",
         lambda c, s: projects.project_history(c, project_id=s.project_id, limit=20)),
        ("Access", "members of a project", lambda c, s: access.list_members(c, project_id=s.project_id)),
        ("Access", "permission check (can_view)",
         lambda c, s: access.require_permission(c, project_id=s.project_id, permission="can_view")),
        ("Documents", "first page of a project's active documents (active_documents)",
         lambda c, s: documents.list_active_documents(c, project_id=s.project_id)),
        ("Documents", "name search in every visible project",
         lambda c, s: documents.list_active_documents(c, name_contains=s.search)),
        ("Audit trail", "a project's last 30 days, 100 rows (audit_trail_by_project)",
         lambda c, s: audit.audit_trail(c, project_id=s.project_id, since=month_ago, limit=100)),
        ("Review", "review queue, first page (pending_documents)", lambda c, s: staging.list_pending(c)),
        ("Review", "rejected files, first page (rejected_documents)", lambda c, s: staging.list_rejected(c)),
        ("Tags", "tag usage", lambda c, s: tags.tag_usage(c)),
    )  # fmt: skip


def explain_sample(conn: Connection, *, project_id: int | None = None) -> Sample | None:
    """The project the Explain tab runs the screens' queries for (the one with most documents unless
    named), and its highest-ranked active member; None when there is no such project.

    The busiest project comes from the planner's statistics (pg_stats' most common values of
    documents.project_id) rather than a count over every document, which takes seconds at scale."""
    with guarded(conn):
        ranked = [] if project_id is not None else _busiest_projects(conn)
        # Past row-level security, for ops and admins only (the database checks): see
        # system.explain_sample in migration 0013. The page records each use (record_explain).
        row = conn.execute(
            text("select * from system.explain_sample(cast(:only as bigint), cast(:ranked as bigint[]))"),
            {"only": project_id, "ranked": ranked},
        ).one_or_none()
    if row is None:
        return None
    stem = (row.document_name or "report").rsplit(".", 1)[0]
    return Sample(row.project_id, row.project_name, row.documents, row.user_id, row.login, stem[:4])


def record_explain(conn: Connection, sample: Sample) -> None:
    """Write the Explain tab's look past membership into the sample project's audit trail: who ran
    the screens' queries as which member. A write: call it in a transaction, before explaining."""
    access.require_ops(conn)
    conn.execute(
        text("select audit.record_bypass('explain', :p, :u)"), {"p": sample.project_id, "u": sample.user_id}
    )


def _busiest_projects(conn: Connection) -> list[int]:
    """The projects holding the most documents, most first: the planner's most common values when
    the table was analyzed, else none."""
    common = conn.execute(
        text(
            "select most_common_vals::text::bigint[] from pg_stats where schemaname = 'documents'"
            " and tablename = 'documents' and attname = 'project_id' and inherited"
        )
    ).scalar_one_or_none()
    return common or []  # never analyzed: system.explain_sample counts the registry itself


def explain_screens(conn: Connection, sample: Sample) -> list[Explained]:
    """Run each screen's data-access function as the sample member would, capture the statements it
    sends, and EXPLAIN (ANALYZE, BUFFERS) each one. Read-only: all of it is rolled back."""
    results = []
    with guarded(conn):
        partitions_of = _partition_counts(conn)
        for screen, label, function in _screen_queries():
            savepoint = conn.begin_nested()
            try:
                with acting_as(conn, sample.user_id):
                    explained = explain_call(conn, lambda c, f=function: f(c, sample), partitions_of)
            finally:
                savepoint.rollback()
            results.append(Explained(screen, label, explained))
    return results


def explain_call(
    conn: Connection, call: Callable[[Connection], object], partitions_of: dict | None = None
) -> tuple[Statement, ...]:
    """Run `call(conn)` (a data-access function, as the acting user), capture the SELECTs it sends,
    and EXPLAIN (ANALYZE, BUFFERS) each: the same statements run twice, so use it on reads only."""
    partitions_of = partitions_of if partitions_of is not None else _partition_counts(conn)
    totals = {parent: siblings for parent, siblings in partitions_of.values() if siblings}
    with _captured(conn) as statements:
        call(conn)
    return tuple(_explain(conn, sql, params, partitions_of, totals) for sql, params in statements)


@contextmanager
def _captured(conn: Connection) -> Iterator[list[tuple[str, object]]]:
    """The SELECT statements sent on `conn` inside the block, with their parameters."""

    seen: list[tuple[str, object]] = []

    def listener(_conn, _cursor, statement, parameters, context, _executemany):
        compiled = getattr(context, "compiled", None)
        if compiled is not None and not isinstance(compiled.statement, TextClause):
            return  # SQLAlchemy's own catalog reflection, not a query of the screen
        head = statement.lstrip()[:10].lower()
        if head.startswith(("select", "with")) and "set_config(" not in statement:
            seen.append((statement, parameters))

    event.listen(conn, "before_cursor_execute", listener)
    try:
        yield seen
    finally:
        event.remove(conn, "before_cursor_execute", listener)


def _partition_counts(conn: Connection) -> dict[str, tuple[str, int]]:
    """Each partition (qualified) → (its parent, how many partitions the parent has); and each
    partition's index (by name, as EXPLAIN names it) → (the partitioned index it belongs to, 0)."""
    rows = conn.execute(
        text(
            "select case when p.relkind = 'p' then cn.nspname || '.' || c.relname"
            " else c.relname end as child,"
            " case when p.relkind = 'p' then pn.nspname || '.' || p.relname else p.relname end as parent,"
            " case when p.relkind = 'p' then count(*) over (partition by p.oid) else 0 end as siblings"
            " from pg_inherits i join pg_class c on c.oid = i.inhrelid"
            " join pg_namespace cn on cn.oid = c.relnamespace"
            " join pg_class p on p.oid = i.inhparent join pg_namespace pn on pn.oid = p.relnamespace"
            " where p.relkind in ('p', 'I')"
        )
    ).all()
    return {r.child: (r.parent, r.siblings) for r in rows}


def _explain(
    conn: Connection, sql: str, params, partitions_of: dict[str, tuple[str, int]], totals: dict[str, int]
) -> Statement:
    raw = conn.exec_driver_sql("explain (analyze, buffers, verbose, format json) " + sql, params).scalar_one()
    top = (raw if isinstance(raw, list) else json.loads(raw))[0]
    plan = top["Plan"]
    nodes = list(_walk(plan))
    # A partition's index is shown as the partitioned index it belongs to: one name, not one per period.
    used = {n["Index Name"] for n in nodes if "Index Name" in n}
    indexes = sorted({partitions_of.get(name, (name,))[0] for name in used})
    read = [f"{n['Schema']}.{n['Relation Name']}" for n in nodes if "Relation Name" in n and "Schema" in n]
    seq_scans = sorted({f"{n['Schema']}.{n['Relation Name']}" for n in nodes if n["Node Type"] == "Seq Scan"})
    touched: dict[str, set[str]] = {}
    for relation in read:
        if relation in partitions_of:
            touched.setdefault(partitions_of[relation][0], set()).add(relation)
    return Statement(
        sql=sql,
        plan="\n".join(_plan_lines(plan)),
        execution_ms=float(top.get("Execution Time", 0.0)),
        planning_ms=float(top.get("Planning Time", 0.0)),
        rows=int(plan.get("Actual Rows", 0)),
        indexes=tuple(indexes),
        seq_scans=tuple(seq_scans),
        partitions={parent: (len(parts), totals[parent]) for parent, parts in sorted(touched.items())},
        shared_hit=int(plan.get("Shared Hit Blocks", 0)),
        shared_read=int(plan.get("Shared Read Blocks", 0)),
    )


def _walk(node: dict) -> Iterator[dict]:
    yield node
    for child in node.get("Plans", ()):
        yield from _walk(child)


_DETAILS = ("Index Cond", "Recheck Cond", "Hash Cond", "Merge Cond", "Join Filter", "Filter", "Sort Key")


def _plan_lines(node: dict, depth: int = 0) -> Iterator[str]:
    """EXPLAIN's JSON as an indented tree, one node a line, like its text format but shorter."""
    label = node["Node Type"]
    if "Index Name" in node:
        label += f" using {node['Index Name']}"
    if "Relation Name" in node:
        label += f" on {node.get('Schema', '')}.{node['Relation Name']}".replace(" .", " ")
    if node.get("Actual Loops", 1) == 0:
        label += " (never executed)"
    else:
        label += (
            f"  (rows={node.get('Actual Rows', 0)} loops={node.get('Actual Loops', 1)}"
            f" time={node.get('Actual Total Time', 0.0):.3f} ms)"
        )
    pad = "   " * depth
    yield pad + ("-> " if depth else "") + label
    for key in _DETAILS:
        if key in node:
            value = ", ".join(node[key]) if isinstance(node[key], list) else node[key]
            yield f"{pad}      {key}: {value}"
    if "Subplans Removed" in node:
        yield f"{pad}      Subplans Removed: {node['Subplans Removed']}"
    for child in node.get("Plans", ()):
        yield from _plan_lines(child, depth + 1)
