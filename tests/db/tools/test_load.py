"""The load run of issue 7: fifty workers for a minute (half on PostgreSQL 15) in `make test`, five
in `make soak` (PROSYNC_LOAD_SECONDS sets it), through the data-access module as prosync_app; zero
errors other than the refusals a person would see, no deadlock, one audit row per effective write,
and storage agreeing with the database. The latencies are printed at the end of the test run
(conftest's terminal summary), not judged."""

import os
from functools import partial

from db.core import migrate
from db.core.engine import make_engine, sqlalchemy_url, system_transaction, url_as
from db.files.reconcile import reconcile
from db.tools import load
from tests.conftest import _refresh_settings, create_database

SECONDS = float(os.environ.get("PROSYNC_LOAD_SECONDS", "60"))
WORKERS = 50
REPORTS: list[str] = []  # printed by conftest's pytest_terminal_summary


def test_fifty_workers_lose_nothing_and_every_effective_write_has_one_audit_row(
    server_url, tmp_path, monkeypatch
):
    url = create_database(server_url, "prosync_load")
    migrate.upgrade(url=url)
    monkeypatch.setenv("PROSYNC_STORAGE", "local")
    monkeypatch.setenv("PROSYNC_STORAGE_DIR", str(tmp_path / "objects"))
    _refresh_settings()
    owner = make_engine(sqlalchemy_url(url))
    app = make_engine(url_as(sqlalchemy_url(url), "prosync_app"), pool_size=WORKERS + 5, max_overflow=10)
    try:
        report = load.run(app, owner, workers=WORKERS, seconds=SECONDS)
        REPORTS.append(load.table(report))
        store_check = reconcile(partial(system_transaction, engine=owner))
    finally:
        app.dispose()
        owner.dispose()
        monkeypatch.undo()
        _refresh_settings()

    assert report.errors == []
    assert report.deadlocks == 0
    assert report.ledger == report.audited, "one audit row per effective write, no more, no less"
    effects = {name for name, rows in load.EFFECTS.items() if all(report.ledger[row] for row in rows)}
    assert effects == set(load.EFFECTS), "every kind of write happened"
    assert all(report.latencies[name] for name in report.latencies), "every operation ran"
    assert len(report.latencies) == 12
    # The workers really collided: some of their writes met another's first.
    assert sum(report.refusals.values()) > 0
    assert store_check.clean, [f.key for f in store_check.findings]
