"""`prosync demo`: a realistic small data set, written through the data-access module."""

from __future__ import annotations

import io
import logging
import random
import struct
import zlib
from datetime import UTC, datetime, timedelta
from functools import partial

from sqlalchemy import Engine

from db.core.engine import get_owner_engine, system_transaction, transaction
from db.domain import access, documents, projects, tags, users
from db.files import fulltext, ingest
from db.files.storage import upload_store

log = logging.getLogger(__name__)

DEMO_PASSWORD = "prosync-demo"
# login, display name, system roles
DEMO_USERS = [
    ("admin@example.com", "Ada Admin", ("admin",)),
    ("ops@example.com", "Otto Ops", ("ops",)),
    ("lead@example.com", "Lena Lead", ()),
    ("reviewer@example.com", "Rafael Reviewer", ()),
    ("contributor@example.com", "Chris Contributor", ()),
    ("viewer@example.com", "Vera Viewer", ()),
    ("maria@example.com", "Maria Maintainer", ()),
    ("sam@example.com", "Sam Engineer", ()),
    ("li@example.com", "Li Finance", ()),
]
# name, owner, description, tags
DEMO_PROJECTS = [
    (
        "Apollo Onboarding",
        "lead",
        "New-hire onboarding handbook and checklists",
        ["Onboarding", "Internal"],
    ),
    ("Billing Revamp", "lead", "Replacing the invoicing pipeline", ["Engineering", "Active"]),
    (
        "Vendor Contracts 2026",
        "maria",
        "Supplier agreements and renewals",
        ["Legal", "Confidential"],
    ),
    ("Data Platform", "lead", "Warehouse, pipelines and dashboards", ["Engineering", "Active"]),
    (
        "Security Review Q3",
        "maria",
        "Pen-test findings and remediation",
        ["Engineering", "Confidential"],
    ),
    ("Annual Budget", "li", "Budget planning and forecasts", ["Finance", "Internal"]),
    ("Office Move", "lead", "Moving to the new building", ["Internal", "Archived"]),
    ("Mobile App 2.0", "sam", "Redesign of the mobile client", ["Engineering", "Onboarding"]),
    ("Customer Research", "lead", "Interviews and survey results", ["Active", "Internal"]),
    ("Compliance Audit", "maria", "ISO 27001 evidence collection", ["Legal", "Active"]),
    (
        "Hiring Pipeline",
        "lead",
        "Job descriptions and interview kits",
        ["Onboarding", "Confidential"],
    ),
    ("Brand Refresh", "sam", "Logo, palette and templates", ["Archived", "Internal"]),
]
# Per-project roles of the demo people (the owner gets owner automatically).
DEMO_MEMBERS = {
    "reviewer": "reviewer",
    "contributor": "contributor",
    "viewer": "viewer",
    "maria": "maintainer",
    "sam": "contributor",
    "lead": "maintainer",
}


