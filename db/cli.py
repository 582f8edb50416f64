"""The `prosync` command: database, demo data, users, partitions, and serving the dashboard."""

from __future__ import annotations

import argparse
import contextlib
import getpass
import logging
import os
import sys
import time
from pathlib import Path

from sqlalchemy.exc import OperationalError

from db.errors import ProSyncError

log = logging.getLogger("prosync")
ROOT = Path(__file__).resolve().parent.parent
SERVER = ROOT / "dashboard" / "server.py"


class CommandError(Exception):
    """A user mistake or an unmet condition: printed as one line, exit status 1."""


def _upgrade(revision: str = "head") -> None:
    """Migrate, printing what the migrations warned about (a feature the server refused)."""
    from db import migrate

    for warning in migrate.upgrade(revision):
        print(f"warning: {warning}", file=sys.stderr)


def _db_upgrade(args) -> None:
    from db import migrate

    _upgrade(args.revision)
    print(f"database at revision {migrate.head_revision() if args.revision == 'head' else args.revision}")


def _db_downgrade(args) -> None:
    from db import migrate

    migrate.downgrade(args.revision)
    print(f"database at revision {args.revision}")


def _db_current(args) -> None:
    from db import migrate
    from db.engine import get_owner_engine

    with get_owner_engine().connect() as conn:
        current = migrate.current_revision(conn)
    head = migrate.head_revision()
    state = "up to date" if current == head else f"head is {head}: run `prosync db upgrade`"
    print(f"{current or 'empty (no revision)'} ({state})")


def _require_migrated() -> None:
    from db import migrate
    from db.engine import get_owner_engine

    with get_owner_engine().connect() as conn:
        if migrate.current_revision(conn) != migrate.head_revision():
            raise CommandError("the database is not at the newest revision: run `prosync db upgrade`")


def _demo(args) -> None:
    from db.demo import DEMO_PASSWORD, DEMO_USERS, load_demo

    _require_migrated()
    if load_demo():
        print(f"demo data loaded; sign in with any of these (password: {DEMO_PASSWORD}):")
        for login, _, roles in DEMO_USERS[:6]:
            print(f"  {login}{' (' + ', '.join(roles) + ')' if roles else ''}")
    else:
        print("demo data is already loaded")


def _generate(args) -> None:
    from db import generate
    from db.demo import DEMO_PASSWORD
    from db.engine import system_transaction

    _require_migrated()
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
    from db import projects
    from db.engine import system_transaction

    started = time.perf_counter()
    with system_transaction() as conn:
        ran = projects.refresh_totals(conn, older_than_seconds=args.older_than)
    print(
        f"project totals recounted in {time.perf_counter() - started:.1f} s"
        if ran
        else "project totals are fresh enough, or another session is recounting them"
    )


def _load(args) -> None:
    from sqlalchemy import create_engine

    from db import load
    from db.engine import app_database_url, get_owner_engine, sqlalchemy_url

    _upgrade()
    # A pool of its own: every worker holds a connection at once.
    engine = create_engine(sqlalchemy_url(app_database_url()), pool_size=args.workers + 5, max_overflow=10)
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
    import json

    from sqlalchemy import text

    from db import bench, generate
    from db.engine import get_engine, get_owner_engine, get_read_engine, system_transaction
    from db.settings import get_settings

    _upgrade()
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
    report = bench.run(
        scale=args.scale,
        runs=args.runs,
        engine=get_engine(),
        read_engine=get_read_engine(),
        owner_engine=get_owner_engine(),
        files=args.files,
        workers=args.workers,
        writes=not args.no_writes,
        ingest=args.files > 0,
        progress=lambda line: print("  " + line, flush=True),
    )
    if args.browser:
        bench.measure_renders(report, progress=lambda line: print("  " + line, flush=True))
    print()
    print(bench.table(report))
    target = Path(args.json) if args.json else get_settings().data_dir / f"bench-{args.scale}.json"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(bench.as_json(report), indent=2, default=str))
    print(f"\nJSON: {target}")
    if not args.no_docs:
        docs = Path(__file__).resolve().parent.parent / "docs" / "benchmarks.md"
        with docs.open("a") as fh:
            fh.write(bench.summary(report))
        print(f"summary appended to {docs}")


