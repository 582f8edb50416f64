"""`prosync ingest | reindex-text | reconcile | backup | restore`: files in, their text for search,
storage checked against the database, backups out and back."""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path

from db.tools.commands.common import CommandError, require_migrated, upgrade


def _actor_unit(email: str | None):
    """Units of work as the user named by --as, or as the command line (no user) without it."""
    from functools import partial

    from db.core.engine import system_transaction, transaction
    from db.domain import users

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


def _project_named(conn, name: str):
    """The live project called `name` (in any case), or a CommandError that says there is none."""
    from db.domain import projects

    matches = [p for p in projects.list_projects(conn) if p.name.casefold() == name.casefold()]
    if not matches:
        raise CommandError(f"there is no project called {name!r}")
    return matches[0]


def _ingest(args) -> None:
    from db.core.engine import system_transaction
    from db.domain import access
    from db.files import ingest

    require_migrated()
    root = Path(args.path)
    if not root.exists():
        raise CommandError(f"{root} does not exist")
    files = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
    hidden = [p for p in files if any(part.startswith(".") for part in p.relative_to(root).parts)]
    files = [p for p in files if p not in hidden]
    with system_transaction() as conn:
        project = _project_named(conn, args.project)
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

    from db.core.engine import system_transaction
    from db.files.reconcile import reconcile

    require_migrated()
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
    from db.tools import backup

    require_migrated()
    manifest = backup.backup(Path(args.path))
    local = sum(1 for o in manifest.objects if o["provider"] == "local")
    print(
        f"backed up {manifest.documents:,} documents, {manifest.audit_rows:,} audit rows and"
        f" {len(manifest.objects):,} objects ({local:,} copied from the local folder, the rest listed"
        f" where they are) into {args.path}"
    )


def _restore(args) -> None:
    from db.tools import backup

    report = backup.restore(Path(args.path))
    for problem in report.problems:
        print(f"problem: {problem}")
    print(
        f"restored {report.documents:,} documents, {report.audit_rows:,} audit rows and"
        f" {report.objects_restored:,} objects; every object checked against its SHA-256"
    )
    if report.problems:
        raise CommandError(f"{len(report.problems)} problem(s) after the restore")
    upgrade()  # a backup from an older ProSync is brought to this one's schema


def _reindex_text(args) -> None:
    from db.core.engine import system_transaction
    from db.domain import search
    from db.files import fulltext

    require_migrated()
    project_id = None
    with system_transaction() as conn:
        if args.project:
            project_id = _project_named(conn, args.project).id
        changed = search.relanguage(conn)
        queued = search.queue_missing_text(conn, project_id=project_id, again=args.again)
        language = search.language(conn)
    if changed:
        print(f"{changed} documents' words taken again in {language!r}")
    print(f"{queued} documents wait for their text")
    # Stored with the command line's rights (the audit's actor is empty, as for every command),
    # whoever approved the document: they may have lost access to it since.
    done = fulltext.index_all(system_transaction, lambda _actor: system_transaction)
    with system_transaction() as conn:
        left = search.queued(conn)
    print(f"text extracted for {done} documents; {left} still waiting (see the log for why)")


def add(commands) -> None:
    """Register this group's commands on the `prosync` parser."""
    ingest = commands.add_parser("ingest", help="stage every file of a folder for review")
    ingest.add_argument("path", help="a folder (read recursively) or one file")
    ingest.add_argument("--project", required=True, help="the project's name")
    ingest.add_argument("--as", dest="as_email", help="upload as this user (their permissions apply)")
    ingest.add_argument("--notes", help="notes for the reviewers, on every file")
    ingest.add_argument("--workers", type=int, default=4, help="files stored at a time")
    ingest.set_defaults(func=_ingest)

    text_ = commands.add_parser(
        "reindex-text", help="extract the text of documents that have none, for search inside files"
    )
    text_.add_argument(
        "--project", help="queue only this project's documents without text (the whole queue is then read)"
    )
    text_.add_argument(
        "--again", action="store_true", help="also read again the files that gave no text (after a failure)"
    )
    text_.set_defaults(func=_reindex_text)

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
