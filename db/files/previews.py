"""Preview images: a small PNG of an image, or of a PDF's first page, made once per content, in a
worker process of its own with limits (db/files/preview_worker.py): a file that crashes, hangs or floods
the renderer fails only its own preview, and the server process never parses it."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
from dataclasses import dataclass
from typing import BinaryIO

log = logging.getLogger(__name__)

SIZE = 480
# Images a browser shows as they are; a TIFF (a scan) only ever through its preview.
BROWSER_IMAGE_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})
IMAGE_TYPES = BROWSER_IMAGE_TYPES | {"image/tiff"}
PREVIEW_TYPES = IMAGE_TYPES | {"application/pdf"}
WALL_SECONDS = 30  # a renderer still running after this is killed
MAX_INPUT_BYTES = 256 * 1024 * 1024  # larger files get no preview (and are not read into memory)
WORKERS = 2  # previews rendered at once by one server process; the others wait their turn
WORKER_MODULE = "db.files.preview_worker"
_turns = threading.BoundedSemaphore(WORKERS)


@dataclass(frozen=True)
class Preview:
    png: bytes | None
    reason: str | None = None  # why there is none, for the person


def render_preview(stream: BinaryIO, mime_type: str) -> Preview:
    """A PNG at most SIZE pixels wide and high, or why none could be made."""
    if mime_type not in PREVIEW_TYPES:
        return Preview(None, "this type has no preview")
    done = run_worker(stream, [mime_type])
    if isinstance(done, str):
        return _none(mime_type, done)
    if done.returncode == 0 and done.stdout.startswith(b"\x89PNG"):
        return Preview(done.stdout)
    return _none(mime_type, failure(done, mime_type))


def run_worker(stream: BinaryIO, arguments: list[str]) -> subprocess.CompletedProcess | str:
    """The worker's run on the file in `stream` (WORKERS at a time in this process), or why it
    could not run."""
    # A turn first, then the bytes: no more than WORKERS files are held in this process at once.
    with _turns:
        data = stream.read(MAX_INPUT_BYTES + 1)
        if len(data) > MAX_INPUT_BYTES:
            return f"the file is larger than {MAX_INPUT_BYTES // 1024**2} MB"
        try:
            return subprocess.run(
                [sys.executable, "-m", WORKER_MODULE, *arguments],
                input=data,
                capture_output=True,
                timeout=WALL_SECONDS,
                env=_worker_environment(),
                check=False,
            )
        except subprocess.TimeoutExpired:  # the child is killed by run() before this is raised
            return f"making it took longer than {WALL_SECONDS} s"
        finally:
            del data


def failure(done: subprocess.CompletedProcess, mime_type: str) -> str:
    """Why a worker's run gave nothing, in words for a person."""
    if done.returncode == 2:
        return "the file could not be read as " + _kind(mime_type) + f" ({_first(done.stderr)})"
    if done.returncode == 3 or b"MemoryError" in done.stderr:
        return f"it needed more than {_limit('MEMORY_BYTES') // 1024**2} MB of memory"
    if done.returncode in (-signal.SIGXCPU, -signal.SIGKILL):
        return f"it needed more than {_limit('CPU_SECONDS')} s of processor time"
    return f"the renderer stopped on this file (status {done.returncode})"


def _worker_environment() -> dict[str, str]:
    """Only what the worker needs: no database URL, no storage credentials, no secret key."""
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": ":".join(p for p in sys.path if p)}
    for name in ("PROSYNC_PREVIEW_MEMORY_BYTES", "PROSYNC_PREVIEW_CPU_SECONDS"):
        if name in os.environ:
            env[name] = os.environ[name]
    return env


def _limit(name: str) -> int:
    from db.files import preview_worker

    return int(os.environ.get(f"PROSYNC_PREVIEW_{name}", getattr(preview_worker, f"DEFAULT_{name}")))


def _kind(mime_type: str) -> str:
    return "a PDF" if mime_type == "application/pdf" else "an image"


def _first(stderr: bytes) -> str:
    return stderr.decode("utf-8", "replace").strip().splitlines()[-1][:160] if stderr.strip() else "no detail"


def _none(mime_type: str, reason: str) -> Preview:
    log.warning("no preview for a %s: %s", mime_type, reason)
    return Preview(None, reason)
