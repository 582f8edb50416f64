"""Text for search inside files (db/files/fulltext.py): read after approval by the indexer, as the
approver; a PDF's text in the worker process, so a hostile PDF fails only its own text; types with
no text say why; several indexers at once take each document once."""

from __future__ import annotations

import io
import threading
from functools import partial

import pytest
from PIL import Image
from sqlalchemy import text

from db.core.engine import transaction
from db.domain import search
from db.files import fulltext, ingest, previews
from db.tools.demo import pdf_bytes, png_bytes
from tests.db.files import file_team, unit


@pytest.fixture(scope="module")
def team(server_url, tmp_path_factory):
    with file_team(server_url, tmp_path_factory, "fulltext") as made:
        yield made


def _document(team, name: str, data: bytes):
    engine, project, owner, reviewer, _ = team
    staged = ingest.try_stage(unit(engine, owner), project_id=project.id, name=name, stream=io.BytesIO(data))
    assert staged.status == "staged", staged.message
    outcome = ingest.approve_file(unit(engine, reviewer), ingest_id=staged.staged.id)
    assert outcome.status == "approved", outcome.message
    return outcome.document


def _index(team, **kwargs) -> int:
    """The indexer of a dashboard process: it claims as the application and stores as each approver."""
    engine, _, owner, reviewer, _ = team
    people = {owner.id: owner, reviewer.id: reviewer}
    claim = partial(transaction, actor_id=None, engine=engine)
    as_approver = lambda actor: unit(engine, people.get(actor))  # noqa: E731
    return fulltext.index_all(claim, as_approver, made_by_users=True, **kwargs)


def _state(team, document) -> search.TextState:
    engine, _, _, reviewer, _ = team
    with unit(engine, reviewer)() as conn:
        return search.text_state(conn, document_id=document.id)


def _found(team, query: str) -> set[str]:
    engine, _, _, reviewer, _ = team
    with unit(engine, reviewer)() as conn:
        return {hit.document.name for hit in search.search_documents(conn, query=query, limit=100).rows}


def test_each_readable_type_gets_its_text_after_approval_and_is_found_by_it(team):
    made = [
        _document(team, "manual.pdf", pdf_bytes("Pump manual", ["Bleed the hydraulic circuit first."])),
        _document(team, "notes.txt", b"The hydraulic hose was replaced.\n"),
        _document(team, "readme.md", b"# Setup\n\n*hydraulic* `press` settings"),
        _document(team, "parts.csv", b"part,qty\nhydraulic filter,4\n"),
        _document(team, "config.json", b'{"circuit": "hydraulic", "bar": 210}'),
    ]
    assert all(_state(team, d).status == "waiting" for d in made), "nothing is read inside the approval"
    assert _index(team) >= len(made)
    assert all(_state(team, d).status == "extracted" for d in made)
    assert _found(team, "hydraulic") >= {d.name for d in made}
    assert _found(team, '"bleed the hydraulic circuit"') == {"manual.pdf"}


def test_a_file_with_no_text_says_why_and_is_not_tried_again(team):
    engine = team[0]
    out = io.BytesIO()
    Image.new("RGB", (200, 300), (240, 240, 240)).save(out, format="PDF")
    scan = _document(team, "scan.pdf", out.getvalue())
    image = _document(team, "photo.png", png_bytes(40, 30, (10, 120, 200)))
    _index(team)
    assert _state(team, scan) == search.TextState("none", 0, "the PDF has no text layer (a scan without OCR)")
    assert _state(team, image).reason == "no text is read from images (there is no OCR)"
    with engine.connect() as conn:
        assert (
            conn.execute(
                text("select count(*) from documents.text_queue where document_id = any(:ids)"),
                {"ids": [scan.id, image.id]},
            ).scalar_one()
            == 0
        )


def test_a_pdf_that_crashes_the_reader_fails_only_its_own_text(team, monkeypatch):
    """The worker is swapped for one that dies with SIGSEGV (as pdfium has): a real process, with
    the real parent around it. The plain-text file of the same round is read as before."""
    hostile = _document(team, "hostile.pdf", pdf_bytes("Hostile", ["crankshaft"]))
    plain = _document(team, "plain.txt", b"crankshaft alignment")
    monkeypatch.setattr(previews, "WORKER_MODULE", "tests.db.files.preview_workers.crash")
    _index(team)
    state = _state(team, hostile)
    assert state.status == "none" and "stopped on this file" in state.reason
    assert _state(team, plain).status == "extracted"
    assert _found(team, "crankshaft") == {"plain.txt"}


def test_reindex_again_reads_the_files_that_failed(team, monkeypatch):
    engine, project = team[0], team[1]
    document = _document(team, "retried.pdf", pdf_bytes("Retried", ["camshaft"]))
    monkeypatch.setattr(previews, "WORKER_MODULE", "tests.db.files.preview_workers.crash")
    _index(team)
    assert _state(team, document).status == "none"
    monkeypatch.undo()
    with unit(engine, None)() as conn:
        assert search.queue_missing_text(conn, project_id=project.id) == 0, "a failure is an answer"
        assert search.queue_missing_text(conn, project_id=project.id, again=True) >= 1
    fulltext.index_all(unit(engine, None), lambda actor: unit(engine, None))
    assert _state(team, document).status == "extracted" and _found(team, "camshaft") == {"retried.pdf"}


def test_a_pdf_text_is_read_in_the_worker_and_capped(team):
    lines = [f"line {n} of the long report with words" for n in range(40)]
    read = fulltext.extract_text(io.BytesIO(pdf_bytes("Long", lines)), "application/pdf")
    assert read.failure is None and "line 39 of the long report" in read.text
    big = fulltext.extract_text(io.BytesIO(b"word " * 200_000), "text/plain")
    assert len(search.clean(big.text)) == search.MAX_CHARS
    damaged = fulltext.extract_text(io.BytesIO(b"%PDF-1.7\n" + b"\x00garbage" * 100), "application/pdf")
    assert damaged.text == "" and "could not be read as a PDF" in damaged.failure


def test_indexers_running_at_once_read_each_document_once(team):
    engine = team[0]
    made = [_document(team, f"batch-{n}.txt", f"gearbox batch {n}".encode()) for n in range(12)]
    start = threading.Barrier(3)

    def indexer():
        start.wait()
        _index(team, limit=2)

    threads = [threading.Thread(target=indexer) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    with engine.connect() as conn:
        writes = conn.execute(
            text(
                "select action, count(*) from audit.audit_log where table_name = 'document_text'"
                " and record_id = any(:ids) group by action"
            ),
            {"ids": [str(d.id) for d in made]},
        ).all()
    assert dict(writes) == {"insert": 12}, "each text stored once, by one indexer"


def test_a_missing_file_is_an_answer_and_a_failing_document_does_not_stop_its_round(team, monkeypatch):
    folder = team[4]
    gone = _document(team, "gone.txt", b"bilge pump log")
    broken = _document(team, "broken.txt", b"bilge alarm")
    fine = _document(team, "fine.txt", b"bilge keel")
    (folder / gone.object_key).unlink()
    real = fulltext.extract_text

    def explode(stream, mime_type):
        data = stream.read()
        if b"alarm" in data:
            raise RuntimeError("a bug in a reader")
        return real(io.BytesIO(data), mime_type)

    monkeypatch.setattr(fulltext, "extract_text", explode)
    _index(team)
    assert _state(team, gone) == search.TextState(
        "none", 0, "The file is missing from storage; run `prosync reconcile`."
    )
    assert _state(team, fine).status == "extracted"
    assert _state(team, broken).status == "waiting", "left queued for a later round"
