"""db/files/filetypes.py: what a file is, from its bytes, and what is refused before a byte is
stored: types not accepted, names that lie about the bytes or carry paths and control characters,
files over their type's limit, zip and decompression bombs, polyglots. Through ingest on both object
stores, where a refusal must leave nothing behind."""

import io
import zipfile

import pytest
from PIL import Image

from db.core.errors import InvalidInput
from db.files import filetypes
from db.tools.demo import pdf_bytes, png_bytes
from tests.conftest import acting, count
from tests.db.files.test_ingest import objects, stage, staged_rows


def zip_bomb() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("zeros.bin", b"\0" * (20 * 1024 * 1024))
    return out.getvalue()


def tiff(pages: list[Image.Image], **options) -> bytes:
    """A TIFF of these pages (a scan), compressed as the options say."""
    out = io.BytesIO()
    pages[0].save(out, format="TIFF", save_all=True, append_images=pages[1:], **options)
    return out.getvalue()


def big_endian_tiff(width: int, height: int) -> bytes:
    """A baseline TIFF in Motorola byte order (as some scanners write), grey, uncompressed."""
    import struct

    tags = [(256, 3, width), (257, 3, height), (258, 3, 8), (259, 3, 1), (262, 3, 1), (273, 4, 0),
            (277, 3, 1), (278, 3, height), (279, 4, width * height)]  # fmt: skip
    pixels_at = 8 + 2 + 12 * len(tags) + 4
    entries = b"".join(
        struct.pack(">HHI", tag, kind, 1)
        + (
            struct.pack(">HH", value, 0)
            if kind == 3
            else struct.pack(">I", pixels_at if tag == 273 else value)
        )
        for tag, kind, value in tags
    )
    return (
        b"MM\x00*" + struct.pack(">IH", 8, len(tags)) + entries + b"\0\0\0\0" + bytes([90]) * width * height
    )


SCAN = tiff([Image.new("RGB", (200, 260), c) for c in ("red", "green")], compression="tiff_lzw")

REFUSALS = [
    ("empty.txt", b"", None, "empty"),
    ("tool.exe", b"MZ\x90\x00" + b"\0" * 60, None, "Windows executable.*not accepted"),
    ("logo.svg", b'<svg xmlns="http://www.w3.org/2000/svg"></svg>', None, "SVG.*not accepted"),
    ("page.html", b"<!DOCTYPE html><html><script>alert(1)</script></html>", None, "HTML.*not accepted"),
    ("invoice.pdf", png_bytes(4, 4, (1, 2, 3)), None, r"ends in \.pdf, but its bytes are a PNG image"),
    ("invoice", pdf_bytes("x"), None, r"has no extension, but its bytes are a PDF \(\.pdf\)"),
    ("report.pdf", pdf_bytes("x"), "image/png", "declared as image/png, but its bytes are a PDF"),
    ("../../etc/passwd.txt", b"root", None, "contains a path"),
    ("nul\x00.txt", b"text", None, "NUL"),
    ("a" * 296 + ".txt", b"text", None, "300 characters long"),
    ("cod\u202etxt.exe", b"text", None, "right-to-left"),
    ("line\nbreak.txt", b"text", None, "control characters"),
    ("bomb.zip", zip_bomb(), None, "zip bomb"),
    ("broken.zip", b"PK\x03\x04" + b"\xff" * 100, None, "damaged"),
    ("photo.png", png_bytes(4, 4, (9, 9, 9)) + zip_bomb(), None, "polyglot"),
    ("photo.png", b"\x89PNG\r\n\x1a\n" + b"\x13" * 200, None, "image is damaged"),
    ("scan.tif", b"II*\x00" + b"\x13" * 200, None, "image is damaged"),
    ("scan.png", SCAN, None, r"ends in \.png, but its bytes are a TIFF image \(scans\) \(\.tif or \.tiff\)"),
    ("blob.txt", bytes(range(256)) * 4, None, "cannot tell what kind of file"),
    ("script.txt", b"#!/bin/sh\nrm -rf /\n", None, "Shell script.*not accepted"),
]


