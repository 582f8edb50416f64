"""The HTTP API measured over HTTP, against `uvicorn dashboard.api.app:standalone` in a process of its
own (as `prosync api` runs it): ingest (uploads in batches, then the reviewer's bulk approval,
`workers` clients at a time) against the bare write of the same bytes; the list endpoints' p95; and
one large upload with the server's memory watched."""

from __future__ import annotations

import base64
import http.client
import json
import os
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time
import uuid
import zlib
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from urllib.parse import urlencode

from sqlalchemy import Engine, text

from db.core.engine import acting_as, system_transaction
from db.core.errors import Conflict
from db.domain import tokens
from db.files import ingest
from db.tools.bench.render import QUIET, rss_mb
from db.tools.bench.report import Context, Ratio, Timing, percentile
from db.tools.bench.writes import bare_rate, bench_files
from db.tools.processes import api_argv, free_port, wait_until_up

BATCH = 50  # files per upload request, and ids per bulk approval
LIST_TARGET_MS = 20.0


@contextmanager
def api_server(env: dict[str, str] | None = None) -> Iterator[tuple[str, int]]:
    """The API alone on a free loopback port with this process's settings (and `env`); (base URL, pid)."""
    port = free_port()
    argv = [sys.executable, "-m", *api_argv("127.0.0.1", port), "--no-access-log", "--log-level", "warning"]
    environment = {**os.environ, "PROSYNC_API_RATE_PER_MINUTE": "100000000", **QUIET, **(env or {})}
    log = tempfile.TemporaryFile()  # a pipe nobody reads could fill and stop the server
    process = subprocess.Popen(argv, env=environment, stdout=subprocess.DEVNULL, stderr=log)
    url = f"http://127.0.0.1:{port}"
    try:
        if not wait_until_up(url + "/api/v1/health", seconds=60):
            process.kill()
            log.seek(0)
            said = log.read().decode(errors="replace")[-1500:]
            raise Conflict("the API did not come up: " + said)
        yield url, process.pid
    finally:
        process.terminate()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


def make_token(owner_engine: Engine, user_id: int, project_id: int | None, scopes: list[str]) -> str:
    """A token of the user's for one project, or all theirs (None); the benchmark's own, revoked by
    `revoke_tokens`."""
    with system_transaction(engine=owner_engine) as conn, acting_as(conn, user_id):
        return tokens.create_token(
            conn, name=f"bench {uuid.uuid4()}", scopes=scopes,
            project_ids=None if project_id is None else [project_id], expires_days=1,
        ).secret  # fmt: skip


def revoke_tokens(owner_engine: Engine) -> None:
    with system_transaction(engine=owner_engine) as conn:
        conn.execute(
            text(
                "update auth.api_tokens set revoked_at = now(), revoke_reason = 'benchmark over'"
                " where name ~ '^bench [0-9a-f-]{36}$' and revoked_at is null"
            )
        )


class Client:
    """One keep-alive HTTP connection per thread, with the token."""

    def __init__(self, url: str, secret: str):
        self.host, self.port = url.removeprefix("http://").split(":")
        self.headers = {"Authorization": f"Bearer {secret}"}
        self.local = threading.local()

    def _conn(self) -> http.client.HTTPConnection:
        if getattr(self.local, "conn", None) is None:
            self.local.conn = http.client.HTTPConnection(self.host, int(self.port), timeout=300)
        return self.local.conn

    def request(self, method: str, path: str, body: bytes | None = None, headers: dict | None = None):
        conn = self._conn()
        try:
            conn.request(method, path, body=body, headers={**self.headers, **(headers or {})})
            response = conn.getresponse()
            data = response.read()
        except (http.client.HTTPException, OSError):
            self.local.conn = None
            raise
        if response.status >= 400:
            raise Conflict(f"{method} {path}: {response.status} {data[:300]!r}")
        return json.loads(data) if data else None


