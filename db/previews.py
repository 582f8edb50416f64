"""Preview images: a small PNG of an image, or of a PDF's first page, made once per content."""

from __future__ import annotations

import io
import logging
from typing import BinaryIO

from db import storage

log = logging.getLogger(__name__)

SIZE = 480
IMAGE_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})
PREVIEW_TYPES = IMAGE_TYPES | {"application/pdf"}


def render_preview(stream: BinaryIO, mime_type: str) -> bytes | None:
    """PNG bytes of a preview at most SIZE pixels wide and high, or None when none can be made."""
    from PIL import Image

    if mime_type not in PREVIEW_TYPES:
        return None
    try:
        source, _ = storage.seekable(stream)
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
