"""Running page scripts in AppTest as a given user, and checking the database afterwards; a demo
user's sessions, opened and checked; hostile text planted through the data-access layer, for the
screens that must show it as text."""

import secrets
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import text
from streamlit.testing.v1 import AppTest

from db.core.engine import system_transaction
from db.core.types import Project, User
from db.domain import users

ROOT = Path(__file__).resolve().parents[2]


def run_page(name: str, login: str, *, query: dict | None = None, session_id: str | None = None) -> AppTest:
    """A page script run as the demo user `login` (as the router would have resolved them, in the
    session `session_id`)."""
    at = AppTest.from_file(str(ROOT / "pages" / f"{name}.py"), default_timeout=30)
    with system_transaction() as conn:
        at.session_state["user"] = users.find_user_by_login(conn, login=login)
    at.session_state["session_id"] = session_id
    for key, value in (query or {}).items():
        at.query_params[key] = value
    return at.run()


def scalar(sql: str, **params):
    with system_transaction() as conn:
        return conn.execute(text(sql), params).scalar_one()


def by_label(elements, label: str):
    return next(e for e in elements if e.label == label)


def open_sessions(login: str, n: int) -> list:
    """`n` new sessions of the demo user `login`, as n browsers would have them."""
    from db.domain import sessions

    user_id = scalar("select id from users.users where login = :l", l=login)
    with system_transaction() as conn:
        return [sessions.create_session(conn, user_id=user_id, user_agent=f"browser {i}") for i in range(n)]


def revoked(new) -> bool:
    """Whether the session `new` (a sessions.NewSession) has been ended."""
    return scalar(
        "select revoked_at is not null from auth.sessions where id = cast(:s as uuid)", s=new.session.id
    )


# Text that Markdown, Streamlit's directives, LaTeX, HTML or plotly would act on if it were not
# escaped. Every value planted below carries MARKER, so a test finds each place it is shown.
MARKER = "Hostile"
RICH = (
    "![t](http://127.0.0.1:9/t.png) **bold** [link](http://evil.example) :red[red] $x^2$ <b>b</b>"
    ' <a href="http://evil.example">a</a>'
)
# File names cannot hold a '/'; `http:host` is still an address to a browser.
RICH_FILE = "![t](http:127.0.0.1:9) **bold** [link](http:evil.example) :red[red] $x^2$ <b>b"


@dataclass(frozen=True)
class Hostile:
    """What plant_hostile_values wrote: the user, the project and the file names, and every value."""

    user: User
    password: str
    project: Project
    trashed_project: str
    tag: str
    file_names: dict[str, str]  # approved, trashed, rejected, pending
    values: tuple[str, ...]


def plant_hostile_values(*, password: str, members: tuple[str, ...] = ()) -> Hostile:
    """Through the data-access layer, as the command line and then as the new user: a user whose
    e-mail address and name are hostile, who owns a project (hostile name and description, a hostile
    tag, another hostile project in the trash) with files: approved, approved and trashed, rejected
    with a hostile reason, and pending with hostile notes, declared type and metadata. `members`
    (logins) become maintainers of the project."""
    from functools import partial
    from io import BytesIO

    from db.core.engine import transaction
    from db.domain import access, documents, projects, sessions, tags
    from db.files import ingest

    suffix = secrets.token_hex(3)
    rich = f"{MARKER} {RICH}"
    with system_transaction() as conn:
        user = users.create_user(
            conn,
            login=f"zz-{MARKER}-**bold**$x^2$~{suffix}@evil.example",
            display_name=rich,
            password=password,
        )
        project = projects.create_project(
            conn, name=f"Zz {rich} {suffix}", description=rich, owner_id=user.id
        )
        trashed = projects.create_project(conn, name=f"Zz {MARKER} trashed {RICH} {suffix}", owner_id=user.id)
        tag = tags.create_tag(
            conn,
            name=f"{MARKER} ![t](http://127.0.0.1:9/t) **b** $x$ <b>b</b> {suffix}",
            category="zz-hostile",
        )
        for login in members:
            member = users.find_user_by_login(conn, login=login)
            access.grant_access(conn, project_id=project.id, user_id=member.id, role="maintainer")
        sessions.create_session(conn, user_id=user.id, user_agent=f'=HYPERLINK("http://evil.example") {rich}')
    unit = partial(transaction, actor_id=user.id)
    with unit() as conn:
        tags.tag_project(conn, project_id=project.id, tag_id=tag.id)
        projects.soft_delete_project(conn, project_id=trashed.id)
    names, staged = {}, {}
    for step in ("approved", "trashed", "rejected", "pending"):
        names[step] = f"{MARKER} {RICH_FILE} {step} {suffix}.txt"
        staged[step] = ingest.stage_file(
            unit,
            project_id=project.id,
            name=names[step],
            stream=BytesIO(f"{step} {suffix}: {rich}".encode()),
            declared_mime=f"text/plain; {rich}",
            notes=rich,
            metadata={"client": rich},
        ).staged
    ingest.approve_file(unit, ingest_id=staged["approved"].id, reviewer_notes=rich)
    trashed_document = ingest.approve_file(unit, ingest_id=staged["trashed"].id).document
    ingest.reject_file(unit, ingest_id=staged["rejected"].id, reason=rich, reviewer_notes=rich)
    with unit() as conn:
        documents.soft_delete_document(conn, document_id=trashed_document.id)
    values = (user.login, user.display_name, project.name, trashed.name, tag.name, rich, *names.values())
    return Hostile(user, password, project, trashed.name, tag.name, names, values)
