"""The screens' reads, timed: each screen's queries as the data-access module issues them, on the
scale data set, as the user who opens the screen."""

from __future__ import annotations

import statistics
import time
from datetime import UTC, datetime, timedelta

from sqlalchemy import Connection, Engine, text

from db.core.engine import read_only
from db.core.errors import Conflict
from db.core.types import Cursor
from db.domain import access, audit, documents, partitions, projects, search, staging, tags
from db.ops import activity, explain, health, schema, stats, tuning
from db.tools.bench.report import Case, Context, Timing, percentile
from db.tools.generate import GENERATED_DOMAIN, TEXT_WORDS

PAGE = 50


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
        health.health_checks(conn),
        stats.table_stats(conn),
        stats.index_stats(conn),
        partitions.partition_status(conn),
        stats.top_queries(conn).frame,
        explain.explain_sample(conn),
        activity.activity(conn),
        activity.session_summary(conn).active,
        tuning.server_settings(conn),
        tuning.writer_stats(conn),
        tuning.maintenance_progress(conn),
        tuning.vacuum_queue(conn),
        schema.schema_state(conn),
        schema.schema_changes(conn).events,
        schema.database_roles(conn),
        schema.role_memberships(conn),
        schema.constraints(conn),
        schema.views(conn),
        schema.schema_graph(conn).relations,
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
        Case("Documents", "search inside files, a common word, the lead's projects", "lead",
             lambda c, x: search.search_documents(c, query=x.text_common, limit=25), 50),
        Case("Documents", "search inside files, a common word, every project (admin)", "admin",
             lambda c, x: search.search_documents(c, query=x.text_common, limit=25), 50),
        Case("Documents", "search inside files, two words, the lead's projects", "lead",
             lambda c, x: search.search_documents(c, query=f"{x.text_common} {x.text_rare}", limit=25), 50,
             "document_text_search_idx"),
        Case("Documents", "search inside files, a rare reference, every project (admin)", "admin",
             lambda c, x: search.search_documents(c, query=x.text_rare, limit=25), 50,
             "document_text_search_idx"),
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
    # The text's words as `prosync generate` draws them: the 36th word of its vocabulary is in about
    # a fifth of the documents; a reference code ("ref" and a number) of the lead's newest one in
    # about 20 documents.
    reference = conn.execute(
        text(
            "select substring(t.body from 'ref[0-9]+') from documents.document_text t"
            " where t.project_id = :p and t.body ~ 'ref[0-9]+' order by t.document_id desc limit 1"
        ),
        {"p": project.project_id},
    ).scalar_one_or_none()
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
        text_common=TEXT_WORDS.split()[35],
        text_rare=reference or "ref1",
    )


def _actor(ctx: Context, who: str) -> int:
    return {"lead": ctx.lead_id, "admin": ctx.admin_id, "ops": ctx.ops_id}[who]


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
            statements = explain.explain_call(conn, lambda c: case.run(c, ctx))
        # What fetches the rows: the last statement, and every one that read a partitioned table (a
        # list across projects reads one quarter per statement; see documents.list_active_documents).
        fetching = [st for st in statements[:-1] if st.partitions] + [statements[-1]]
        indexes = sorted({name for st in fetching for name in st.indexes})
        # The index meant for it may serve an earlier statement (a search finds its matches first).
        used = None if case.index is None else any(case.index in st.indexes for st in statements)
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