@pytest.mark.parametrize(("name", "data", "declared", "message"), REFUSALS, ids=[r[3][:20] for r in REFUSALS])
def test_every_refusal_says_why_and_leaves_nothing_behind(
    conn, store, upload_team, name, data, declared, message
):
    project, _, contributor, _, _ = upload_team
    rows, audit = staged_rows(conn), count(conn, "select count(*) from audit.audit_log")
    with pytest.raises(InvalidInput, match=message):
        stage(conn, contributor, project, name, data, declared_mime=declared)
    assert staged_rows(conn) == rows
    assert count(conn, "select count(*) from audit.audit_log") == audit
    assert objects(store) == []


def test_a_file_over_its_types_limit_is_refused(conn, store, upload_team):
    project, _, contributor, _, _ = upload_team
    with acting(conn, None):
        conn.exec_driver_sql(
            "update documents.filetype_reference set max_size_bytes = 100 where mime_type = 'text/plain'"
        )
    with pytest.raises(InvalidInput, match="101 bytes; a Text may be at most 100 bytes"):
        stage(conn, contributor, project, "long.txt", b"x" * 101)
    assert objects(store) == [] and staged_rows(conn) == 0


def test_browser_aliases_and_generic_types_are_accepted(conn, store, upload_team):
    project, _, contributor, _, _ = upload_team
    assert stage(
        conn, contributor, project, "data.csv", b"a,b\n1,2\n", declared_mime="application/vnd.ms-excel"
    ).ok
    photo = stage(
        conn,
        contributor,
        project,
        "photo.jpg.png",
        png_bytes(8, 8, (0, 0, 0)),
        declared_mime="application/octet-stream",
    )
    assert photo.staged.detected_mime == "image/png"
    notes = stage(
        conn, contributor, project, "notes.md", "# Notes — ünïcode\n".encode(), declared_mime="text/plain"
    )
    assert notes.staged.detected_mime == "text/markdown"


def _png(width: int, height: int, mode: str = "L") -> bytes:
    out = io.BytesIO()
    Image.new(mode, (width, height), 0).save(out, format="PNG")
    return out.getvalue()


def test_decompression_bombs_are_refused_at_upload_with_a_clear_message(conn):
    known = filetypes.load_filetypes(conn)

    def check(data: bytes, name: str):
        return filetypes.check_file(
            io.BytesIO(data), name=name, size=len(data), declared_mime=None, filetypes=known
        )

    bomb = _png(10_000, 10_000)  # 100 megapixels in about 100 KB
    with pytest.raises(InvalidInput, match="decompression bomb"):
        check(bomb, "bomb.png")
    too_big = _png(12_000, 10_000)
    with pytest.raises(InvalidInput, match="at most 100,000,000 are allowed"):
        check(too_big, "big.png")
    photo = _png(2_000, 1_500, "RGB")  # an ordinary image passes
    assert check(photo, "ok.png").mime_type == "image/png"


def test_scans_in_tiff_are_accepted_whatever_their_byte_order_and_compression(conn, store, upload_team):
    project, _, contributor, _, _ = upload_team
    blank_page = Image.new("1", (2480, 3508), 1)  # A4 at 300 dpi, black and white
    scans = {
        "two pages, colour, LZW.tif": SCAN,
        "a blank page, Group 4.tiff": tiff([blank_page], compression="group4"),
        "big-endian, Deflate.tif": tiff([Image.new("L", (300, 300), 128)], compression="tiff_adobe_deflate"),
    }
    scans["big-endian.tif"] = big_endian_tiff(64, 64)
    assert scans["big-endian.tif"][:4] == b"MM\x00*" and SCAN[:4] == b"II*\x00"
    for name, data in scans.items():
        outcome = stage(conn, contributor, project, name, data, declared_mime="image/tif")
        assert outcome.ok, outcome.message
        assert outcome.staged.detected_mime == "image/tiff" and "TIFF image (scans)" in outcome.message
    # 8.7 megapixels in 1 KB is no bomb in black and white (a bit a pixel); the same in grey is.
    assert len(scans["a blank page, Group 4.tiff"]) < 5000
    grey_bomb = tiff([Image.new("L", (10_000, 10_000), 0)], compression="tiff_adobe_deflate")
    with pytest.raises(InvalidInput, match="decompression bomb"):
        stage(conn, contributor, project, "bomb.tif", grey_bomb)