def _user_create(args) -> None:
    from db import users
    from db.engine import system_transaction

    _require_migrated()
    password = os.environ.get("PROSYNC_NEW_PASSWORD") or getpass.getpass("Password: ")
    with system_transaction() as conn:
        user = users.create_user(
            conn,
            login=args.email,
            display_name=args.name or args.email.split("@")[0],
            password=password,
            system_roles=tuple(args.role or ()),
        )
    print(f"created user {user.id} {user.login} {list(user.system_roles) or ''}".rstrip())


def _partitions_maintain(args) -> None:
    from db import partitions
    from db.engine import system_transaction

    _require_migrated()
    with system_transaction() as conn:
        steps = partitions.maintain(conn, back=args.back)
    for step in steps:
        print(f"{step.action:<13} {step.partition_name:<40} {step.detail}")
    if not steps:
        print("nothing to do: every partition exists")


def _partitions_status(args) -> None:
    import pandas as pd

    from db import partitions
    from db.engine import system_transaction

    _require_migrated()
    with system_transaction() as conn:
        frame = partitions.partition_status(conn)
    for row in frame.itertuples():
        bounds = "DEFAULT" if row.is_default else f"{row.range_from:%Y-%m-%d} .. {row.range_to:%Y-%m-%d}"
        estimate = row.estimated_rows
        rows = "not analyzed" if pd.isna(estimate) else f"~{int(estimate):,} rows"
        print(f"{row.partition_name:<40} {bounds:<24} {rows:>16} {row.total_bytes:>12,} B")


def _actor_unit(email: str | None):
    """Units of work as the user named by --as, or as the command line (no user) without it."""
    from functools import partial

    from db import users
    from db.engine import system_transaction, transaction

    if not email:
        return system_transaction, None
    with system_transaction() as conn:
        user = users.find_user_by_login(conn, login=email)
    if user is None or not user.is_active:
        raise CommandError(f"there is no active user {email}")
    return partial(transaction, actor_id=user.id), user


def _progress(done: int, total: int, name: str) -> None:
    if not sys.stderr.isatty():
        return
    width = 30
    filled = width * done // max(total, 1)
    print(
        f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total} {name[:40]:<40}", end="", file=sys.stderr
    )
    if done == total:
        print(file=sys.stderr)


def _ingest(args) -> None:
    from db import access, ingest, projects
    from db.engine import system_transaction

    _require_migrated()
    root = Path(args.path)
    if not root.exists():
        raise CommandError(f"{root} does not exist")
    files = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
    hidden = [p for p in files if any(part.startswith(".") for part in p.relative_to(root).parts)]
    files = [p for p in files if p not in hidden]
    with system_transaction() as conn:
        matches = [p for p in projects.list_projects(conn) if p.name.casefold() == args.project.casefold()]
    if not matches:
        raise CommandError(f"there is no project called {args.project!r}")
    project = matches[0]
    unit, user = _actor_unit(args.as_email)
    with unit() as conn:  # refuse the whole run at once rather than file by file
        access.require_permission(conn, project_id=project.id, permission="can_upload")
    counts = {"staged": 0, "duplicate": 0, "refused": 0}
    print(
        f"ingesting {len(files)} file(s) into {project.name} as {user.login if user else 'the command line'}"
    )
    done = 0
    # In batches: three transactions a batch instead of three a file, objects stored `--workers` at a
    # time; a refused file still stops only itself.
    for start in range(0, len(files), ingest.BATCH):
        batch = files[start : start + ingest.BATCH]
        relatives = [p.relative_to(root).as_posix() if root.is_dir() else p.name for p in batch]
        with contextlib.ExitStack() as streams:
            outcomes = ingest.stage_files(
                unit,
                project_id=project.id,
                files=[
                    ingest.FileToStage(
                        path.name,
                        streams.enter_context(path.open("rb")),
                        metadata={"source": "prosync ingest", "path": relative},
                    )
                    for path, relative in zip(batch, relatives, strict=True)
                ],
                notes=args.notes or "",
                workers=args.workers,
            )
        for relative, outcome in zip(relatives, outcomes, strict=True):
            done += 1
            counts[outcome.status] += 1
            _progress(done, len(files), relative)
            print(f"{outcome.status:<9} {relative}: {outcome.message}")
    print(
        f"{counts['staged']} staged, {counts['duplicate']} duplicate(s), {counts['refused']} refused"
        + (f", {len(hidden)} hidden file(s) skipped" if hidden else "")
    )
    if counts["refused"]:
        raise CommandError(f"{counts['refused']} file(s) refused; see the lines above")