def multipart(files: list[tuple[str, bytes]]) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    parts = []
    for name, data in files:
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="files"; filename="{name}"\r\n'
            f"Content-Type: text/plain\r\n\r\n".encode()
        )
        parts += [data, b"\r\n"]
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


def measure_ingest(
    url: str, secret: str, project_id: int, store, *, provider: str, count: int, size: int, workers: int
) -> Ratio:
    """Files per second through /api/v1 (each client uploads BATCH files in one request, then
    approves them in one bulk approval), over bare writes of the same bytes."""
    client = Client(url, secret)
    items = list(bench_files(count, size, prefix="api"))
    batches = [items[i : i + BATCH] for i in range(0, count, BATCH)]

    def one_batch(batch: list[tuple[str, bytes]]) -> None:
        body, kind = multipart(batch)
        path = f"/api/v1/projects/{project_id}/uploads"
        answer = client.request("POST", path, body, {"Content-Type": kind})
        ids = [f["staged"]["id"] for f in answer["files"] if f["status"] == "staged"]
        if len(ids) != len(batch):
            raise Conflict(f"the API refused a benchmark file: {answer['files'][0]['message']}")
        decided = client.request(
            "POST", f"/api/v1/projects/{project_id}/staged/approve",
            json.dumps({"ids": ids}).encode(), {"Content-Type": "application/json"},
        )  # fmt: skip
        if any(r["status"] != "approved" for r in decided["results"]):
            raise Conflict(f"the API did not approve a benchmark file: {decided['results'][0]['message']}")

    started = time.perf_counter()
    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(one_batch, batches))
    product = count / (time.perf_counter() - started)
    bare, what = bare_rate(store, provider, count, size, workers)
    return Ratio(
        f"API ingest (upload + bulk approve over HTTP) / {what}, {count:,} files of {size // 1024} KB, "
        f"{provider}, {workers} clients",
        product / bare,
        0.8 if provider == "s3" else 0.5,
        f"{product:,.1f} vs {bare:,.1f} files/s",
    )


def page_cursor(ctx: Context) -> str:
    """The API's cursor (dashboard/api/cursors.py: URL-safe base64 of JSON [at, id]) of page 200."""
    plain = json.dumps([ctx.page_200.at.isoformat(), ctx.page_200.id], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(plain).decode().rstrip("=")


def list_cases(ctx: Context, cursor: str) -> list[tuple[str, str]]:
    p = ctx.project_id
    return [
        ("projects, first page", "/api/v1/projects?limit=50"),
        ("one project's summary", f"/api/v1/projects/{p}"),
        ("documents, first page", f"/api/v1/projects/{p}/documents?limit=50"),
        ("documents, 200th page (keyset)", f"/api/v1/projects/{p}/documents?limit=50&cursor={cursor}"),
        ("documents, name search", f"/api/v1/projects/{p}/documents?" + urlencode({"q": ctx.search})),
        ("audit trail, first page", f"/api/v1/projects/{p}/audit?limit=50"),
        ("review queue, first page", f"/api/v1/projects/{p}/staged?status=pending&limit=50"),
    ]


def measure_lists(url: str, secret: str, ctx: Context, runs: int, cursor: str) -> list[Timing]:
    """Each list endpoint `runs` times after one warm-up: the client's wall time per request."""
    client = Client(url, secret)
    timings = []
    for label, path in list_cases(ctx, cursor):
        client.request("GET", path)
        samples = []
        for _ in range(runs):
            started = time.perf_counter()
            answer = client.request("GET", path)
            samples.append((time.perf_counter() - started) * 1000)
        rows = len(answer["items"]) if isinstance(answer, dict) and "items" in answer else 1
        timings.append(
            Timing(
                screen="API", label=f"GET {label}", target_ms=LIST_TARGET_MS,
                median_ms=statistics.median(samples), p95_ms=percentile(samples, 0.95), rows=rows,
                partitions="", pruned=None, indexes=[], index_used=None,
            )
        )  # fmt: skip
    return timings


def stored_zip(size: int, block: bytes) -> tuple[bytes, int, bytes]:
    """A ZIP archive of one stored (uncompressed) entry of `size` bytes made of `block`: its head,
    how many blocks follow, and its tail (the central directory)."""
    name, count = b"data.bin", size // len(block)
    crc = 0
    for _ in range(count):
        crc = zlib.crc32(block, crc)
    local = struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, 0, 0, 0, crc, size, size, len(name), 0) + name
    central = struct.pack(
        "<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0, 0, 0, 0, crc, size, size, len(name), 0, 0, 0, 0, 0, 0
    ) + name  # fmt: skip
    end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 1, 1, len(central), len(local) + size, 0)
    return local, count, central + end


