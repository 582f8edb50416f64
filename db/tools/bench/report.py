"""The benchmark's figures: what was timed, its targets, and the report as text, JSON and the
summary written to docs/benchmarks.md."""

from __future__ import annotations

import os
import platform
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path

from sqlalchemy import Connection, Engine, text

from db.core.types import Cursor


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
    text_common: str  # a word in about a fifth of the documents' text (generate.TEXT_WORDS)
    text_rare: str  # a reference code in about 20 documents' text


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
    api_upload: dict | None = None  # one large upload through the API: size, RSS before, peak, seconds
    notes: list[str] = field(default_factory=list)


def percentile(values: list[float], fraction: float) -> float:
    """The nearest-rank percentile (0.95: the p95 the benchmark and the load run print)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(fraction * len(ordered) + 0.5) - 1))]


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


def mark(within: bool | None) -> str:
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
            f"| {mark(t.within)} | {pruning} | {index} |"
        )
    if report.ratios:
        lines += ["", "| ratio | measured | target | | detail |", "| --- | ---: | ---: | --- | --- |"]
        for r in report.ratios:
            target = "" if r.target is None else f"≥ {r.target:g}"
            lines.append(f"| {r.label} | {r.measured:.2f} | {target} | {mark(r.within)} | {r.detail} |")
    if report.memory_mb is not None:
        lines += [
            "",
            f"Streamlit server RSS after visiting every screen: {report.memory_mb:,.0f} MB (target ≤ 400)",
        ]
    if report.api_upload is not None:
        large = report.api_upload
        within = "ok" if large["growth_mb"] < 100 else "MISSED"
        lines += [
            "",
            f"One {large['size_mb']:,} MB upload through the API: server RSS"
            f" {large['baseline_mb']:,.0f} MB before, {large['peak_mb']:,.0f} MB at its peak"
            f" (+{large['growth_mb']:,.0f} MB, target < 100: {within}); {large['seconds']:.1f} s",
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
