"""The onboarding screen (pages/onboarding.py) in AppTest: the projects each user sees; create, edit,
delete and restore a project; permissions; empty states; the totals' recount."""

import pytest
from sqlalchemy import text

from dashboard.ui import md
from db.core.engine import system_transaction
from tests.pages.helpers import by_label, run_page, scalar
from tests.waiting import wait_until


def test_lead_creates_a_project_and_becomes_its_owner(demo_rw_env):
    at = run_page("onboarding", "lead@example.com")
    at.text_input(key="new-name").input("Launch Plan")
    at.text_area(key="new-description").input("Go-to-market")
    by_label(at.button, "Create project").click()
    at.run()
    assert not at.exception and not at.error
    assert "Launch Plan" in at.success[0].value
    assert (
        scalar(
            "select a.role from projects.project_access a"
            " join projects.projects p on p.id = a.project_id join users.users u on u.id = a.user_id"
            " where p.name = 'Launch Plan' and u.login = 'lead@example.com'"
        )
        == "owner"
    )


def test_a_duplicate_name_is_refused_and_nothing_is_written(demo_rw_env):
    before = scalar("select count(*) from projects.projects")
    at = run_page("onboarding", "lead@example.com")
    at.text_input(key="new-name").input("billing revamp")
    by_label(at.button, "Create project").click()
    at.run()
    assert at.error[0].value == md("A project with this name already exists.")
    assert scalar("select count(*) from projects.projects") == before


def test_a_viewer_sees_no_settings_form_and_the_owner_edits(demo_rw_env):
    viewer = run_page("onboarding", "viewer@example.com")
    assert not viewer.exception
    assert not [b for b in viewer.button if b.label in ("Save changes", "Delete project")]
    assert any("Only owners and maintainers" in c.value for c in viewer.caption)

    owner = run_page("onboarding", "li@example.com")  # owner of Annual Budget only
    owner.text_area(key="edit-description").input("Budget 2027 and forecasts")
    by_label(owner.button, "Save changes").click()
    owner.run()
    assert not owner.error
    assert scalar("select description from projects.projects where name = 'Annual Budget'") == (
        "Budget 2027 and forecasts"
    )


def test_delete_needs_confirmation_and_restore_brings_the_project_back(demo_rw_env):
    at = run_page("onboarding", "li@example.com")
    assert by_label(at.button, "Delete project").disabled
    at.checkbox[0].check()
    at.run()
    by_label(at.button, "Delete project").click()
    at.run()
    assert scalar("select deleted_at is not null from projects.projects where name = 'Annual Budget'")
    at = run_page("onboarding", "li@example.com")
    assert "not a member of any project" in at.info[0].value  # nothing else left for Li
    at.button(
        key="restore-" + str(scalar("select id from projects.projects where name = 'Annual Budget'"))
    ).click()
    at.run()
    assert scalar("select deleted_at is null from projects.projects where name = 'Annual Budget'")


def test_renders_for_every_role_without_exception(demo_env):
    for login in ("admin@example.com", "ops@example.com", "lead@example.com", "reviewer@example.com",
                  "contributor@example.com", "viewer@example.com"):  # fmt: skip
        at = run_page("onboarding", login)
        assert not at.exception, login


def test_the_summary_says_how_fresh_its_counts_are_and_recount_now_refreshes_them(demo_rw_env):
    project_id = scalar("select id from projects.projects where name = 'Apollo Onboarding'")

    def shown() -> int:
        return scalar(
            "select document_count from projects.onboarding_project_summary where project_id = :p",
            p=project_id,
        )

    with system_transaction() as conn:  # other screen tests wrote to this database before
        conn.execute(text("refresh materialized view projects.project_totals"))
    counted = shown()
    # A document imported after the last recount: the summary does not count it yet.
    document_id = scalar(
        "with c as (insert into documents.contents (checksum, size_bytes, storage_code, object_key)"
        " values (repeat('ab', 32), 10, 'local', 'sha256/ab/' || repeat('ab', 32)) returning checksum)"
        " insert into documents.documents (project_id, name, mime_type, checksum)"
        " select :p, 'late.txt', 'text/plain', checksum from c returning id",
        p=project_id,
    )
    try:
        at = run_page("onboarding", "lead@example.com")
        assert any(c.value.startswith("Documents and storage as of") for c in at.caption)
        assert shown() == counted
        by_label(at.button, "Recount now").click()
        at.run()
        assert not at.exception and not at.error
        assert shown() == counted + 1
    finally:
        with system_transaction() as conn:
            conn.execute(text("delete from documents.documents where id = :d"), {"d": document_id})
            conn.execute(text("delete from documents.document_registry where id = :d"), {"d": document_id})
            conn.execute(text("delete from documents.contents where checksum = repeat('ab', 32)"))
            conn.execute(text("refresh materialized view projects.project_totals"))


