"""`prosync generate`: a large data set in set-based SQL, checked at a small scale on a real server."""

import pytest
from sqlalchemy import text

from db.core import migrate
from db.core.engine import make_engine, sqlalchemy_url, system_transaction
from db.core.errors import Conflict
from db.tools import generate
from tests.conftest import create_database

SMALL = generate.Scale(
    projects=20, users=200, members_per_project=20, tags=50, documents=5_000, audit_rows=20_000, staged=1_000
)


@pytest.fixture(scope="module")
def generated(server_url):
    url = create_database(server_url, "prosync_generated")
    migrate.upgrade(url=url)
    engine = make_engine(sqlalchemy_url(url))
    steps = []
    with system_transaction(engine=engine) as conn:
        generate.generate(conn, SMALL, progress=lambda step, rows, seconds: steps.append((step, rows)))
    with system_transaction(engine=engine) as conn:
        generate.add_accounts(conn, lead_projects=5)
    yield engine, dict(steps)
    engine.dispose()


def _one(engine, sql: str):
    with engine.connect() as conn:
        return conn.execute(text(sql)).scalar_one()


def test_the_data_set_has_the_asked_size_and_reports_progress(generated):
    engine, steps = generated
    assert steps["documents"] == SMALL.documents and steps["audit log"] == SMALL.audit_rows
    assert _one(engine, "select count(*) from projects.projects") == SMALL.projects
    assert (
        _one(engine, "select count(*) from users.users where login like '%@scale.example.com'") == SMALL.users
    )
    assert _one(engine, "select count(*) from documents.documents") == SMALL.documents
    assert _one(engine, "select count(*) from documents.document_registry") == SMALL.documents
    assert _one(engine, "select count(*) from projects.tag_reference") == SMALL.tags
    members = _one(engine, "select count(*)::float / count(distinct project_id) from projects.project_access")
    assert 18 <= members <= 21, "about 20 members per project"
    statuses = dict(
        engine.connect()
        .execute(text("select status, count(*) from staging.documents_ingest group by 1"))
        .all()
    )
    assert statuses["pending"] == SMALL.staged * 10 // 100 and statuses["rejected"] == SMALL.staged * 5 // 100
    assert statuses["approved"] == SMALL.staged * 85 // 100
    history = _one(engine, "select count(*) from documents.document_history")
    assert history > SMALL.documents, "an insert row per document, and the soft deletes"


def test_documents_and_audit_rows_spread_over_three_years_of_partitions(generated):
    engine, _ = generated
    assert _one(engine, "select count(*) from documents.documents_default") == 0
    assert _one(engine, "select count(*) from audit.audit_log_default") == 0
    quarters = _one(engine, "select count(distinct tableoid) from documents.documents")
    months = _one(engine, "select count(distinct tableoid) from audit.audit_log")
    assert quarters >= 12 and months >= 36
    span = _one(
        engine, "select extract(day from max(uploaded_at) - min(uploaded_at)) from documents.documents"
    )
    assert span > 3 * 365 - 30


def test_a_few_projects_are_big_and_many_small(generated):
    engine, _ = generated
    with engine.connect() as conn:
        counts = (
            conn.execute(text("select count(*) from documents.documents group by project_id order by 1 desc"))
            .scalars()
            .all()
        )
    assert counts == sorted(generate.documents_per_project(SMALL), reverse=True)
    assert counts[0] > 10 * counts[len(counts) // 2]


def test_the_data_keeps_the_model_rules_the_triggers_were_off_for(generated):
    engine, _ = generated
    checks = {
        "projects without their owner's access": "select count(*) from projects.projects p where not exists"
        " (select 1 from projects.project_access a where a.project_id = p.id and a.user_id = p.owner_id"
        " and a.role = 'owner')",
        "documents with an unknown uploader": "select count(*) from documents.documents d"
        " where not exists (select 1 from users.users u where u.id = d.uploaded_by)",
        "documents without content": "select count(*) from documents.documents d"
        " where not exists (select 1 from documents.contents c where c.checksum = d.checksum)",
        "registry rows that disagree": "select count(*) from documents.documents d"
        " join documents.document_registry r on r.id = d.id"
        " where (r.project_id, r.checksum) <> (d.project_id, d.checksum)",
        "approved files pointing nowhere": "select count(*) from staging.documents_ingest i where i.status ="
        " 'approved' and not exists (select 1 from documents.documents d where d.id = i.document_id)",
        "audit rows of unknown projects": "select count(*) from audit.audit_log a"
        " where a.project_id is not null"
        " and not exists (select 1 from projects.projects p where p.id = a.project_id)",
    }
    found = {name: _one(engine, sql) for name, sql in checks.items()}
    assert found == dict.fromkeys(checks, 0)


def test_every_document_has_plausible_text_with_common_and_rare_words(generated):
    """The benchmark's search rows mean something only if the words are spread as a real
    collection's are: a few in most documents, most in few, a reference code in a handful."""
    engine, steps = generated
    assert steps["document text"] == SMALL.documents
    assert _one(engine, "select count(*) from documents.document_text where project_id is null") == 0
    assert _one(engine, "select min(length(body)) from documents.document_text") > 100

    def share(word: str) -> float:
        return _one(
            engine,
            "select avg((search_vector @@ plainto_tsquery('english', '" + word + "'))::int)"
            " from documents.document_text",
        )

    words = generate.TEXT_WORDS.split()
    assert share(words[0]) > 0.9 and 0.1 < share(words[35]) < 0.35 and share(words[-1]) < 0.05
    reference = _one(engine, "select substring(body from 'ref[0-9]+') from documents.document_text limit 1")
    assert 0 < share(reference) < 0.01


def test_accounts_are_added_through_the_audited_path(generated):
    engine, _ = generated
    lead = "select count(*) from projects.project_access a join users.users u on u.id = a.user_id"
    assert _one(engine, lead + " where u.login = 'lead@example.com'") == 5
    audited = _one(
        engine,
        "select count(*) from audit.audit_log where table_name = 'project_access'"
        " and new_values ->> 'role' = 'maintainer' and \"timestamp\" > now() - interval '1 hour'",
    )
    assert audited >= 5


def test_generating_into_a_database_with_projects_is_refused(generated):
    engine, _ = generated
    with pytest.raises(Conflict, match="already holds projects"), system_transaction(engine=engine) as conn:
        generate.generate(conn, SMALL)
