"""No upload can crash the server: previews (db/files/previews.py) are rendered in worker processes
with limits (db/files/preview_worker.py). (Decompression bombs refused at upload: test_filetypes.py.)

Found: rendering PDF previews from several threads at once killed the server process (pdfium is
not thread-safe, and db/files/previews.py called it from Streamlit's script threads); a 100-megapixel PNG
passed the checks and its preview decoded the whole image in the server's memory.

A database of its own with committed rows: approvals run at once from eight threads, each in its
own transactions, as eight reviewers' would."""

from __future__ import annotations

import io
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from PIL import Image

from db.core.engine import transaction
from db.files import ingest, previews, storage
from tests.db.files import file_team, unit

WORKERS = Path(__file__).resolve().parent / "preview_workers"


def _pdf(n: int) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (300 + n, 400), (n * 20 % 255, 90, 160)).save(out, format="PDF")
    return out.getvalue()


def _png(width: int, height: int, mode: str = "L") -> bytes:
    out = io.BytesIO()
    Image.new(mode, (width, height), 0).save(out, format="PNG")
    return out.getvalue()


@pytest.fixture(scope="module")
def team(server_url, tmp_path_factory):
    with file_team(server_url, tmp_path_factory, "previews") as made:
        yield made


def _stage(team, name: str, data: bytes):
    engine, project, owner, _, _ = team
    outcome = ingest.try_stage(unit(engine, owner), project_id=project.id, name=name, stream=io.BytesIO(data))
    assert outcome.status == "staged", outcome.message
    return outcome.staged


def test_eight_pdf_approvals_at_once_each_get_a_preview_and_the_server_stays_up(team):
    engine, _, _, reviewer, folder = team
    staged = [_stage(team, f"report-{n}.pdf", _pdf(n)) for n in range(8)]
    barrier = threading.Barrier(8)

    def approve(file):
        barrier.wait()
        return ingest.approve_file(unit(engine, reviewer), ingest_id=file.id)

    with ThreadPoolExecutor(8) as pool:
        outcomes = list(pool.map(approve, staged))
    assert [o.status for o in outcomes] == ["approved"] * 8
    assert [o.message for o in outcomes] == ["approved"] * 8
    for file in staged:
        preview = folder / storage.preview_key(file.checksum)
        assert preview.read_bytes().startswith(b"\x89PNG")


@pytest.mark.parametrize(
    ("worker", "reason"),
    [
        ("crash", "the renderer stopped on this file"),
        ("hang", "took longer than"),
        ("spin", "processor time"),
        ("hog", "MB of memory"),
    ],
)
def test_a_file_that_crashes_or_hangs_the_renderer_fails_only_its_own_preview(
    team, monkeypatch, worker, reason
):
    """The renderer is swapped for one that dies (SIGSEGV, as pdfium did), sleeps, spins on the CPU
    or allocates without end: real processes and real limits, with the real parent around them."""
    engine, _, _, reviewer, _ = team
    monkeypatch.setattr(previews, "WORKER_MODULE", f"tests.db.files.preview_workers.{worker}")
    # The memory hog gets time enough to reach its limit on a busy machine (zeroing pages costs CPU).
    monkeypatch.setattr(previews, "WALL_SECONDS", 15 if worker == "hog" else 3)
    monkeypatch.setenv("PROSYNC_PREVIEW_CPU_SECONDS", "10" if worker == "hog" else "1")
    monkeypatch.setenv("PROSYNC_PREVIEW_MEMORY_BYTES", str(200 * 1024 * 1024))
    file = _stage(team, f"{worker}.pdf", _pdf(40 + len(worker)))
    outcome = ingest.approve_file(unit(engine, reviewer), ingest_id=file.id)
    assert outcome.status == "approved" and outcome.document is not None
    assert outcome.message.startswith("approved; no preview: ") and reason in outcome.message
    assert outcome.document.preview_key is None


def test_a_scanned_tiff_is_previewed_by_its_first_page(team):
    engine, _, _, reviewer, folder = team
    pages = [Image.new("RGB", (800, 1100), colour) for colour in ((200, 30, 30), (30, 200, 30))]
    out = io.BytesIO()
    pages[0].save(out, format="TIFF", save_all=True, append_images=pages[1:], compression="tiff_lzw")
    file = _stage(team, "scan.tiff", out.getvalue())
    outcome = ingest.approve_file(unit(engine, reviewer), ingest_id=file.id)
    assert outcome.message == "approved" and outcome.document.preview_key
    preview = Image.open(folder / outcome.document.preview_key).convert("RGB")
    assert max(preview.size) == 480 and preview.getpixel((10, 10)) == (200, 30, 30)
    bilevel = io.BytesIO()
    Image.new("1", (2480, 3508), 0).save(bilevel, format="TIFF", compression="group4")
    made = previews.render_preview(io.BytesIO(bilevel.getvalue()), "image/tiff")
    assert made.png is not None and Image.open(io.BytesIO(made.png)).convert("L").getpixel((5, 5)) == 0


def test_a_damaged_pdf_is_approved_without_a_preview_and_says_why(team):
    engine, _, _, reviewer, _ = team
    made = previews.render_preview(io.BytesIO(b"%PDF-1.7\n" + b"\x00garbage" * 100), "application/pdf")
    assert made.png is None and "could not be read as a PDF" in made.reason


def test_a_100_megapixel_image_is_previewed_within_the_workers_memory_or_not_at_all(team, monkeypatch):
    """Past the upload check (a file staged before it existed), a 100-megapixel image's preview runs
    out of the worker's memory, not the server's: the approval goes through and says why."""
    engine, project, owner, reviewer, folder = team
    data = _png(10_000, 10_000, "RGBA")
    checksum = __import__("hashlib").sha256(data).hexdigest()
    key = storage.object_key(checksum)
    (folder / key).parent.mkdir(parents=True, exist_ok=True)
    (folder / key).write_bytes(data)
    from db.core.types import NewStagedFile
    from db.domain import staging

    with transaction(actor_id=owner.id, engine=engine) as conn:
        [staged] = staging.enqueue_many(
            conn,
            project_id=project.id,
            files=[NewStagedFile(original_name="huge.png", checksum=checksum, size_bytes=len(data),
                                 detected_mime="image/png", storage_code="local", object_key=key)],
        )  # fmt: skip
    monkeypatch.setenv("PROSYNC_PREVIEW_MEMORY_BYTES", str(256 * 1024 * 1024))
    outcome = ingest.approve_file(unit(engine, reviewer), ingest_id=staged.id)
    assert outcome.status == "approved"
    assert outcome.message == "approved; no preview: it needed more than 256 MB of memory"


def test_the_worker_gets_no_secret_from_the_server(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgresql://owner:secret@db/prosync")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "also-secret")
    env = previews._worker_environment()
    assert not {"DATABASE_URL", "AWS_SECRET_ACCESS_KEY", "PROSYNC_SECRET_KEY"} & set(env)
    assert sys.executable  # the worker runs this same interpreter
