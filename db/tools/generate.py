"""`prosync generate --scale 100k|1m`: a large, realistic data set for benchmarks, in set-based SQL.

Everything is `INSERT … SELECT generate_series` in one transaction (a failure leaves nothing), with
the row triggers switched off for the load (`session_replication_role = replica`): the audit log
and the history tables are written by the generator itself, spread over three years, as the
triggers would have written them over that time. Needs a superuser (the embedded server's own
user is one) and an empty, migrated database.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Connection, text

from db.core.errors import Conflict
from db.domain import search

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Scale:
    projects: int
    users: int
    members_per_project: int
    tags: int
    documents: int
    audit_rows: int
    staged: int
    years: int = 3
    skew: float = 1.0  # Zipf exponent of documents per project: a few big projects, many small


SCALES = {
    "1m": Scale(
        projects=1_000, users=10_000, members_per_project=20, tags=200,
        documents=1_000_000, audit_rows=10_000_000, staged=100_000,
    ),
    "100k": Scale(
        projects=100, users=1_000, members_per_project=20, tags=200,
        documents=100_000, audit_rows=1_000_000, staged=10_000,
    ),
}  # fmt: skip

GENERATED_DOMAIN = "scale.example.com"


def documents_per_project(scale: Scale) -> list[int]:
    """Zipf-shaped counts, biggest first, at least one each, summing to exactly `scale.documents`."""
    weights = [1 / (rank**scale.skew) for rank in range(1, scale.projects + 1)]
    total = sum(weights)
    counts = [max(1, int(scale.documents * w / total)) for w in weights]
    counts[0] += scale.documents - sum(counts)
    return counts


def generate(
    conn: Connection, scale: Scale, *, progress: Callable[[str, int, float], None] | None = None
) -> None:
    """Fill an empty, migrated database with `scale`'s data set; `progress(step, rows, seconds)`."""
    if conn.execute(text("select exists (select 1 from projects.projects)")).scalar_one():
        raise Conflict(
            "This database already holds projects: generate fills an empty one. Point DATABASE_URL at a "
            "new database and run `prosync db upgrade` first."
        )
    try:
        conn.execute(text("set local session_replication_role = replica"))
    except Exception as error:
        raise Conflict(
            "Generating needs a superuser connection (it switches row triggers off for the load): "
            "use the embedded server or a superuser DATABASE_URL."
        ) from error
    conn.execute(text("select setseed(0.42)"))
    conn.execute(text("set local work_mem = '256MB'"))
    conn.execute(text("set local maintenance_work_mem = '512MB'"))
    params = {
        "users": scale.users,
        "projects": scale.projects,
        "members": scale.members_per_project,
        "tags": scale.tags,
        "documents": scale.documents,
        "audit": scale.audit_rows,
        "staged": scale.staged,
        "years": scale.years,
        "domain": GENERATED_DOMAIN,
        # One argon2id hash of a random password nobody knows: generated users cannot sign in
        # until an admin sets a password.
        "hash": _unusable_hash(),
        "counts": documents_per_project(scale),
        "text_words": TEXT_WORDS.strip(),
        "language": search.language(conn),
    }
    for label, sql in STEPS:
        started = time.perf_counter()
        result = conn.execute(text(sql), params)
        rows = max(result.rowcount, 0)
        if progress:
            progress(label, rows, time.perf_counter() - started)
        log.info("%s: %s rows in %.1f s", label, rows, time.perf_counter() - started)


def _unusable_hash() -> str:
    from db.domain.users import hash_password

    return hash_password(secrets.token_urlsafe(32))