def measure_large_upload(url: str, pid: int, secret: str, project_id: int, size_mb: int) -> dict:
    """One archive of `size_mb` MB uploaded in a chunked request: the server's RSS before and at its
    peak (sampled every 50 ms), and the seconds it took."""
    host, port = url.removeprefix("http://").split(":")
    block = os.urandom(2**20)
    head, count, tail = stored_zip(size_mb * 2**20, block)
    baseline = rss_mb(pid)
    peak, stop = [baseline], threading.Event()

    def watch() -> None:
        while not stop.is_set():
            peak.append(rss_mb(pid))
            time.sleep(0.05)

    def chunks() -> Iterator[bytes]:
        yield (
            b'--b\r\nContent-Disposition: form-data; name="files"; filename="bench-large.zip"\r\n\r\n' + head
        )
        for _ in range(count):
            yield block
        yield tail + b"\r\n--b--\r\n"

    watcher = threading.Thread(target=watch)
    watcher.start()
    started = time.perf_counter()
    try:
        conn = http.client.HTTPConnection(host, int(port), timeout=600)
        conn.request(
            "POST", f"/api/v1/projects/{project_id}/uploads", body=chunks(), encode_chunked=True,
            headers={"Authorization": f"Bearer {secret}", "Content-Type": "multipart/form-data; boundary=b",
                     "Transfer-Encoding": "chunked"},
        )  # fmt: skip
        response = conn.getresponse()
        answer = json.loads(response.read())
    finally:
        stop.set()
        watcher.join()
    seconds = time.perf_counter() - started
    [result] = answer["files"]
    if result["status"] != "staged":
        raise Conflict(f"the large upload was not staged: {result['message']}")
    return {
        "size_mb": size_mb, "baseline_mb": baseline, "peak_mb": max(peak),
        "growth_mb": max(peak) - baseline, "seconds": seconds, "ingest_id": result["staged"]["id"],
    }  # fmt: skip


@contextmanager
def larger_archives(owner_engine: Engine, size_mb: int) -> Iterator[None]:
    """ZIP archives may be `size_mb` MB (and a bit) for the block; the limit is put back after."""
    with system_transaction(engine=owner_engine) as conn:
        before = conn.execute(
            text(
                "select max_size_bytes from documents.filetype_reference where mime_type = 'application/zip'"
            )
        ).scalar_one()
        conn.execute(
            text("update documents.filetype_reference set max_size_bytes = greatest(max_size_bytes, :n)"
                 " where mime_type = 'application/zip'"),
            {"n": (size_mb + 1) * 2**20},
        )  # fmt: skip
    try:
        yield
    finally:
        with system_transaction(engine=owner_engine) as conn:
            conn.execute(
                text(
                    "update documents.filetype_reference set max_size_bytes = :n"
                    " where mime_type = 'application/zip'"
                ),
                {"n": before},
            )


def forget_large_upload(unit: Callable, ingest_id: int) -> None:
    """The large upload rejected and purged again (its row and its object)."""
    ingest.reject_file(unit, ingest_id=ingest_id, reason="benchmark upload")
    ingest.purge_file(unit, ingest_id=ingest_id)
