"""db/ops/explain.py: each screen's queries explained as a member of a sample project, their plans
read (indexes, partitions pruned); for ops only."""

import pytest
from sqlalchemy import text

from db.core.errors import PermissionDenied
from db.ops import explain
from tests.conftest import acting, count, make_project, make_user


def test_explain_runs_each_screen_query_as_a_member_and_reads_its_plan(conn, ops_user):
    owner = make_user(conn)
    project = make_project(conn, owner=owner)
    audit_rows = count(conn, "select count(*) from audit.audit_log")
    # Tables this small are cheaper to scan whole; make the planner show the indexes it would use.
    conn.exec_driver_sql("set local enable_seqscan = off")
    with acting(conn, ops_user):
        sample = explain.explain_sample(conn, project_id=project.id)
        explained = explain.explain_screens(conn, sample)
        after = conn.execute(text("select current_setting('prosync.actor_id')")).scalar_one()
    assert (sample.project_id, sample.user_id, sample.login) == (project.id, owner.id, owner.login)
    assert {e.screen for e in explained} == {
        "Onboarding",
        "Access",
        "Documents",
        "Audit trail",
        "Review",
        "Tags",
    }
    assert all(e.statements for e in explained), "every screen query sent at least one statement"
    by_query = {e.query: e for e in explained}
    documents = by_query["first page of a project's active documents (active_documents)"].main
    assert "active_documents" in documents.sql and documents.plan.splitlines()[0].startswith("Limit")
    # Which of the two fits is the planner's call on a table this small; either way the plan names it.
    assert {"idx_documents_project_date", "documents_uploaded_idx"} & set(documents.indexes)
    read, total = documents.partitions["documents.documents"]
    assert 1 <= read <= total
    trail = by_query["a project's last 30 days, 100 rows (audit_trail_by_project)"].main
    read, total = trail.partitions["audit.audit_log"]
    assert read < total, "partitions older than 30 days are pruned"
    permission = by_query["permission check (can_view)"].main
    assert permission.rows == 1, "ran as the project's owner, who may view it"
    assert after == str(ops_user.id), "the ops user acts again once the screens' queries ran"
    assert count(conn, "select count(*) from audit.audit_log") == audit_rows


def test_explain_is_for_ops_only(conn):
    owner = make_user(conn)
    project = make_project(conn, owner=owner)
    with acting(conn, owner), pytest.raises(PermissionDenied):
        explain.explain_sample(conn, project_id=project.id)
