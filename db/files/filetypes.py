"""What a file is, from its bytes: magic numbers, OOXML and ZIP inspection, text sniffing, file-name rules."""

from __future__ import annotations

import os
import re
import unicodedata
import zipfile
from dataclasses import dataclass
from typing import BinaryIO

import pandas as pd
from sqlalchemy import Connection, text

from db.core.errors import InvalidInput

HEAD = 8192
TEXT_TYPES = frozenset({"text/plain", "text/markdown", "text/csv", "application/json"})
ARCHIVE_TYPES = frozenset(
    {
        "application/zip",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    }
)
# What browsers and operating systems call some types; all mean the canonical type on the right.
ALIASES = {
    "image/jpg": "image/jpeg",
    "image/pjpeg": "image/jpeg",
    "image/tif": "image/tiff",
    "image/x-tiff": "image/tiff",
    "application/x-pdf": "application/pdf",
    "application/x-zip-compressed": "application/zip",
    "application/x-zip": "application/zip",
    "application/vnd.ms-excel": "text/csv",  # what Windows says for .csv
    "application/csv": "text/csv",
    "text/json": "application/json",
}
GENERIC = frozenset({"", "application/octet-stream", "binary/octet-stream"})
# A ZIP that expands beyond this, or by more than this ratio, is refused as a likely zip bomb.
MAX_EXPANDED_BYTES = 2 * 1024**3
MAX_EXPANSION_RATIO = 100
MAX_ARCHIVE_ENTRIES = 20000
MAX_IMAGE_PIXELS = 100_000_000
# More image than this from each byte of file is a decompression bomb (a flat 100-megapixel PNG is
# 100 KB, 1,000 pixels a byte; photographs and scans are under 10, diagrams well under 100).
MAX_PIXELS_PER_BYTE = 250
_BIDI_AND_INVISIBLE = re.compile("[\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]")


@dataclass(frozen=True)
class FileType:
    mime_type: str
    label: str
    category: str
    extensions: tuple[str, ...]
    allowed: bool
    max_size_bytes: int
    previewable: bool


def load_filetypes(conn: Connection) -> dict[str, FileType]:
    """documents.filetype_reference, keyed by MIME type."""
    rows = conn.execute(
        text(
            "select mime_type, label, category, extensions, allowed, max_size_bytes, previewable"
            " from documents.filetype_reference"
        )
    ).all()
    return {r.mime_type: FileType(**{**r._mapping, "extensions": tuple(r.extensions)}) for r in rows}


def upload_limits(conn: Connection) -> tuple[dict[str, int], int]:
    """The largest size each extension may have among the accepted types, and the largest of all
    (what an upload read as it streams in is held to before its bytes say what it is)."""
    types = [t for t in load_filetypes(conn).values() if t.allowed]
    by_extension: dict[str, int] = {}
    for kind in types:
        for ext in kind.extensions:
            by_extension[ext] = max(by_extension.get(ext, 0), kind.max_size_bytes)
    return by_extension, max((t.max_size_bytes for t in types), default=0)


def allowed_table(conn: Connection) -> pd.DataFrame:
    """The accepted types with their extensions and limits, for the upload screen."""
    types = [t for t in load_filetypes(conn).values() if t.allowed]
    return pd.DataFrame(
        {
            "type": [t.label for t in types],
            "extensions": [", ".join("." + e for e in t.extensions) for t in types],
            "max_size_bytes": [t.max_size_bytes for t in types],
        }
    ).sort_values("type", ignore_index=True)


