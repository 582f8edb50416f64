"""Text for search inside files: read from each new document's file after its approval, by an
indexer that works through documents.text_queue (a background thread of every dashboard process,
and `prosync reindex-text`).

A PDF is read in the preview worker (db/files/preview_worker.py: its own process, with memory, CPU
and time limits), so a hostile PDF fails only its own text. Plain text, Markdown, CSV and JSON are
only decoded (no parser runs on them), in the process itself. Other types (images, office files,
archives) get no text; the reason is stored, so they are not tried again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from functools import partial
from typing import BinaryIO

from sqlalchemy import Connection, Engine

from db.core.engine import system_transaction, transaction
from db.core.errors import NotFound, ProSyncError
from db.domain import documents, search
from db.files import previews, storage

log = logging.getLogger(__name__)

Unit = Callable[[], AbstractContextManager[Connection]]

DECODED_TYPES = frozenset({"text/plain", "text/markdown", "text/csv", "application/json"})
WORKER_TYPES = frozenset({"application/pdf"})
# A claim outlasts a round: ROUND files at the worker's 30 s limit each, with time to wait for a
# worker (two per process, shared with previews) and to read from the store.
CLAIM_SECONDS = 900
ROUND = 10  # documents an indexer takes at a time


@dataclass(frozen=True)
class Extracted:
    text: str
    failure: str | None = None  # why there is no text, for a person


def extract_text(stream: BinaryIO, mime_type: str) -> Extracted:
    """The text of a file of this type (at most search.MAX_CHARS characters), or why there is none."""
    if mime_type in DECODED_TYPES:
        return Extracted(stream.read(search.MAX_CHARS * 4).decode("utf-8-sig", "replace"))
    if mime_type not in WORKER_TYPES:
        kind = "images (there is no OCR)" if mime_type.startswith("image/") else "this type of file"
        return Extracted("", f"no text is read from {kind}")
    done = previews.run_worker(stream, [mime_type, "--text"])
    if isinstance(done, str):
        return Extracted("", done)
    if done.returncode != 0:
        return Extracted("", previews.failure(done, mime_type))
    found = done.stdout.decode("utf-8", "replace")
    if not found.strip():
        return Extracted("", "the PDF has no text layer (a scan without OCR)")
    return Extracted(found)


def index_document(act: Unit, *, document_id: int) -> bool:
    """Extract and store one queued document's text within `act`'s rights (the file is read between
    two transactions, none held open meanwhile). False when the store did not answer: the document
    stays queued for a later round."""
    with act() as conn:
        document = documents.get_document(conn, document_id=document_id)
        store = storage.store_for(conn, document.storage_code)
    try:
        with store.open(document.object_key) as stream:
            extracted = extract_text(stream, document.mime_type)
    except NotFound as error:  # an answer: the object is gone (`prosync reconcile` says more)
        extracted = Extracted("", str(error))
    except ProSyncError as error:  # the store did not answer: try again later
        log.warning("no text for document %s yet: %s", document_id, error)
        return False
    if extracted.failure:
        log.info("no text for document %s: %s", document_id, extracted.failure)
    with act() as conn:
        search.store_text(conn, document=document, body=extracted.text, failure=extracted.failure)
    return True


def index_queued(
    claim: Unit, act: Callable[[int | None], Unit], *, made_by_users: bool = False, limit: int = ROUND
) -> int:
    """One round of the indexer: claim up to `limit` queued documents and store each one's text as
    the user who made it a document (`act(user_id)`; None: the command line). How many it took.
    A document that fails stays queued (its claim lapses after CLAIM_SECONDS; after five claims it
    waits for `prosync reindex-text`), and never stops the others of its round. `made_by_users`:
    leave the command line's documents to the command line (a dashboard has no owner's rights)."""
    with claim() as conn:
        work = search.claim_text_work(conn, limit=limit, seconds=CLAIM_SECONDS, made_by_users=made_by_users)
    for document_id, actor in work:
        try:
            index_document(act(actor), document_id=document_id)
        except ProSyncError as error:  # the approver may no longer see it, the project is in the trash
            log.warning("no text for document %s: %s", document_id, error)
        except Exception:  # a bug or a lost connection: this document only
            log.exception("no text for document %s", document_id)
    return len(work)


def as_approvers(engine: Engine | None = None) -> Callable[[int | None], Unit]:
    """For index_queued's `act`: a unit of work as the user who queued a document on `engine` (the
    command line's for a document the command line made)."""

    def unit(actor: int | None) -> Unit:
        if actor is None:
            return partial(system_transaction, engine=engine)
        return partial(transaction, actor_id=actor, engine=engine)

    return unit


def index_all(
    claim: Unit, act: Callable[[int | None], Unit], *, made_by_users: bool = False, limit: int = ROUND
) -> int:
    """Rounds until the queue has nothing left to claim; how many documents were taken."""
    total = 0
    while taken := index_queued(claim, act, made_by_users=made_by_users, limit=limit):
        total += taken
    return total