def _reconcile(args) -> None:
    from datetime import timedelta

    from db.engine import system_transaction
    from db.reconcile import reconcile

    _require_migrated()
    report = reconcile(
        system_transaction,
        fix=args.fix,
        verify=args.verify,
        grace=timedelta(minutes=args.grace_minutes),
    )
    for finding in report.findings:
        print(f"{finding.kind:<11} {finding.store:<6} {finding.key} {finding.detail}".rstrip())
    if report.stale_claims_dropped:
        print(f"{report.stale_claims_dropped} claim(s) of uploads that never finished dropped")
    verified = f", {report.verified} re-read and verified" if args.verify else ""
    print(f"{report.objects_seen} object(s) and {report.rows_seen} content row(s) compared{verified}")
    if report.clean:
        print("storage and database agree")
    else:
        problems = len([f for f in report.findings if f.kind not in ("removed", "relinked")])
        hint = "" if args.fix else "; `prosync reconcile --fix` removes orphans and re-links moved objects"
        raise CommandError(f"{problems} problem(s) found{hint}")


def _backup(args) -> None:
    from db import backup

    _require_migrated()
    manifest = backup.backup(Path(args.path))
    local = sum(1 for o in manifest.objects if o["provider"] == "local")
    print(
        f"backed up {manifest.documents:,} documents, {manifest.audit_rows:,} audit rows and"
        f" {len(manifest.objects):,} objects ({local:,} copied from the local folder, the rest listed"
        f" where they are) into {args.path}"
    )


def _restore(args) -> None:
    from db import backup

    report = backup.restore(Path(args.path))
    for problem in report.problems:
        print(f"problem: {problem}")
    print(
        f"restored {report.documents:,} documents, {report.audit_rows:,} audit rows and"
        f" {report.objects_restored:,} objects; every object checked against its SHA-256"
    )
    if report.problems:
        raise CommandError(f"{len(report.problems)} problem(s) after the restore")
    _upgrade()  # a backup from an older ProSync is brought to this one's schema


def streamlit_argv(host: str, port: int) -> list[str]:
    """`streamlit run` for ProSync's server with ProSync's Streamlit settings (.streamlit/config.toml
    beside the code) passed as flags: Streamlit reads that file only from the directory it is
    started in, and started elsewhere it showed its developer toolbar and error details."""
    import tomllib

    with (ROOT / ".streamlit" / "config.toml").open("rb") as fh:
        config = tomllib.load(fh)
    flags = [
        item
        for section, values in config.items()
        for key, value in values.items()
        for item in (f"--{section}.{key}", str(value).lower() if isinstance(value, bool) else str(value))
    ]
    return [
        "streamlit", "run", str(SERVER), *flags,
        "--server.address", host,
        "--server.port", str(port),
        "--server.headless", "true",
        "--browser.gatherUsageStats", "false",
    ]  # fmt: skip


