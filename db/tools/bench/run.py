"""`prosync bench` from end to end: the reads, the writes and ingest (against a loopback S3 when
moto is installed), and the screens' renders in Chromium."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import partial

from sqlalchemy import Engine

from db.core.engine import as_system, read_only
from db.core.errors import Conflict
from db.core.settings import get_settings
from db.tools.bench.reads import cases, context, time_case
from db.tools.bench.report import (
    Report,
    Timing,
    machine,
    mark,
    percentile,
    server_version,
)
from db.tools.bench.writes import (
    forget_bench_documents,
    ingest_round,
    measure_ingest,
    measure_writes,
    vacuum_churned,
)
from db.tools.demo import DEMO_PASSWORD
from db.tools.processes import free_port, wait_until_up


@contextmanager
def moto_endpoint() -> Iterator[bool]:
    """Uploads go to a fresh bucket on moto's S3 server on loopback for the block (a real S3 HTTP
    endpoint in a process of its own, as S3 is; the bare put_object writes to the same one);
    False when moto is not installed."""

    try:
        import moto.server  # noqa: F401
    except ImportError:
        yield False
        return
    import boto3

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
    api: bool = True,
    large_mb: int = 1024,
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
    # Picking the sample reads across projects, as the command line.
    with read_only(actor_id=None, engine=owner_engine) as conn, as_system(conn):
        ctx = context(conn)
    # What an earlier run (stopped half-way) left; each ingest measurement removes its own after it.
    if forget_bench_documents(owner_engine, ctx.project_id, ctx.lead_id):
        with read_only(actor_id=None, engine=owner_engine) as conn, as_system(conn):
            ctx = context(conn)
    vacuum_churned(owner_engine)
    progress(
        f"lead's biggest project: {ctx.project_documents:,} documents; searching names for {ctx.search!r}"
    )
    for case in cases():
        timing = time_case(read_engine, ctx, case, runs)
        report.timings.append(timing)
        progress(f"{case.screen:<12} {case.label:<45} p95 {timing.p95_ms:9.2f} ms  {mark(timing.within)}")
    if writes:
        for ratio in measure_writes(engine, ctx, owner_engine=owner_engine):
            report.ratios.append(ratio)
            progress(f"{ratio.label:<70} {ratio.measured:.2f}  {mark(ratio.within)}")
    if ingest:
        with ingest_round(owner_engine, ctx):
            ratio = measure_ingest(engine, ctx, provider="local", count=files, workers=workers)
        report.ratios.append(ratio)
        progress(f"{ratio.label:<70} {ratio.measured:.2f}")
        with moto_endpoint() as available:
            if available:
                with ingest_round(owner_engine, ctx):
                    ratio = measure_ingest(engine, ctx, provider="s3", count=files, workers=workers)
                report.ratios.append(ratio)
                progress(f"{ratio.label:<70} {ratio.measured:.2f}  {mark(ratio.within)}")
            else:
                report.notes.append(
                    "S3 ingest not measured: moto is not installed (`pip install -e .[test]`)."
                )
    if api:
        measure_api(report, engine, owner_engine, ctx, runs=runs, files=files, workers=workers,
                    large_mb=large_mb, progress=progress)  # fmt: skip
    return report


def measure_api(
    report: Report, engine: Engine, owner_engine: Engine, ctx, *, runs: int, files: int, workers: int,
    large_mb: int, progress: Callable[[str], None],
) -> None:  # fmt: skip
    """The HTTP API over HTTP (db/tools/bench/api.py): the list endpoints' p95, ingest on the local
    folder and on S3, one large upload; each against a server process of its own."""
    from db.core.engine import transaction
    from db.files import storage
    from db.tools.bench import api as bench_api

    # Lists as a script reading everything its user may see; ingest as a pipeline for one project.
    reader = bench_api.make_token(owner_engine, ctx.lead_id, None, ["read", "review"])
    secret = bench_api.make_token(owner_engine, ctx.lead_id, ctx.project_id, ["read", "upload", "review"])
    vacuum_churned(owner_engine)  # the writes and ingest measured before left dead rows
    try:
        with bench_api.api_server() as (url, pid):
            cursor = bench_api.page_cursor(ctx)
            for timing in bench_api.measure_lists(url, reader, ctx, max(runs * 3, 5), cursor):
                report.timings.append(timing)
                progress(f"{timing.screen:<12} {timing.label:<45} p95 {timing.p95_ms:9.2f} ms")
            if files:
                with transaction(actor_id=ctx.lead_id, engine=engine) as conn:
                    store = storage.upload_store(conn)
                with ingest_round(owner_engine, ctx):
                    ratio = bench_api.measure_ingest(
                        url, secret, ctx.project_id, store, provider="local", count=files,
                        size=256 * 1024, workers=workers,
                    )  # fmt: skip
                report.ratios.append(ratio)
                progress(f"{ratio.label:<70} {ratio.measured:.2f}  {mark(ratio.within)}")
            if large_mb:
                unit = partial(transaction, actor_id=ctx.lead_id, engine=engine)
                with bench_api.larger_archives(owner_engine, large_mb):
                    large = bench_api.measure_large_upload(url, pid, secret, ctx.project_id, large_mb)
                bench_api.forget_large_upload(unit, large.pop("ingest_id"))
                report.api_upload = large
                progress(
                    f"API upload of {large_mb:,} MB: server RSS +{large['growth_mb']:.0f} MB (target < 100)"
                    f" in {large['seconds']:.1f} s"
                )
        if files:
            with moto_endpoint() as available:
                if available:
                    with bench_api.api_server() as (url, _pid):
                        with transaction(actor_id=ctx.lead_id, engine=engine) as conn:
                            store = storage.upload_store(conn)
                        with ingest_round(owner_engine, ctx):
                            ratio = bench_api.measure_ingest(
                                url, secret, ctx.project_id, store, provider="s3", count=files,
                                size=256 * 1024, workers=workers,
                            )  # fmt: skip
                    report.ratios.append(ratio)
                    progress(f"{ratio.label:<70} {ratio.measured:.2f}  {mark(ratio.within)}")
    finally:
        bench_api.revoke_tokens(owner_engine)


def measure_renders(report: Report, *, progress: Callable[[str], None] = lambda line: None) -> None:
    """Add each screen's first complete render in Chromium, and the server's memory, to `report`."""
    from db.tools.bench import render

    missing = render.available()
    if missing:
        report.notes.append(f"First renders not measured: {missing}.")
        return
    timings, memory = render.measure(DEMO_PASSWORD, runs=max(1, min(report.runs, 5)), progress=progress)
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