def clean_file_name(name: object) -> str:
    """A file name fit for display and storage, or InvalidInput saying what is wrong with it."""
    if not isinstance(name, str):
        raise InvalidInput("A file name must be text.")
    name = unicodedata.normalize("NFC", name)
    if "\x00" in name:
        raise InvalidInput("The file name contains a NUL character; rename the file.")
    if "/" in name or "\\" in name:
        raise InvalidInput(
            f"The file name {name[:80]!r} contains a path ('/' or '\\'); upload the file by its own name."
        )
    if any(unicodedata.category(c) == "Cc" for c in name):
        raise InvalidInput("The file name contains control characters (a tab or line break, say); rename it.")
    if _BIDI_AND_INVISIBLE.search(name):
        raise InvalidInput(
            "The file name contains invisible or right-to-left override characters, which can disguise "
            "its real extension; rename it."
        )
    if name != name.strip() or not name:
        raise InvalidInput("A file name cannot be empty or begin or end with spaces.")
    if name in (".", ".."):
        raise InvalidInput("'.' and '..' are not file names.")
    if len(name) > 255:
        raise InvalidInput(f"The file name is {len(name)} characters long; at most 255 are allowed.")
    return name


def extension(name: str) -> str:
    """The lowercase extension without the dot ('' when there is none)."""
    suffix = os.path.splitext(name)[1]
    return suffix[1:].lower() if len(suffix) > 1 else ""


def _zip_names(stream: BinaryIO) -> list[zipfile.ZipInfo] | None:
    start = stream.tell()
    try:
        with zipfile.ZipFile(stream) as archive:
            return archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError):
        return None
    finally:
        stream.seek(start)


_CONTROLS = bytes(b for b in range(32) if b not in (9, 10, 12, 13))


def _looks_like_text(head: bytes) -> bool:
    if b"\x00" in head:
        return False
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as error:
        if error.start < len(head) - 4:  # only a character cut at the end of the sample is fine
            return False
    # Control characters other than tab, line feed, form feed and carriage return (counted in C).
    controls = len(head) - len(head.translate(None, _CONTROLS))
    return controls <= len(head) // 100


