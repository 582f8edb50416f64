"""The Upload and Review screens (pages/upload.py, pages/review.py) in AppTest: each file's result
line, decisions checked in the database. One file for the two: they share the demo's review queue,
and the review tests decide the oldest pending files, which the upload tests expect to find first."""

import time

from dashboard.ui import OWN_WRITES_SECONDS, md
from db.tools.demo import pdf_bytes, png_bytes
from tests.pages.helpers import by_label, run_page, scalar


def _pending(name: str) -> int:
    return scalar(
        "select count(*) from staging.documents_ingest where original_name = :n and status = 'pending'",
        n=name,
    )


def test_viewers_and_ops_are_told_they_cannot_upload_or_review(demo_env):
    for login in ("viewer@example.com", "ops@example.com"):
        assert "lets you upload" in run_page("upload", login).info[0].value
        assert "lets you review" in run_page("review", login).info[0].value
    assert "lets you review" in run_page("review", "contributor@example.com").info[0].value


def test_contributor_uploads_files_and_each_gets_its_own_line(demo_rw_env):
    existing = scalar(
        "select original_name from staging.pending_documents where project_name = 'Apollo Onboarding' limit 1"
    )
    existing_bytes_checksum = scalar(
        "select checksum from staging.documents_ingest where original_name = :n", n=existing
    )
    project = scalar("select id from projects.projects where name = 'Apollo Onboarding'")
    at = run_page("upload", "contributor@example.com", query={"project": str(project)})
    assert not at.exception
    new_pdf = pdf_bytes("Upload screen test")
    at.file_uploader(key="upload-files").set_value(
        [
            ("upload-screen.pdf", new_pdf, "application/pdf"),
            ("sneaky.pdf", png_bytes(4, 4, (1, 1, 1)), "application/pdf"),
            ("setup.exe", b"MZ" + b"\0" * 64, "application/x-msdownload"),
        ]
    )
    by_label(at.text_area, "Notes for the reviewer").input("Please check the figures")
    by_label(at.text_area, "Metadata").input("client: Acme\ncontract: 2026-114")
    by_label(at.button, "Upload for review").click()
    at.run()
    assert not at.exception
    assert md("upload-screen.pdf") in at.success[0].value and "staged for review" in at.success[0].value
    errors = [e.value for e in at.error]
    assert any(md("sneaky.pdf ends in .pdf, but its bytes are a PNG image") in e for e in errors)
    assert any(md("setup.exe is a Windows executable") in e for e in errors)
    assert _pending("upload-screen.pdf") == 1
    assert (
        scalar(
            "select metadata->>'contract' from staging.documents_ingest"
            " where original_name = 'upload-screen.pdf'"
        )
        == "2026-114"
    )
    assert (
        scalar(
            "select count(*) from staging.documents_ingest where original_name in ('sneaky.pdf', 'setup.exe')"
        )
        == 0
    )
    recent = at.dataframe[-1].value
    assert "upload-screen.pdf" in list(recent["File"])
    assert existing_bytes_checksum  # the demo has pending files to collide with below


def test_a_duplicate_upload_is_reported_and_bad_metadata_refused(demo_rw_env):
    project = scalar("select id from projects.projects where name = 'Apollo Onboarding'")
    at = run_page("upload", "contributor@example.com", query={"project": str(project)})
    data = b"duplicate check for the upload screen\n"
    at.file_uploader(key="upload-files").set_value([("first.txt", data, "text/plain")])
    by_label(at.button, "Upload for review").click()
    at.run()
    at.file_uploader(key="upload-files").set_value([("second.txt", data, "text/plain")])
    by_label(at.button, "Upload for review").click()
    at.run()
    assert (
        "Duplicate" in at.warning[0].value
        and md("already waiting for review (as first.txt") in at.warning[0].value
    )
    at.file_uploader(key="upload-files").set_value([("third.txt", b"other", "text/plain")])
    by_label(at.text_area, "Metadata").input("no colon here")
    by_label(at.button, "Upload for review").click()
    at.run()
    assert md("needs the form 'key: value'") in at.error[0].value
    assert _pending("third.txt") == 0


def _select(at, key: str, rows: list[int]):
    at.session_state[key] = {"selection": {"rows": rows, "columns": [], "cells": []}}
    return at.run()


