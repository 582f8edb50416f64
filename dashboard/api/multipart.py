"""An upload's multipart body, read as it streams in: each file part goes to a temporary file (in
memory up to a megabyte, then on disk) while its SHA-256 is computed, so no file is ever held whole
in memory; a part larger than its type allows is refused (413) as soon as it is, without reading
the rest of the body."""

from __future__ import annotations

import codecs
import hashlib
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field

from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, MultipartState, parse_options_header
from starlette.requests import ClientDisconnect, Request

from .problems import Problem

SPOOL_IN_MEMORY = 1024 * 1024  # larger parts go to disk
MAX_FIELD = 64 * 1024  # notes and metadata
MAX_FILES = 1000
MAX_FIELDS = 20


@dataclass
class FilePart:
    filename: str
    content_type: str | None
    file: tempfile.SpooledTemporaryFile
    size: int = 0
    digest: object = field(default_factory=hashlib.sha256)

    @property
    def sha256(self) -> str:
        return self.digest.hexdigest()


@dataclass
class UploadForm:
    files: list[FilePart] = field(default_factory=list)
    fields: dict[str, str] = field(default_factory=dict)

    def close(self) -> None:
        for part in self.files:
            part.file.close()


class _Reader:
    def __init__(self, limit_for: Callable[[str], int], charset: str, total_limit: int):
        self.limit_for, self.charset, self.total_limit = limit_for, charset, total_limit
        self.total = 0
        self.form = UploadForm()
        self.header_name, self.header_value = b"", b""
        self.disposition, self.part_type = b"", None
        self.file: FilePart | None = None
        self.field_name: str | None = None
        self.field_data = bytearray()
        self.limit = 0

    def _text(self, raw: bytes) -> str:
        return raw.decode(self.charset, errors="replace")

    def on_part_begin(self) -> None:
        self.disposition, self.part_type, self.file, self.field_name = b"", None, None, None
        self.field_data = bytearray()

    def _count(self, size: int) -> None:
        self.total += size
        if self.total > self.total_limit:  # a chunked body says no length up front: counted here
            raise Problem(
                413, f"The body is larger than ProSync accepts in one request ({self.total_limit:,} bytes); "
                "send the files in more requests. Nothing was staged.",
            )  # fmt: skip

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._count(end - start)
        self.header_name += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._count(end - start)
        self.header_value += data[start:end]

    def on_header_end(self) -> None:
        name = self.header_name.lower()
        if name == b"content-disposition":
            self.disposition = self.header_value
        elif name == b"content-type":
            self.part_type = self._text(self.header_value)[:200] or None
        self.header_name, self.header_value = b"", b""

    def on_headers_finished(self) -> None:
        _, options = parse_options_header(self.disposition)
        if b"name" not in options:
            raise Problem(400, "Each part of the form needs a name (files, notes, metadata).")
        name = self._text(options[b"name"])
        if b"filename" in options:
            if name != "files":
                raise Problem(400, "Send files in parts named `files`.")
            if len(self.form.files) >= MAX_FILES:
                raise Problem(400, f"Send at most {MAX_FILES} files in one request.")
            filename = self._text(options[b"filename"])
            self.limit = self.limit_for(filename)
            self.file = FilePart(filename, self.part_type, tempfile.SpooledTemporaryFile(SPOOL_IN_MEMORY))
            self.form.files.append(self.file)
        else:
            if name not in ("notes", "metadata"):
                shown = name[:40]
                raise Problem(400, f"Unknown form field {shown!r}: the fields are files, notes and metadata.")
            if name in self.form.fields or len(self.form.fields) >= MAX_FIELDS:
                raise Problem(400, f"The form field {name!r} is given twice.")
            self.field_name = name

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        chunk = data[start:end]
        self._count(len(chunk))
        if self.file is not None:
            self.file.size += len(chunk)
            if self.file.size > self.limit:
                raise Problem(
                    413, f"{self.file.filename[:200]} is larger than ProSync accepts for a file of its kind "
                    f"({self.limit:,} bytes); nothing was staged.",
                )  # fmt: skip
            self.file.digest.update(chunk)
            self.file.file.write(chunk)
        else:
            if len(self.field_data) + len(chunk) > MAX_FIELD:
                raise Problem(400, f"The form field {self.field_name!r} is longer than {MAX_FIELD:,} bytes.")
            self.field_data.extend(chunk)

    def on_part_end(self) -> None:
        if self.file is not None:
            self.file.file.seek(0)
        elif self.field_name is not None:
            text = bytes(self.field_data).decode(self.charset, errors="strict")
            self.form.fields[self.field_name] = text

    def on_end(self) -> None:
        pass


async def read_upload(request: Request, *, limit_for: Callable[[str], int], total_limit: int) -> UploadForm:
    """The files and fields of a multipart/form-data upload; Problem (400, 413, 415) when refused,
    with every temporary file closed."""
    kind, params = parse_options_header(request.headers.get("content-type", ""))
    if kind != b"multipart/form-data" or b"boundary" not in params:
        raise Problem(415, "Send the files as multipart/form-data (curl -F files=@report.pdf).")
    charset = params.get(b"charset", b"utf-8").decode("latin-1")
    try:
        codec = codecs.lookup(charset)
        # Only a text encoding names a form's characters (not base64, zlib, rot13…).
        charset = codec.name if getattr(codec, "_is_text_encoding", False) else "utf-8"
    except LookupError:
        charset = "utf-8"
    reader = _Reader(limit_for, charset, total_limit)
    callbacks = {name: getattr(reader, name) for name in (
        "on_part_begin", "on_part_data", "on_part_end", "on_header_field", "on_header_value",
        "on_header_end", "on_headers_finished", "on_end",
    )}  # fmt: skip
    try:
        parser = MultipartParser(params[b"boundary"], callbacks)
        async for chunk in request.stream():
            parser.write(chunk)
        parser.finalize()
        if parser.state != MultipartState.END:  # the body ended before its closing boundary
            raise FormParserError("cut off")
    except (FormParserError, UnicodeError, LookupError):
        reader.form.close()
        raise Problem(
            400, "The body is not valid multipart/form-data (or it was cut off); nothing was staged."
        ) from None
    except ClientDisconnect:
        reader.form.close()
        raise Problem(400, "The upload was cut off before it ended; nothing was staged.") from None
    except BaseException:
        reader.form.close()
        raise
    if not reader.form.files:
        reader.form.close()
        raise Problem(400, "Choose at least one file (a part named `files`).")
    return reader.form
