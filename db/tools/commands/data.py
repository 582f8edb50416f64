"""`prosync demo | generate | refresh-totals | load | bench`: data sets, totals, the load run and the
benchmark."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from db.tools.commands.common import ROOT, CommandError, require_migrated, upgrade


def demo(args) -> None:
    from db.tools.demo import DEMO_PASSWORD, DEMO_USERS, load_demo

    require_migrated()
    if load_demo():
        print(f"demo data loaded; sign in with any of these (password: {DEMO_PASSWORD}):")
        for login, _, roles in DEMO_USERS[:6]:
            print(f"  {login}{' (' + ', '.join(roles) + ')' if roles else ''}")
    else:
        print("demo data is already loaded")


def _generate(args) -> None:
    from db.core.engine import system_transaction
    from db.tools import generate
    from db.tools.demo import DEMO_PASSWORD

    require_migrated()
    scale = generate.SCALES[args.scale]
    print(
        f"generating {args.scale}: {scale.documents:,} documents in {scale.projects:,} projects, "
        f"{scale.users:,} users, {scale.audit_rows:,} audit rows, {scale.staged:,} staged files",
        flush=True,
    )
    started = time.perf_counter()

    def progress(step: str, rows: int, seconds: float) -> None:
        print(
            f"  {step:<20} {rows:>12,} rows {seconds:7.1f} s   ({time.perf_counter() - started:6.1f} s)",
            flush=True,
        )

    with system_transaction() as conn:
        generate.generate(conn, scale, progress=progress)
    with system_transaction() as conn:
        generate.add_accounts(conn)
    print(
        f"done in {time.perf_counter() - started:.0f} s; sign in as admin@, ops@ or lead@example.com "
        f"(password: {DEMO_PASSWORD}); the lead maintains the 50 biggest projects"
    )


def _refresh_totals(args) -> None:
    from db.core.engine import system_transaction
    from db.domain import projects

    started = time.perf_counter()
    with system_transaction() as conn:
        ran = projects.refresh_totals(conn, older_than_seconds=args.older_than)
    print(
        f"project totals recounted in {time.perf_counter() - started:.1f} s"
        if ran
        else "project totals are fresh enough, or another session is recounting them"
    )


def _load(args) -> None:
    from db.core.engine import app_database_url, get_owner_engine, make_engine, sqlalchemy_url
    from db.tools import load

    upgrade()
    # A pool of its own: every worker holds a connection at once.
    engine = make_engine(sqlalchemy_url(app_database_url()), pool_size=args.workers + 5, max_overflow=10)
    try:
        report = load.run(
            engine,
            get_owner_engine(),
            workers=args.workers,
            seconds=args.seconds,
            progress=lambda line: print(line, flush=True),
        )
    finally:
        engine.dispose()
    print(load.table(report))
    if not report.ok:
        raise CommandError("the load run lost or broke something: see the errors and mismatches above")


def _bench(args) -> None:

    from sqlalchemy import text

    from db.core.engine import get_engine, get_owner_engine, get_read_engine, system_transaction
    from db.core.settings import get_settings
    from db.tools import generate
    from db.tools.bench import report as bench_report
    from db.tools.bench import run as bench_run

    upgrade()
    with system_transaction() as conn:
        documents = conn.execute(text("select count(*) from documents.document_registry")).scalar_one()
        has_projects = conn.execute(text("select exists (select 1 from projects.projects)")).scalar_one()
    wanted = generate.SCALES[args.scale].documents
    if not has_projects:
        _generate(args)
    elif not wanted * 0.9 <= documents <= wanted * 1.5:
        raise CommandError(
            f"this database holds {documents:,} documents, not the {args.scale} data set: point "
            "PROSYNC_DATA_DIR (or DATABASE_URL) at an empty database for the benchmark"
        )
    print(f"benchmark, --scale {args.scale} --runs {args.runs}", flush=True)
    report = bench_run.run(
        scale=args.scale,
        runs=args.runs,
        engine=get_engine(),
        read_engine=get_read_engine(),
        owner_engine=get_owner_engine(),
        files=args.files,
        workers=args.workers,
        writes=not args.no_writes,
        ingest=args.files > 0,
        api=args.api,
        large_mb=args.large_mb,
        progress=lambda line: print("  " + line, flush=True),
    )
    if args.browser:
        bench_run.measure_renders(report, progress=lambda line: print("  " + line, flush=True))
    print()
    print(bench_report.table(report))
    target = Path(args.json) if args.json else get_settings().data_dir / f"bench-{args.scale}.json"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(bench_report.as_json(report), indent=2, default=str))
    print(f"\nJSON: {target}")
    if not args.no_docs:
        docs = ROOT / "docs" / "benchmarks.md"
        with docs.open("a") as fh:
            fh.write(bench_report.summary(report))
        print(f"summary appended to {docs}")


def add(commands) -> None:
    """Register this group's commands on the `prosync` parser."""
    commands.add_parser("demo", help="load the demo data set (idempotent)").set_defaults(func=demo)

    gen = commands.add_parser("generate", help="fill an empty database with a large data set for benchmarks")
    gen.add_argument("--scale", choices=["100k", "1m"], default="100k", help="100k or 1m documents")
    gen.set_defaults(func=_generate)

    refresh = commands.add_parser(
        "refresh-totals", help="recount documents and storage per project (the onboarding summary)"
    )
    refresh.add_argument("--older-than", type=float, default=0, help="skip if fresher than this (seconds)")
    refresh.set_defaults(func=_refresh_totals)

    bench = commands.add_parser("bench", help="time every screen's queries on the scale data set")
    bench.add_argument("--scale", choices=["100k", "1m"], default="100k", help="generated first if empty")
    bench.add_argument("--runs", type=int, default=20, help="timed runs per query (after one warm-up)")
    bench.add_argument(
        "--files", type=int, default=1000, help="files of 256 KB for the ingest ratio (0: skip)"
    )
    bench.add_argument("--workers", type=int, default=4, help="uploads at a time (ingest and bare writes)")
    bench.add_argument("--no-writes", action="store_true", help="skip the audited-writes ratio")
    bench.add_argument("--api", action=argparse.BooleanOptionalAction, default=True,
                       help="the HTTP API over HTTP: ingest, list endpoints, one large upload")  # fmt: skip
    bench.add_argument("--large-mb", type=int, default=1024, help="the large API upload's size (0: skip)")
    bench.add_argument("--browser", action=argparse.BooleanOptionalAction, default=True,
                       help="time each screen's first render in Chromium (Playwright)")  # fmt: skip
    bench.add_argument("--json", help="where to write the JSON (default: the data dir)")
    bench.add_argument("--no-docs", action="store_true", help="do not append to docs/benchmarks.md")
    bench.set_defaults(func=_bench)

    load = commands.add_parser(
        "load", help="many workers at once through the data-access module, then the audit log checked"
    )
    load.add_argument("--workers", type=int, default=50, help="concurrent workers (each a user of its own)")
    load.add_argument("--seconds", type=float, default=300, help="how long they run")
    load.set_defaults(func=_load)