def png_bytes(width: int, height: int, rgb: tuple[int, int, int]) -> bytes:
    raw = b"".join(b"\x00" + bytes(rgb) * width for _ in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


# What the demo's briefs and notes say, so that search inside files has words to find.
DEMO_SENTENCES = (
    "The kickoff moves to Thursday so that every new hire has a laptop on day one.",
    "Each newcomer gets a buddy for the first month and a checklist of accounts to request.",
    "Finance approved the quarterly budget; the vendor invoice for the badges is still open.",
    "The penetration test found two findings of medium severity; both are scheduled for remediation.",
    "Retention of interview notes is limited to six months under the GDPR policy.",
    "Survey results show that customers value the onboarding webinar more than the handbook.",
    "The escalation path for payroll questions runs through the people team, then the controller.",
    "Wireframes for the new palette were reviewed; the typography needs another iteration.",
    "Evidence for control A.9 (access management) is collected from the identity provider each week.",
    "Action: draft the relocation timeline and confirm the movers' insurance certificate.",
    "The security awareness training is mandatory before production access is granted.",
    "Interview kits now include a scoring rubric so that panels compare candidates fairly.",
)


def demo_text(rng: random.Random, count: int = 3) -> list[str]:
    """A few of the demo's sentences, in an order of their own."""
    return rng.sample(DEMO_SENTENCES, count)


def _pdf_string(value: str) -> str:
    return value.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def pdf_bytes(title: str, lines: tuple[str, ...] | list[str] = ()) -> bytes:
    """A one-page PDF with a text layer: a title, then `lines` beneath it."""
    text_ops = "".join(f" T* ({_pdf_string(line)}) Tj" for line in lines)
    body = (f"BT /F1 18 Tf 72 720 Td ({_pdf_string(title)}) Tj /F1 11 Tf 16 TL 0 -12 Td{text_ops} ET").encode(
        "latin-1", "replace"
    )
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R"
        b" /Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(body) + body + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out, offsets = b"%PDF-1.4\n", []
    for number, obj in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + obj + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer << /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return out


def _demo_file(project: str, n: int, rng: random.Random) -> tuple[str, str, bytes]:
    """A small, real file of one of the common types: (name, mime type, bytes)."""
    slug = project.lower().replace(" ", "-")
    kind = n % 4
    if kind == 0:
        return f"{slug}-brief-{n}.pdf", "application/pdf", pdf_bytes(f"{project}: brief {n}", demo_text(rng))
    if kind == 1:
        rows = "\n".join(f"{i},{rng.randint(1, 999)},{rng.choice(['open', 'done'])}" for i in range(20))
        return f"{slug}-tracker-{n}.csv", "text/csv", f"item,amount,state\n{rows}\n".encode()
    if kind == 2:
        colour = (rng.randint(0, 255), rng.randint(0, 255), rng.randint(0, 255))
        return f"{slug}-diagram-{n}.png", "image/png", png_bytes(32, 24, colour)
    notes = "\n".join([f"Meeting notes {n} for {project}.", "", *demo_text(rng)])
    return f"{slug}-notes-{n}.txt", "text/plain", f"{notes}\n".encode()


def load_demo(engine: Engine | None = None) -> bool:
    """Load the demo data set; False (and nothing written) if it is already there."""
    engine = engine or get_owner_engine()
    rng = random.Random(20261124)
    with system_transaction(engine=engine) as conn:
        storage = upload_store(conn)
        if users.find_user_by_login(conn, login="admin@example.com") is not None:
            return False
        people = {}
        for login, name, roles in DEMO_USERS:
            user = users.create_user(
                conn, login=login, display_name=name, password=DEMO_PASSWORD, system_roles=roles
            )
            people[login.split("@")[0]] = user
    admin = people["admin"]
    all_tags = {}
    with transaction(actor_id=admin.id, engine=engine) as conn:
        for tag in tags.list_tags(conn):
            all_tags[tag.name] = tag
    made = {}
    for name, owner, description, tag_names in DEMO_PROJECTS:
        with transaction(actor_id=people[owner].id, engine=engine) as conn:
            project = projects.create_project(conn, name=name, description=description)
            for person, role in DEMO_MEMBERS.items():
                if person != owner:
                    access.grant_access(conn, project_id=project.id, user_id=people[person].id, role=role)
            for tag_name in tag_names:
                tags.tag_project(conn, project_id=project.id, tag_id=all_tags[tag_name].id)
        made[name] = project

    now = datetime.now(UTC)
    uploaders = [people["contributor"], people["sam"], people["lead"], people["reviewer"]]
    for index, (name, project) in enumerate(made.items()):
        # Earlier documents, spread over the last six quarters (imported with their dates).
        history_count = 4 + (index * 3) % 9
        with transaction(actor_id=admin.id, engine=engine) as conn:
            for n in range(history_count):
                file_name, mime, data = _demo_file(name, n, rng)
                stored = storage.put_bytes(data)
                documents.import_document(
                    conn,
                    project_id=project.id,
                    name=file_name,
                    checksum=stored.checksum,
                    size_bytes=stored.size_bytes,
                    mime_type=mime,
                    storage_code=storage.code,
                    object_key=stored.key,
                    uploaded_at=now - timedelta(days=rng.randint(20, 540)),
                    uploaded_by=rng.choice(uploaders).id,
                )
        # This week's uploads go through staging: some approved, some pending, one rejected.
        for n in range(history_count, history_count + 3):
            file_name, mime, data = _demo_file(name, n, rng)
            staged = ingest.stage_file(
                partial(transaction, actor_id=people["contributor"].id, engine=engine),
                project_id=project.id,
                name=file_name,
                stream=io.BytesIO(data),
                declared_mime=mime,
                notes="Uploaded for the weekly review",
                metadata={"source": "demo", "batch": index},
            ).staged
            step = (index + n) % 3
            if step == 0:
                continue  # stays pending
            reviewer = partial(transaction, actor_id=people["reviewer"].id, engine=engine)
            if step == 1:
                ingest.approve_file(reviewer, ingest_id=staged.id, reviewer_notes="Looks good")
            elif index % 4 == 0:
                ingest.reject_file(reviewer, ingest_id=staged.id, reason="Wrong project: belongs to Finance")
            else:
                ingest.approve_file(reviewer, ingest_id=staged.id)
    # A little life: a description edit, a soft-deleted document, a project in the trash.
    with transaction(actor_id=people["lead"].id, engine=engine) as conn:
        apollo = made["Apollo Onboarding"]
        projects.update_project(
            conn, project_id=apollo.id, description="Handbook, checklists and buddy programme"
        )
        page = documents.list_active_documents(conn, project_id=apollo.id, limit=1)
        documents.soft_delete_document(conn, document_id=page.rows[0].id)
        projects.soft_delete_project(conn, project_id=made["Office Move"].id)
    # The text of every document, for search inside files, before anyone signs in.
    fulltext.index_all(partial(system_transaction, engine=engine), fulltext.as_approvers(engine))
    with system_transaction(engine=engine) as conn:
        projects.refresh_totals(conn)
    log.info("demo data loaded: %d users, %d projects", len(people), len(made))
    return True
