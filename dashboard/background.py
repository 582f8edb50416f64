"""Work a server process does beside answering requests, started with the process (the lifespan of
`prosync serve` and of `prosync api`), not with the first browser session: the project totals'
recount and the text indexer. Each is a daemon thread per process; with several processes, each
takes its own share (the recount is skipped by the processes that find it fresh, and indexers
claim their own queued documents)."""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial

from sqlalchemy import Engine

from db.core.engine import get_engine, system_transaction, transaction
from db.core.settings import get_settings
from db.domain import projects
from db.files import fulltext

log = logging.getLogger(__name__)


@asynccontextmanager
async def jobs(_app: object) -> AsyncIterator[None]:
    """For as long as the server runs: the totals' recount (PROSYNC_SUMMARY_REFRESH_SECONDS; 0: none,
    then `prosync refresh-totals` from cron) and the text indexer (PROSYNC_TEXT_INDEX_SECONDS; 0:
    none, then `prosync reindex-text` from cron)."""
    stop = threading.Event()
    settings = get_settings()
    for work, interval, name in (
        (refresh_totals_forever, settings.summary_refresh_seconds, "prosync-totals"),
        (index_text_forever, settings.text_index_seconds, "prosync-text"),
    ):
        if interval > 0:
            threading.Thread(target=work, args=(get_engine(), interval, stop), name=name, daemon=True).start()
    try:
        yield None
    finally:
        stop.set()


def refresh_totals_forever(primary: Engine, interval: float, stop: threading.Event) -> None:
    """Recount the project totals every `interval` seconds, when something was written since the
    last recount, until `stop` is set (an idle installation does not recount the same numbers)."""
    writes = None
    while not stop.is_set():
        try:
            with system_transaction(engine=primary) as conn:
                writes = projects.refresh_totals_if_written(
                    conn, since=writes, older_than_seconds=interval * 0.9
                )
        except Exception:  # a server restart or a network blip: try again next round
            log.warning("refreshing the project totals failed", exc_info=True)
        stop.wait(interval)


def index_text_forever(primary: Engine, interval: float, stop: threading.Event) -> None:
    """Rounds of the text indexer, storing each document's text as the user who approved it, until
    `stop` is set; a pause of `interval` seconds when the queue had nothing to take. Several
    processes share the queue (each claims its own rows)."""

    claim = partial(transaction, actor_id=None, engine=primary)  # the application, acting for nobody
    while not stop.is_set():
        taken = 0
        try:
            taken = fulltext.index_queued(claim, fulltext.as_approvers(primary), made_by_users=True)
        except Exception:  # a server restart or a network blip: try again next round
            log.warning("extracting document text failed", exc_info=True)
        if not taken:
            stop.wait(interval)
