"""Preview images: a small PNG of an image, or of a PDF's first page, made once per content."""

from __future__ import annotations

import io
import logging
import shutil
import tempfile
from typing import BinaryIO

log = logging.getLogger(__name__)

SIZE = 480
IMAGE_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})
PREVIEW_TYPES = IMAGE_TYPES | {"application/pdf"}


def _seekable(stream: BinaryIO) -> BinaryIO:
    """The stream itself when it can seek, else a copy spooled to a temporary file (never to memory)."""
    if getattr(stream, "seekable", lambda: False)():
        return stream
    spool = tempfile.TemporaryFile()
    shutil.copyfileobj(stream, spool, 1024 * 1024)
    spool.seek(0)
    return spool


def render_preview(stream: BinaryIO, mime_type: str) -> bytes | None:
    """PNG bytes of a preview at most SIZE pixels wide and high, or None when none can be made."""
    from PIL import Image

    if mime_type not in PREVIEW_TYPES:
        return None
    try:
        source = _seekable(stream)
        if mime_type == "application/pdf":
            import pypdfium2

            pdf = pypdfium2.PdfDocument(source)
            try:
                page = pdf[0]
                scale = SIZE / max(page.get_size())
                image = page.render(scale=scale).to_pil()
                page.close()
            finally:
                pdf.close()
        else:
            image = Image.open(source)
            image.draft("RGB", (SIZE, SIZE))  # JPEG: decode at a reduced size
            image.thumbnail((SIZE, SIZE))
        if image.mode not in ("RGB", "RGBA", "L", "LA"):
            image = image.convert("RGBA")
        out = io.BytesIO()
        image.save(out, format="PNG", optimize=True)
        return out.getvalue()
    except Exception as error:  # a damaged file gets no preview; it is still a document
        log.warning("no preview for a %s: %s", mime_type, error)
        return None