WORDS = (
    "array['budget','contract','invoice','design','minutes','roadmap','report','plan','review','spec',"
    "'onboarding','handbook','policy','forecast','audit','proposal','summary','schedule','brief','memo']"
)
TYPES = (
    "array['application/pdf','application/pdf','application/pdf','application/pdf',"
    "'application/vnd.openxmlformats-officedocument.wordprocessingml.document',"
    "'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet','image/png','image/jpeg',"
    "'text/csv','text/plain']"
)
EXTENSIONS = "array['pdf','pdf','pdf','pdf','docx','xlsx','png','jpg','csv','txt']"
# The words of the documents' text, most used first: a document's words are drawn with a Zipf-like
# skew (word k about as often as 1/k), so a few words are in most documents and most in few; each
# document also names a client and one of 50,000 reference codes (each in about 20 documents).
TEXT_WORDS = (
    "project report budget meeting team review plan customer contract invoice schedule design quarter"
    " policy onboarding approval risk vendor deadline milestone payment training security access"
    " release request summary document update proposal forecast revenue office supplier quality"
    " checklist laptop account compliance evidence audit hiring candidate interview salary benefits"
    " workshop feedback survey roadmap feature backlog sprint incident outage escalation ticket"
    " migration database server network license renewal insurance warranty shipment delivery"
    " warehouse inventory procurement purchase order receipt expense travel reimbursement payroll"
    " pension holiday parental leave relocation facilities badge parking canteen cleaning furniture"
    " printer projector whiteboard webinar newsletter campaign brand logo palette typography"
    " wireframe prototype usability accessibility localisation translation glossary handbook"
    " guideline template minutes agenda action decision owner stakeholder sponsor steering"
    " committee board director manager analyst engineer architect consultant contractor intern"
    " mentor buddy orientation induction probation appraisal promotion retention attrition"
    " diversity wellbeing ergonomics firstaid evacuation drill fire safety hazard permit inspection"
    " certificate iso gdpr privacy retentionschedule encryption backup restore failover latency"
    " throughput capacity scaling kubernetes terraform pipeline deployment rollback hotfix patch"
    " vulnerability penetration remediation exception waiver attestation signature notary"
    " amendment clause liability indemnity termination arbitration jurisdiction tender bid"
)
# A moment in the last :years years, denser towards now (organisations grow).
RECENT_BIASED = "now() - make_interval(days => :years * 365) * (1 - sqrt(random()))"

