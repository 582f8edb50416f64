"""db.domain.partitions and the partition functions under it: rows land in their period's partition
(out of range: DEFAULT), maintenance makes partitions ahead with their storage settings, moves
DEFAULT rows into a new partition and detaches old ones; who may look and who may maintain."""

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from db.core.errors import PermissionDenied
from db.domain import partitions
from tests.conftest import acting, count, make_document, make_project, make_user


def _partition_of(conn, table, column, value):
    return conn.execute(
        text(f"select tableoid::regclass::text from {table} where {column} = :v"), {"v": value}
    ).scalar_one()


def test_documents_land_in_their_quarter_and_out_of_range_in_default(conn):
    owner = make_user(conn)
    project = make_project(conn, owner=owner)
    doc = make_document(conn, project=project, uploader=owner)
    now = datetime.now(UTC)
    quarter = (now.month - 1) // 3 + 1
    assert (
        _partition_of(conn, "documents.documents", "id", doc.id)
        == f"documents.documents_p{now.year}q{quarter}"
    )
    old = make_document(conn, project=project, uploader=owner)
    conn.execute(
        text("update documents.documents set uploaded_at = '1999-05-01' where id = :id"),
        {"id": old.id},
    )
    assert _partition_of(conn, "documents.documents", "id", old.id) == "documents.documents_default"


def test_audit_rows_land_in_their_month(conn):
    make_user(conn)
    now = datetime.now(UTC)
    last = conn.execute(text("select max(id) from audit.audit_log")).scalar_one()
    assert _partition_of(conn, "audit.audit_log", "id", last) == f"audit.audit_log_p{now:%Y_%m}"


def test_maintenance_makes_partitions_ahead_with_storage_settings(conn):
    with acting(conn, None):
        steps = partitions.maintain(conn)
        status = partitions.partition_status(conn)
    assert all(s.action != "detached" for s in steps)
    future = datetime.now(UTC) + timedelta(days=95)
    docs = status[(status.parent_table == "documents.documents") & ~status.is_default]
    assert (docs.range_to > future).any()
    assert all("fillfactor=90" in opts for opts in docs.reloptions)
    audit = status[(status.parent_table == "audit.audit_log") & ~status.is_default]
    assert all("fillfactor=100" in opts for opts in audit.reloptions)


def test_maintenance_moves_default_rows_into_a_new_partition_and_reports_them(conn):
    owner = make_user(conn)
    project = make_project(conn, owner=owner)
    doc = make_document(conn, project=project, uploader=owner)
    conn.execute(
        text("update documents.documents set uploaded_at = '2031-02-03' where id = :id"),
        {"id": doc.id},
    )
    assert partitions.default_partition_rows(conn)["documents.documents"] == 1
    report = conn.execute(text("select * from system.maintain_partitions('documents.documents', 1)")).all()
    assert ("default_rows", "documents.documents_default", "1 row(s) outside every partition") in [
        tuple(r) for r in report
    ]
    conn.execute(text("select system.create_partition('documents.documents', '2031-01-01+00')"))
    assert _partition_of(conn, "documents.documents", "id", doc.id) == "documents.documents_p2031q1"
    assert partitions.default_partition_rows(conn)["documents.documents"] == 0


def test_a_documents_text_stays_through_partition_moves_and_is_found_again(conn):
    """A document's text points at the registry, not at the partitioned documents: moving a row out
    of DEFAULT (delete and insert) or detaching its partition leaves the text alone, and `prosync
    reindex-text` gives the text the document's changed upload time (no one but an administrator's
    SQL changes it)."""
    from db.domain import search

    owner = make_user(conn)
    project = make_project(conn, owner=owner)
    doc = make_document(conn, project=project, uploader=owner)
    with acting(conn, owner):
        search.store_text(conn, document=doc, body="turbine blade", failure=None)
    conn.execute(
        text("update documents.documents set uploaded_at = '2032-02-03' where id = :id"), {"id": doc.id}
    )
    conn.execute(text("select system.create_partition('documents.documents', '2032-01-01+00')"))
    assert _partition_of(conn, "documents.documents", "id", doc.id) == "documents.documents_p2032q1"
    with acting(conn, None):
        search.relanguage(conn)
    with acting(conn, owner):
        assert [h.document.id for h in search.search_documents(conn, query="turbine").rows] == [doc.id]
    conn.execute(text("alter table documents.documents detach partition documents.documents_p2032q1"))
    assert count(conn, "select count(*) from documents.document_text where document_id = :d", d=doc.id) == 1


def test_retention_detaches_old_partitions_and_keeps_them(conn):
    conn.execute(text("select system.create_partition('audit.audit_log', '2001-01-01+00')"))
    detached = conn.execute(
        text("select * from system.maintain_partitions('audit.audit_log', 1, 0, 24)")
    ).all()
    names = [r.partition_name for r in detached if r.action == "detached"]
    assert "audit.audit_log_p2001_01" in names
    assert conn.execute(text("select to_regclass('audit.audit_log_p2001_01') is not null")).scalar_one()
    still_attached = count(
        conn,
        "select count(*) from system.partitions where partition_name = 'audit.audit_log_p2001_01'",
    )
    assert still_attached == 0


def test_ops_and_admins_see_the_partitions_and_only_admins_maintain_them(conn):
    member, ops, admin = make_user(conn), make_user(conn, roles=("ops",)), make_user(conn, roles=("admin",))
    with acting(conn, member), pytest.raises(PermissionDenied):
        partitions.partition_status(conn)
    with acting(conn, ops):
        status = partitions.partition_status(conn)
        with pytest.raises(PermissionDenied, match="administrator"):
            partitions.maintain(conn)
    assert set(status.parent_table) == set(partitions.PARENTS)
    assert status.groupby("parent_table").is_default.sum().to_dict() == dict.fromkeys(partitions.PARENTS, 1)
    with acting(conn, admin):
        steps = partitions.maintain(conn)
    assert all(isinstance(step, partitions.MaintenanceStep) for step in steps)
    assert all(step.action != "detached" for step in steps)
