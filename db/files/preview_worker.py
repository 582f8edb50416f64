"""Render one preview in a process of its own: `python -m db.files.preview_worker MIME_TYPE`, the file on
standard input, the PNG on standard output; with `--text`, the file's text (UTF-8) instead, for
search inside files (db/files/fulltext.py).

Started by db/files/previews.py for every preview, so that a hostile or huge file (pdfium is not
thread-safe and has crashed the server; a 100-megapixel PNG decodes to 400 MB) can at worst fail
its own preview. The limits are set here, first thing, before any parser is imported: memory
(address space), CPU time; db/files/previews.py adds a wall-clock limit. Nothing else of ProSync is
imported (no settings, no database, no secrets in its environment). It is a process, not a
sandbox: it runs as the server's operating-system user (docs/security.md, "Not done").

Exit status: 0 with the PNG (or the text); 2 when the file cannot be read (the reason on standard
error); 3 when memory ran out. A crash or a limit's signal is read by the parent from the status.
"""

from __future__ import annotations

import io
import os
import resource
import sys

SIZE = 480  # the preview's longest side, in pixels
DEFAULT_MEMORY_BYTES = 512 * 1024 * 1024
DEFAULT_CPU_SECONDS = 20
MEMORY_BYTES = int(os.environ.get("PROSYNC_PREVIEW_MEMORY_BYTES", DEFAULT_MEMORY_BYTES))
CPU_SECONDS = int(os.environ.get("PROSYNC_PREVIEW_CPU_SECONDS", DEFAULT_CPU_SECONDS))
MAX_PIXELS = 100_000_000  # as the upload check allows; larger is refused as a bomb


def limit() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_BYTES, MEMORY_BYTES))
    resource.setrlimit(resource.RLIMIT_CPU, (CPU_SECONDS, CPU_SECONDS + 1))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_NOFILE, (32, 32))


def render(data: bytes, mime_type: str) -> bytes:
    from PIL import Image

    # Pillow warns above MAX_IMAGE_PIXELS and refuses (DecompressionBombError) above twice that.
    Image.MAX_IMAGE_PIXELS = MAX_PIXELS // 2
    if mime_type == "application/pdf":
        import pypdfium2

        pdf = pypdfium2.PdfDocument(data)
        page = pdf[0]
        image = page.render(scale=SIZE / max(page.get_size())).to_pil()
    else:
        image = Image.open(io.BytesIO(data))  # a TIFF of many pages (a scan) opens at its first
        image.draft("RGB", (SIZE, SIZE))  # JPEG: decode at a reduced size
        if image.mode == "1":  # black and white: scaled in grey, not by dropping pixels
            image = image.convert("L")
        image.thumbnail((SIZE, SIZE))
    if image.mode not in ("RGB", "RGBA", "L", "LA"):
        image = image.convert("RGBA")
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()


MAX_TEXT_CHARS = 300_000  # as much text as a document's search keeps


def text(data: bytes, mime_type: str) -> bytes:
    """A PDF's text layer, page after page, up to MAX_TEXT_CHARS characters."""
    if mime_type != "application/pdf":
        raise ValueError(f"no text reader for {mime_type}")
    import pypdfium2

    pdf = pypdfium2.PdfDocument(data)
    parts, total = [], 0
    try:
        for index in range(len(pdf)):
            found = pdf[index].get_textpage().get_text_range().replace("\r\n", "\n")  # pdfium's line ends
            parts.append(found)
            total += len(found) + 1
            if total >= MAX_TEXT_CHARS:
                break
    finally:
        pdf.close()
    return "\n".join(parts)[:MAX_TEXT_CHARS].encode("utf-8", "replace")


def main() -> int:
    limit()
    mime_type = sys.argv[1]
    want_text = "--text" in sys.argv[2:]
    data = sys.stdin.buffer.read()
    try:
        made = text(data, mime_type) if want_text else render(data, mime_type)
    except MemoryError:
        return 3
    except Exception as error:  # a damaged or hostile file: its own preview fails, nothing else
        sys.stderr.write(f"{type(error).__name__}: {str(error)[:200]}")
        return 2
    sys.stdout.buffer.write(made)
    return 0


if __name__ == "__main__":
    sys.exit(main())
