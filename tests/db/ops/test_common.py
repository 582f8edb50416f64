"""db/ops/common.py: every statistics read runs under the ops screen's own timeouts; one blocked
by a lock ends with a message instead of waiting."""

import pytest

from db.core.engine import make_engine, sqlalchemy_url
from db.ops import common, stats
from tests.conftest import acting


def test_a_statistics_query_blocked_by_a_lock_times_out_with_a_message(
    database_url, ops_user, conn, monkeypatch
):
    monkeypatch.setattr(common, "LOCK_TIMEOUT_MS", 300)
    with acting(conn, None):
        conn.exec_driver_sql("lock table projects.projects in access exclusive mode")
        with pytest.raises(common.OpsTimeout, match="holds a lock"):
            _other_connection_reads(database_url, ops_user)


def _other_connection_reads(database_url, ops_user):
    from db.core.engine import system_transaction

    engine = make_engine(sqlalchemy_url(database_url))
    try:
        with system_transaction(engine=engine) as other:  # the user above is not committed
            stats.table_stats(other)
    finally:
        engine.dispose()