def test_the_background_recount_keeps_the_totals_fresh_until_stopped(demo_rw_env):
    import threading

    from dashboard.background import refresh_totals_forever
    from db.core.engine import get_engine

    with system_transaction() as conn:
        conn.execute(text("refresh materialized view projects.project_totals"))
    before = scalar("select max(refreshed_at) from projects.project_totals")
    stop = threading.Event()
    thread = threading.Thread(target=refresh_totals_forever, args=(get_engine(), 0.2, stop), daemon=True)
    thread.start()
    wait_until(
        lambda: scalar("select max(refreshed_at) from projects.project_totals") != before,
        timeout=20,
        what="the background recount to refresh the totals",
    )
    stop.set()
    thread.join(5)
    assert not thread.is_alive()


def test_the_recount_is_skipped_until_something_the_totals_count_is_written(demo_rw_env):
    from db.core.engine import transaction
    from db.domain import projects

    def recount(since):
        with system_transaction() as conn:
            return projects.refresh_totals_if_written(conn, since=since)

    def refreshed_at():
        return scalar("select max(refreshed_at) from projects.project_totals")

    writes, first = recount(None), None

    def settled():  # earlier tests' writes reach the statistics up to seconds after they ended
        nonlocal writes, first
        first = refreshed_at()
        seen, writes = writes, recount(writes)
        return seen == writes

    # Looks half a second apart: counts that arrive late would slip between two looks taken closer.
    wait_until(settled, timeout=30, interval=0.5, what="the write counts to settle")
    assert refreshed_at() == first, "nothing written since the last recount: none made"
    lead = scalar("select id from users.users where login = 'lead@example.com'")
    project = scalar(
        "select p.id from projects.projects p join projects.project_access a on a.project_id = p.id"
        " where a.user_id = :u and a.role = 'owner' and p.deleted_at is null order by p.id limit 1",
        u=lead,
    )
    description = scalar("select description from projects.projects where id = :p", p=project)
    try:
        with transaction(actor_id=lead) as conn:
            projects.update_project(conn, project_id=project, description="recount me")
        # PostgreSQL adds a transaction's row counts to its statistics within seconds of its end.
        moved = wait_until(
            lambda: (counted := recount(writes)) != writes and counted,
            timeout=30,
            interval=0.1,
            what="the write to reach the statistics and be recounted",
        )
        assert refreshed_at() > first and moved > writes
    finally:
        with transaction(actor_id=lead) as conn:
            projects.update_project(conn, project_id=project, description=description)


def test_an_admin_outside_a_project_is_told_and_the_look_is_audited_once(demo_rw_env):
    project_id = scalar("select id from projects.projects where name = 'Apollo Onboarding'")
    looks = (
        "select count(*) from audit.audit_log a join users.users u on u.id = a.actor_id"
        " where a.action = 'rls_bypass' and a.project_id = :p and u.login = 'admin@example.com'"
    )
    before = scalar(looks, p=project_id)
    at = run_page("onboarding", "admin@example.com")
    at.selectbox(key="detail-project").select(project_id)
    at.run()
    assert not at.exception and not at.error
    assert any("you see it as an administrator" in c.value for c in at.caption)
    at.run()  # a rerun (any widget) does not write again
    assert scalar(looks, p=project_id) == before + 1
    # A member sees no such notice and leaves no such row.
    lead = run_page("onboarding", "lead@example.com")
    lead.selectbox(key="detail-project").select(project_id)
    lead.run()
    assert not any("as an administrator" in c.value for c in lead.caption)
    assert scalar(looks, p=project_id) == before + 1
    # The project's members find the look in its audit trail.
    trail = run_page("audit_trail", "lead@example.com", query={"project": str(project_id)})
    by_label(trail.selectbox, "Action").select("rls_bypass")
    trail.run()
    assert not trail.exception
    shown = trail.dataframe[0].value
    assert set(shown.action) == {"rls_bypass"} and "admin@example.com" in set(shown.actor_login)


@pytest.mark.parametrize(
    ("login", "projects"),
    [("lead@example.com", 11), ("viewer@example.com", 11), ("li@example.com", 1), ("admin@example.com", 11)],
)
def test_onboarding_shows_the_projects_the_user_can_see(demo_env, login, projects):
    at = run_page("onboarding", login)
    assert not at.exception
    assert at.metric[0].label == "Projects" and at.metric[0].value == str(projects)
    assert len(at.dataframe[0].value) == projects


def test_onboarding_for_someone_in_no_project_says_what_to_do(demo_env):
    at = run_page("onboarding", "ops@example.com")
    assert not at.exception
    assert "not a member of any project" in at.info[0].value