def test_reviewer_sees_the_queue_oldest_first_and_approves_one(demo_rw_env):
    at = run_page("review", "reviewer@example.com")
    assert not at.exception
    queue = at.dataframe[0].value
    assert list(queue["Uploaded"]) == sorted(queue["Uploaded"])
    oldest = queue["File"][0]
    at = _select(at, "queue-0", [0])
    assert not at.exception
    assert any(md(oldest) == h.value for h in at.subheader)
    by_label(at.text_input, "Reviewer notes").input("Checked against the contract")
    by_label(at.button, "Approve").click()
    at.run()
    assert not at.exception
    assert (
        scalar(
            "select status || ':' || reviewer_notes from staging.documents_ingest where original_name = :n",
            n=oldest,
        )
        == "approved:Checked against the contract"
    )
    assert scalar("select count(*) from documents.active_documents where name = :n", n=oldest) == 1
    assert oldest not in list(at.dataframe[0].value["File"])


def test_rejecting_needs_a_reason_and_bulk_decisions_report_each_file(demo_rw_env):
    at = run_page("review", "reviewer@example.com")
    names = list(at.dataframe[0].value["File"][:3])
    at = _select(at, "queue-0", [0])
    by_label(at.button, "Reject").click()
    at.run()
    assert "needs a reason" in at.error[0].value
    assert _pending(names[0]) == 1

    at = _select(at, "queue-0", [1, 2])
    assert any(h.value == "2 files selected" for h in at.subheader)
    by_label(at.text_input, "Reason for rejecting them all").input("Belongs to another project")
    by_label(at.button, "Reject 2 files").click()
    at.run()
    assert not at.exception
    for name in names[1:]:
        assert (
            scalar("select rejection_reason from staging.documents_ingest where original_name = :n", n=name)
            == "Belongs to another project"
        )


def test_a_rejected_file_is_reopened_from_the_rejected_tab(demo_rw_env):
    at = run_page("review", "reviewer@example.com")
    rejected = at.dataframe[1].value
    name = rejected["File"][0]
    at = _select(at, "rejected-0", [0])
    by_label(at.button, "Reopen for review").click()
    at.run()
    assert not at.exception
    assert _pending(name) == 1


def _wrote_just_now(at) -> bool:
    """Whether the session is marked as having just written, so its next reads go to the primary."""
    if "wrote_at" not in at.session_state:
        return False
    return time.monotonic() - at.session_state["wrote_at"] < OWN_WRITES_SECONDS


def test_an_upload_and_bulk_decisions_send_the_next_reads_to_the_primary(demo_rw_env):
    """Found: the upload and the bulk approve and reject wrote around the screens' write helper, so
    with a read replica (DATABASE_READ_URL) the screen after them could read from a replica that
    had not replayed them yet."""
    project = scalar("select id from projects.projects where name = 'Apollo Onboarding'")
    at = run_page("upload", "contributor@example.com", query={"project": str(project)})
    at.file_uploader(key="upload-files").set_value([("own-writes.txt", b"my own upload\n", "text/plain")])
    by_label(at.button, "Upload for review").click()
    at.run()
    assert not at.exception and _pending("own-writes.txt") == 1
    assert _wrote_just_now(at)

    for verb, button in (("approved", "Approve 2 files"), ("rejected", "Reject 2 files")):
        at = run_page("review", "reviewer@example.com")
        names = list(at.dataframe[0].value["File"][:2])
        at = _select(at, "queue-0", [0, 1])
        assert not _wrote_just_now(at)
        if verb == "rejected":
            by_label(at.text_input, "Reason for rejecting them all").input("Not for this project")
        by_label(at.button, button).click()
        at.run()
        assert not at.exception
        assert _wrote_just_now(at), verb
        for name in names:
            status = scalar("select status from staging.documents_ingest where original_name = :n", n=name)
            assert status == verb, name


def test_a_pending_scan_is_shown_without_decoding_it_in_the_server(demo_rw_env):
    """A TIFF is decoded only in the preview worker, with its limits: before approval the Review
    screen says so instead of handing the file to Streamlit's image handling in the server."""
    import io

    from PIL import Image

    out = io.BytesIO()
    Image.new("L", (300, 400), 90).save(out, format="TIFF", compression="tiff_lzw")
    project = scalar("select id from projects.projects where name = 'Apollo Onboarding'")
    at = run_page("upload", "contributor@example.com", query={"project": str(project)})
    at.file_uploader(key="upload-files").set_value([("pending-scan.tif", out.getvalue(), "image/tiff")])
    by_label(at.button, "Upload for review").click()
    at.run()
    assert not at.exception and md("staged for review (TIFF image (scans)") in at.success[0].value
    at = run_page("review", "reviewer@example.com")
    files = list(at.dataframe[0].value["File"])
    at = _select(at, "queue-0", [files.index("pending-scan.tif")])
    assert not at.exception
    assert any("preview is made when it is approved" in c.value for c in at.caption)
    assert not at.get("imgs")