STEPS: list[tuple[str, str]] = [
    (
        "partitions",
        "select system.maintain_partitions('documents.documents', 4, :years * 4 + 1),"
        " system.maintain_partitions('audit.audit_log', 4, :years * 12 + 1)",
    ),
    (
        "users",
        "insert into users.users (login, display_name, password_hash, created_at, updated_at,"
        " password_changed_at)"
        " select format('user%s@%s', i, cast(:domain as text)), format('Scale User %s', i), :hash, t, t, t"
        " from generate_series(1, :users) i,"
        " lateral (select now() - make_interval(days => :years * 365) + make_interval(mins => i)) x(t)",
    ),
    (
        "numbered users",
        "create temp table gen_users on commit drop as"
        " select id, row_number() over (order by id) - 1 as n from users.users"
        " where login like '%@' || cast(:domain as text)",
    ),
    (
        "tags",
        "insert into projects.tag_reference (name, category, description, color)"
        " select format('%s %s', initcap((" + WORDS + ")[1 + i % 20]), i),"
        " (array['team','phase','sensitivity','topic','client','region'])[1 + i % 6], '',"
        " '#' || lpad(to_hex((i * 2654435761) % 16777216), 6, '0')"
        " from generate_series(1, greatest(:tags - (select count(*) from projects.tag_reference), 0)) i",
    ),
    (
        "projects",
        "insert into projects.projects (name, description, owner_id, created_at, updated_at)"
        " select format('%s %s %s', initcap((" + WORDS + ")[1 + i % 20]),"
        "   (array['Alpha','Beacon','Cobalt','Delta','Echo','Falcon','Granite','Harbor'])[1 + i % 8], i),"
        " 'Generated for the benchmark', u.id, t, t"
        " from generate_series(1, :projects) i"
        " join gen_users u on u.n = (i * 7919) % :users,"
        " lateral (select now() - make_interval(days => :years * 365) + make_interval(hours => i)) x(t)",
    ),
    (
        "numbered projects",
        "create temp table gen_projects on commit drop as"
        " select id, owner_id, created_at, row_number() over (order by id) - 1 as n"
        " from projects.projects",
    ),
    (
        "owners",
        "insert into projects.project_access (project_id, user_id, role, granted_at, updated_at)"
        " select id, owner_id, 'owner', created_at, created_at from gen_projects",
    ),
    (
        "members",
        # Deterministic distinct members per project; a skewed role mix: many viewers, few maintainers.
        "insert into projects.project_access (project_id, user_id, role, granted_at, updated_at)"
        " select p.id, u.id, case when h < 5 then 'maintainer' when h < 15 then 'reviewer'"
        "   when h < 45 then 'contributor' else 'viewer' end, p.created_at, p.created_at"
        " from gen_projects p cross join generate_series(1, :members - 1) k"
        " join gen_users u on u.n = (p.n * 37 + k * 523) % :users,"
        " lateral (select abs(hashint8(p.n * 100 + k)) % 100) x(h)"
        " on conflict do nothing",
    ),
    (
        "project tags",
        "insert into projects.project_tag (project_id, tag_id)"
        " select p.id, t.id from gen_projects p cross join generate_series(0, p.n % 5) k"
        " join (select id, row_number() over (order by id) - 1 as n from projects.tag_reference) t"
        "   on t.n = (p.n * 13 + k * 41) % :tags"
        " on conflict do nothing",
    ),
    (
        "document plan",
        "create temp table gen_docs on commit drop as"
        " select row_number() over (order by c.rank, s) as i, p.id as project_id, p.n as project_n,"
        " " + RECENT_BIASED + " as uploaded_at, random() as r"
        " from unnest(cast(:counts as int[])) with ordinality c(n, rank)"
        " join gen_projects p on p.n = c.rank - 1"
        " cross join generate_series(1, c.n) s",
    ),
    (
        "contents",
        "insert into documents.contents (checksum, size_bytes, storage_code, object_key, created_at)"
        " select h, 1024 + (abs(hashint8(i)) % 5000000), 'local',"
        " format('sha256/%s/%s/%s', substr(h, 1, 2), substr(h, 3, 2), h), uploaded_at"
        " from gen_docs, lateral (select encode(sha256(('document ' || i)::bytea), 'hex')) x(h)",
    ),
    (
        "document registry",
        "insert into documents.document_registry (id, project_id, checksum)"
        " select i, project_id, encode(sha256(('document ' || i)::bytea), 'hex') from gen_docs",
    ),
    (
        "documents",
        "insert into documents.documents (id, uploaded_at, project_id, name, mime_type, checksum,"
        " metadata, uploaded_by, updated_at, deleted_at, deleted_by)"
        " select d.i, d.uploaded_at, d.project_id,"
        " format('%s-%s-%s.%s', (" + WORDS + ")[1 + d.i % 20], (" + WORDS + ")[1 + (d.i / 20) % 20], d.i,"
        "   (" + EXTENSIONS + ")[1 + t]),"
        " (" + TYPES + ")[1 + t], encode(sha256(('document ' || d.i)::bytea), 'hex'),"
        " case when d.i % 4 = 0 then jsonb_build_object('client', 'Client ' || d.i % 50) else '{}' end,"
        " u.id, d.uploaded_at,"
        " case when d.r < 0.03 then least(d.uploaded_at + interval '30 days', now()) end,"
        " case when d.r < 0.03 then u.id end"
        " from gen_docs d"
        " join gen_users u on u.n = (d.project_n * 37 + (1 + d.i % (:members - 1)) * 523) % :users"
        " cross join lateral (select (d.i * 7) % 10) x(t)",
    ),
    (
        "document text",
        # With row triggers off for the load, the text queue's trigger does not fire: these documents
        # have their text already, as if the indexer had run.
        "insert into documents.document_text (document_id, project_id, uploaded_at, language, body,"
        " extracted_at)"
        " select d.i, d.project_id, d.uploaded_at, cast(:language as regconfig),"
        " concat_ws(' ', 'Client', d.i % 50, 'reference', 'ref' || abs(hashint8(d.i * 31 + 7)) % 50000,"
        " w.body),"
        " d.uploaded_at"
        " from gen_docs d cross join lateral ("
        "   select string_agg(v.words[floor(power(cardinality(v.words), random()))::int], ' ') as body"
        "   from (select string_to_array(cast(:text_words as text), ' ') as words) v,"
        "   generate_series(1, 30 + d.i % 30) k"
        "   where d.i > 0"  # a reference to the outer row: one draw of words per document
        " ) w",
    ),
    (
        "document history",
        "insert into documents.document_history (document_id, project_id, operation, changed_at,"
        " changed_by, new_values, changed_columns)"
        " select id, project_id, 'insert', uploaded_at, uploaded_by,"
        " jsonb_build_object('name', name, 'mime_type', mime_type), null::text[] from documents.documents"
        " union all"
        " select id, project_id, 'soft_delete', deleted_at, deleted_by,"
        " jsonb_build_object('deleted_at', deleted_at), '{deleted_at}' from documents.documents"
        " where deleted_at is not null",
    ),
    (
        "project history",
        "insert into projects.project_history (project_id, operation, changed_at, changed_by, new_values)"
        " select p.id, 'insert', p.created_at, p.owner_id, jsonb_build_object('name', p.name)"
        " from projects.projects p",
    ),
    (
        "staged contents",
        # Files still in review (10%) and rejected ones (5%) have contents of their own.
        "insert into documents.contents (checksum, size_bytes, storage_code, object_key, created_at)"
        " select h, 1024 + (abs(hashint8(-i)) % 5000000), 'local',"
        " format('sha256/%s/%s/%s', substr(h, 1, 2), substr(h, 3, 2), h), now()"
        " from generate_series(1, :staged * 15 / 100) i,"
        " lateral (select encode(sha256(('staged ' || i)::bytea), 'hex')) x(h)",
    ),
    (
        "staging",
        "insert into staging.documents_ingest (project_id, original_name, declared_mime, detected_mime,"
        " checksum, status, rejection_reason, notes, uploaded_by, uploaded_at, reviewed_by, reviewed_at,"
        " document_id, updated_at)"
        # approved (85%): the documents they became
        " select d.project_id, d.name, d.mime_type, d.mime_type, d.checksum, 'approved', null, '',"
        " d.uploaded_by, d.uploaded_at - interval '1 day', p.owner_id, d.uploaded_at, d.id, d.uploaded_at"
        " from (select * from documents.documents"
        "       where id % greatest(:documents / (:staged * 85 / 100), 1) = 0"
        "       order by id limit :staged * 85 / 100) d"
        " join gen_projects p on p.id = d.project_id"
        " union all"
        # pending (10%) and rejected (5%)
        " select p.id, format('incoming-%s.pdf', i), 'application/pdf', 'application/pdf',"
        " encode(sha256(('staged ' || i)::bytea), 'hex'),"
        " case when i % 3 = 0 then 'rejected' else 'pending' end,"
        " case when i % 3 = 0 then 'Duplicate of an approved document' end, '', u.id,"
        " now() - make_interval(mins => i), case when i % 3 = 0 then p.owner_id end,"
        " case when i % 3 = 0 then now() - make_interval(mins => i) + interval '1 minute' end, null, now()"
        " from generate_series(1, :staged * 15 / 100) i"
        " join gen_projects p on p.n = floor(power((abs(hashint8(i)) % 1000) / 1000.0, 2) * :projects)"
        " join gen_users u on u.n = (p.n * 37 + 523) % :users",
    ),
    (
        "audit log",
        'insert into audit.audit_log ("timestamp", actor_id, action, schema_name, table_name, record_id,'
        " project_id, new_values, changed_columns)"
        " select ts, u.id, (array['insert','update','update','soft_delete','restore'])[1 + a],"
        " split_part(tbl, '.', 1), split_part(tbl, '.', 2), (abs(hashint8(i)) % :documents + 1)::text,"
        " p.id, jsonb_build_object('name', 'document ' || i), case when a in (1, 2) then '{name}'::text[] end"
        " from (select i, " + RECENT_BIASED + " as ts, random() as r, (i % 5)::int as a"
        "       from generate_series(cast(1 as bigint), :audit) i) s"
        " cross join lateral (select case when r < 0.6 then 'documents.documents'"
        "   when r < 0.8 then 'staging.documents_ingest' when r < 0.9 then 'projects.project_access'"
        "   when r < 0.95 then 'projects.projects' else 'projects.project_tag' end) t(tbl)"
        " join gen_projects p on p.n = floor(power(r, 3) * :projects)"
        " join gen_users u on u.n = (i * 104729) % :users",
    ),
    (
        "registry sequence",
        "select setval(pg_get_serial_sequence('documents.document_registry', 'id'), :documents)",
    ),
    ("project totals", "refresh materialized view projects.project_totals"),
    ("statistics", "analyze"),
]


def add_accounts(conn: Connection, *, lead_projects: int = 50) -> None:
    """The demo's sign-in accounts on the generated data (audited, through the data-access module):
    admin, ops, and a lead who maintains the `lead_projects` biggest projects."""
    from db.domain import access, users
    from db.tools.demo import DEMO_PASSWORD

    made = {}
    for login, name, roles in (
        ("admin@example.com", "Ada Admin", ("admin",)),
        ("ops@example.com", "Otto Ops", ("ops",)),
        ("lead@example.com", "Lena Lead", ()),
    ):
        made[login] = users.find_user_by_login(conn, login=login) or users.create_user(
            conn, login=login, display_name=name, password=DEMO_PASSWORD, system_roles=roles
        )
    biggest = conn.execute(
        text(
            "select project_id from documents.document_registry group by project_id"
            " order by count(*) desc, project_id limit :n"
        ),
        {"n": lead_projects},
    ).scalars()
    for project_id in biggest:
        access.grant_access(
            conn, project_id=project_id, user_id=made["lead@example.com"].id, role="maintainer"
        )