def detect_type(stream: BinaryIO, name: str) -> str | None:
    """The MIME type the bytes show, or None when they are nothing ProSync knows."""
    start = stream.tell()
    head = stream.read(HEAD)
    stream.seek(start)
    if head.startswith(b"%PDF-"):
        return "application/pdf"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head[:4] in (b"II*\x00", b"MM\x00*"):  # TIFF, little- and big-endian (scans)
        return "image/tiff"
    if head[:2] == b"MZ":
        return "application/x-msdownload"
    if head[:4] == b"\x7fELF":
        return "application/x-executable"
    if head[:4] in (b"PK\x03\x04", b"PK\x05\x06"):
        entries = _zip_names(stream)
        if entries is None:
            return "application/zip"  # refused later as damaged
        names = {e.filename for e in entries}
        if "[Content_Types].xml" in names:
            for folder, mime in (
                ("word/", "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
                ("xl/", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
                ("ppt/", "application/vnd.openxmlformats-officedocument.presentationml.presentation"),
            ):
                if any(n.startswith(folder) for n in names):
                    return mime
        return "application/zip"
    if head.startswith(b"#!"):
        return "application/x-sh"
    if head and _looks_like_text(head):
        lowered = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
        if b"<svg" in lowered[:2048] and (lowered.startswith(b"<svg") or lowered.startswith(b"<?xml")):
            return "image/svg+xml"
        if lowered.startswith((b"<!doctype html", b"<html", b"<script")):
            return "text/html"
        return {
            "csv": "text/csv",
            "md": "text/markdown",
            "markdown": "text/markdown",
            "json": "application/json",
        }.get(extension(name), "text/plain")
    return None


def _check_archive(stream: BinaryIO, size: int) -> None:
    entries = _zip_names(stream)
    if entries is None:
        raise InvalidInput("The archive is damaged: it cannot be opened as a ZIP file.")
    expanded = sum(e.file_size for e in entries)
    if len(entries) > MAX_ARCHIVE_ENTRIES:
        raise InvalidInput(
            f"The archive holds {len(entries):,} files; at most {MAX_ARCHIVE_ENTRIES:,} are allowed."
        )
    if expanded > MAX_EXPANDED_BYTES or expanded > MAX_EXPANSION_RATIO * max(size, 1):
        raise InvalidInput(
            f"The archive would expand to {expanded:,} bytes from {size:,}: refused as a likely zip bomb."
        )


def _check_image(stream: BinaryIO, size: int) -> None:
    from PIL import Image

    start = stream.tell()
    try:
        with Image.open(stream) as image:  # the header only: nothing is decoded here
            width, height = image.size
            if width * height > MAX_IMAGE_PIXELS:
                raise InvalidInput(
                    f"The image is {width:,} × {height:,} pixels; at most {MAX_IMAGE_PIXELS:,} are allowed."
                )
            # What decoding costs: Pillow holds a black-and-white image (a TIFF scan in CCITT Group 4)
            # at a byte a pixel, not three, and a blank A4 page at 300 dpi is 8.7 megapixels in 1 KB.
            weight = width * height // 3 if image.mode == "1" else width * height
            if weight > 4_000_000 and weight > MAX_PIXELS_PER_BYTE * size:
                raise InvalidInput(
                    f"The image is {width:,} × {height:,} pixels in a file of {size:,} bytes: so much image"
                    " from so small a file is a decompression bomb, and is refused."
                )
            image.verify()
    except InvalidInput:
        raise
    except Exception as error:  # Pillow raises many kinds for a damaged file
        raise InvalidInput(f"The image is damaged and cannot be read ({type(error).__name__}).") from error
    finally:
        stream.seek(start)


def _check_no_appended_archive(stream: BinaryIO, size: int) -> None:
    """A PDF or image with a ZIP glued to its end is two files in one (a polyglot): refuse it."""
    start = stream.tell()
    stream.seek(start + max(0, size - 65536))
    tail = stream.read(65536)
    stream.seek(start)
    if b"PK\x05\x06" in tail or b"PK\x03\x04" in tail:
        raise InvalidInput(
            "The file carries a ZIP archive inside it (a polyglot file); upload the document and the "
            "archive separately."
        )


def check_file(
    stream: BinaryIO, *, name: str, size: int, declared_mime: str | None, filetypes: dict[str, FileType]
) -> FileType:
    """The checked type of a file, or InvalidInput naming what is wrong and what would be accepted."""
    if size <= 0:
        raise InvalidInput(f"{name} is empty (0 bytes).")
    detected = detect_type(stream, name)
    if detected is None or detected not in filetypes:
        accepted = ", ".join(sorted(t.label for t in filetypes.values() if t.allowed))
        raise InvalidInput(f"{name}: ProSync cannot tell what kind of file this is. Accepted: {accepted}.")
    kind = filetypes[detected]
    if not kind.allowed:
        raise InvalidInput(f"{name} is a {kind.label}; this type is not accepted.")
    ext = extension(name)
    if ext not in kind.extensions:
        expected = " or ".join("." + e for e in kind.extensions)
        said = f"ends in .{ext}" if ext else "has no extension"
        raise InvalidInput(f"{name} {said}, but its bytes are a {kind.label} ({expected}); rename it.")
    declared = (declared_mime or "").split(";")[0].strip().lower()
    declared = ALIASES.get(declared, declared)
    compatible = declared in GENERIC or declared == detected
    if detected in TEXT_TYPES and (declared.startswith("text/") or declared in TEXT_TYPES):
        compatible = True
    if not compatible:
        raise InvalidInput(f"{name} was declared as {declared}, but its bytes are a {kind.label}.")
    if size > kind.max_size_bytes:
        raise InvalidInput(
            f"{name} is {size:,} bytes; a {kind.label} may be at most {kind.max_size_bytes:,} bytes."
        )
    if detected in ARCHIVE_TYPES:
        _check_archive(stream, size)
    elif kind.category == "image":
        _check_image(stream, size)
    if detected not in ARCHIVE_TYPES:
        _check_no_appended_archive(stream, size)
    return kind