def _serve(args) -> None:
    from streamlit.web import cli as streamlit_cli

    _upgrade()
    if args.demo:
        _demo(args)
    # Streamlit runs in this process, so the embedded server (started above) lives exactly as
    # long as the dashboard does.
    sys.argv = streamlit_argv(args.host, args.port)
    print(f"ProSync on http://{args.host}:{args.port}", flush=True)
    streamlit_cli.main()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="prosync", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true", help="log what happens")
    commands = parser.add_subparsers(dest="command", required=True)

    db = commands.add_parser("db", help="migrations").add_subparsers(dest="db_command", required=True)
    up = db.add_parser("upgrade", help="migrate to the newest (or a given) revision")
    up.add_argument("revision", nargs="?", default="head")
    up.set_defaults(func=_db_upgrade)
    down = db.add_parser("downgrade", help="migrate down to a revision, or base")
    down.add_argument("revision")
    down.set_defaults(func=_db_downgrade)
    db.add_parser("current", help="show the database's revision").set_defaults(func=_db_current)

    commands.add_parser("demo", help="load the demo data set (idempotent)").set_defaults(func=_demo)

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

    user = commands.add_parser("user", help="users").add_subparsers(dest="user_command", required=True)
    create = user.add_parser("create", help="create a user (password from PROSYNC_NEW_PASSWORD or a prompt)")
    create.add_argument("--email", required=True)
    create.add_argument("--name")
    create.add_argument("--role", action="append", choices=["admin", "ops"])
    create.set_defaults(func=_user_create)

    parts = commands.add_parser("partitions", help="partition maintenance")
    parts_commands = parts.add_subparsers(dest="partitions_command", required=True)
    maintain = parts_commands.add_parser("maintain", help="create ahead, report DEFAULT rows, detach old")
    maintain.add_argument("--back", type=int, default=0, help="also make this many past periods")
    maintain.set_defaults(func=_partitions_maintain)
    parts_commands.add_parser("status", help="list partitions").set_defaults(func=_partitions_status)

    ingest = commands.add_parser("ingest", help="stage every file of a folder for review")
    ingest.add_argument("path", help="a folder (read recursively) or one file")
    ingest.add_argument("--project", required=True, help="the project's name")
    ingest.add_argument("--as", dest="as_email", help="upload as this user (their permissions apply)")
    ingest.add_argument("--notes", help="notes for the reviewers, on every file")
    ingest.add_argument("--workers", type=int, default=4, help="files stored at a time")
    ingest.set_defaults(func=_ingest)

    rec = commands.add_parser("reconcile", help="compare object storage with the database")
    rec.add_argument("--fix", action="store_true", help="remove old orphan objects, re-link moved ones")
    rec.add_argument("--verify", action="store_true", help="re-read every object and check its SHA-256")
    rec.add_argument("--grace-minutes", type=int, default=60, help="younger orphans may be uploads in flight")
    rec.set_defaults(func=_reconcile)

    back = commands.add_parser("backup", help="a consistent backup of the database and its objects")
    back.add_argument("path", help="a new or empty folder")
    back.set_defaults(func=_backup)
    rest = commands.add_parser("restore", help="bring a backup back into an empty database and storage")
    rest.add_argument("path", help="a folder written by `prosync backup`")
    rest.set_defaults(func=_restore)

    serve = commands.add_parser("serve", help="migrate and run the dashboard")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8501)
    serve.add_argument("--demo", action="store_true", help="load the demo data first")
    serve.set_defaults(func=_serve)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    try:
        args.func(args)
    except (ProSyncError, CommandError) as error:
        print(f"prosync: {error}", file=sys.stderr)
        return 1
    except OperationalError as error:
        reason = str(error.orig).strip().splitlines()[0] if error.orig else "connection failed"
        print(f"prosync: cannot reach the database: {reason}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # output piped into `head` and the like
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
