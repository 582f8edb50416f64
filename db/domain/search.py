"""Full-text search inside files: the text extracted from each document, the queue of documents
waiting for theirs, and the ranked search over what the acting user may see (modeling-notes.md,
"Search inside files")."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, text

from db.core.engine import remembered
from db.core.errors import InvalidInput
from db.core.settings import get_settings
from db.core.sql import require_id
from db.core.types import Document
from db.domain import access, documents

MAX_CHARS = 300_000  # a document's text beyond this is not searched (the table's CHECK says so too)
CANDIDATES = 1_000  # a search ranks the newest this many matches
MAX_PAGE = 100
SNIPPET_SOURCE = 50_000  # a snippet is taken from the text's first this many characters
START, STOP = "\x01", "\x02"  # where a snippet's matched words begin and end; never in a stored text
_UNSTORABLE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


@dataclass(frozen=True)
class SearchCursor:
    """Keyset position in a ranked result: the rank and id of the last row of a page."""

    rank: float
    id: int


@dataclass(frozen=True)
class SearchHit:
    document: Document
    rank: float
    snippet: str  # the matched words between START and STOP; the text's own characters otherwise


@dataclass(frozen=True)
class SearchPage:
    rows: list[SearchHit]
    next: SearchCursor | None
    capped: bool  # more matches than CANDIDATES: the newest CANDIDATES were ranked


@dataclass(frozen=True)
class TextState:
    """What is known of a document's text: extracted (with its length), failed (and why), or waiting."""

    status: str  # 'extracted', 'none' or 'waiting'
    characters: int = 0
    reason: str | None = None


def snippet_parts(snippet: str) -> list[tuple[str, bool]]:
    """A snippet as pieces of the file's text, each with whether it is a matched word."""
    parts = []
    for piece in snippet.split(START):
        matched, _, rest = piece.partition(STOP) if STOP in piece else ("", "", piece)
        parts += [(matched, True)] if matched else []
        parts += [(rest, False)] if rest else []
    return parts


def language(conn: Connection) -> str:
    """The installation's text search configuration (PROSYNC_TEXT_SEARCH_LANGUAGE), or `simple` when
    this server has none by that name."""
    wanted = get_settings().text_search_language

    def ask() -> str:
        # By name (PostgreSQL's own first) or schema-qualified; as a name `cast(… as regconfig)` reads.
        found = conn.execute(
            text(
                "select c.oid::regconfig::text from pg_catalog.pg_ts_config c"
                " join pg_catalog.pg_namespace n on n.oid = c.cfgnamespace"
                " where c.cfgname = :name or n.nspname || '.' || c.cfgname = :name"
                " order by n.nspname = 'pg_catalog' desc limit 1"
            ),
            {"name": wanted},
        ).scalar_one_or_none()
        return found or "simple"

    return remembered(conn, ("text-search-language", wanted), ask)


def clean(body: str) -> str:
    """Text as it is stored: control characters (the snippet markers among them) become spaces, and
    only the first MAX_CHARS characters are kept."""
    return _UNSTORABLE.sub(" ", body[: MAX_CHARS * 2])[:MAX_CHARS]


# --- the queue and the stored text -------------------------------------------------------------------


def claim_text_work(
    conn: Connection, *, limit: int, seconds: int, made_by_users: bool
) -> list[tuple[int, int | None]]:
    """Queued documents (id, and the user whose rights their text is stored with) that this indexer
    now holds for `seconds`; none that another indexer holds. `made_by_users`: only documents a
    user made (not the command line), for an indexer that has no owner's rights."""
    rows = conn.execute(
        text("select document_id, queued_by from documents.claim_text_work(:n, :s, :users)"),
        {"n": limit, "s": seconds, "users": made_by_users},
    ).all()
    return [(r.document_id, r.queued_by) for r in rows]


def store_text(conn: Connection, *, document: Document, body: str, failure: str | None) -> None:
    """Store (or replace) a document's text, or why it has none, and take it off the queue."""
    body = clean(body)
    conn.execute(
        text(
            "insert into documents.document_text"
            " (document_id, project_id, uploaded_at, language, body, failure)"
            " values (:id, :project, :at, cast(:language as regconfig), :body, :failure)"
            " on conflict (document_id) do update set language = excluded.language, body = excluded.body,"
            " failure = excluded.failure, extracted_at = now(), extracted_by = excluded.extracted_by"
        ),
        {
            "id": document.id,
            "project": document.project_id,
            "at": document.uploaded_at,
            "language": language(conn),
            "body": body,
            "failure": failure[:1000] if failure else None,
        },
    )
    conn.execute(text("delete from documents.text_queue where document_id = :id"), {"id": document.id})


def queue_missing_text(conn: Connection, *, project_id: int | None = None, again: bool = False) -> int:
    """Queue every document (of one project, or all) that has no text yet (`again`: and those whose
    file gave none, to read them again), and give queued ones that failed five times another five
    tries; how many are queued now."""
    conn.execute(
        text(
            "insert into documents.text_queue (document_id, project_id, queued_by)"
            " select r.id, r.project_id, system.current_actor() from documents.document_registry r"
            " where (cast(:project as bigint) is null or r.project_id = :project)"
            " and not exists (select from documents.document_text t where t.document_id = r.id"
            "   and (t.failure is null or not :again))"
            " on conflict (document_id) do nothing"
        ),
        {"project": project_id, "again": again},
    )
    conn.execute(
        text(
            "update documents.text_queue set attempts = 0, claimed_until = null"
            " where attempts >= 5 and (cast(:project as bigint) is null or project_id = :project)"
        ),
        {"project": project_id},
    )
    return queued(conn, project_id=project_id)


def queued(conn: Connection, *, project_id: int | None = None) -> int:
    """How many documents (of one project, or all) wait in the queue for their text (those of a
    project in the trash wait for its restore, and are not counted)."""
    return conn.execute(
        text(
            "select count(*) from documents.text_queue q"
            " where (cast(:project as bigint) is null or q.project_id = :project) and not exists"
            " (select from projects.projects p where p.id = q.project_id and p.deleted_at is not null)"
        ),
        {"project": project_id},
    ).scalar_one()


def relanguage(conn: Connection) -> int:
    """Take the words of every stored text again with the installation's language, where it changed;
    and give each text its document's upload time again where someone changed that by hand
    (ProSync never does; the search reads a text's upload time to find its document's partition)."""
    conn.execute(
        text(
            "update documents.document_text t set uploaded_at = d.uploaded_at from documents.documents d"
            " where d.id = t.document_id and d.uploaded_at <> t.uploaded_at"
        )
    )
    return conn.execute(
        text(
            "update documents.document_text set language = cast(:language as regconfig)"
            " where language <> cast(:language as regconfig)"
        ),
        {"language": language(conn)},
    ).rowcount


def text_state(conn: Connection, *, document_id: int) -> TextState:
    """Whether a document (one the acting user may see) has its text, and how much of it; or what
    it waits for."""
    row = conn.execute(
        text(
            "select length(body) as characters, failure from documents.document_text where document_id = :id"
        ),
        {"id": document_id},
    ).one_or_none()
    if row is not None and (row.failure or not row.characters):
        return TextState("none", 0, row.failure or "the file holds no text")
    if row is not None:
        return TextState("extracted", row.characters)
    queued = conn.execute(
        text("select queued_by, attempts from documents.text_queue where document_id = :id"),
        {"id": document_id},
    ).one_or_none()
    if queued is not None and (queued.queued_by is None or queued.attempts >= 5):
        return TextState("waiting", 0, "for an administrator to run `prosync reindex-text`")
    return TextState("waiting")


# --- search ------------------------------------------------------------------------------------------

# A search looks at the newest CANDIDATES matches that pass the filters, and ranks those. It finds
# them in two steps, so that a word held by a quarter of a million documents costs what a rare one
# does: it walks the texts newest first (document_text_recent_idx, or document_text_project_idx in
# one project), checking each text's words and what is known on the text's own row (project, its
# visibility, dates, the project's tag), and takes a batch of matches; then it keeps those whose
# document is active, in a live project, and passes the filters on the document (type, name,
# uploader). Batches grow until CANDIDATES are kept or the matches run out; past WALK matches
# walked it asks the database for the whole answer at once instead (a filter on the document that
# few matches pass: the planner then starts from that filter's own index). A rare word takes the
# GIN index in the first step, as the planner chooses on the words' statistics.
WALK = 20_000

_MATCHES = (
    " from documents.document_text t"
    " where t.search_vector @@ websearch_to_tsquery(cast(:language as regconfig), :query)"
    " and (cast(:everything as boolean) or t.project_id = any(:visible))"
    " and (cast(:project as bigint) is null or t.project_id = :project)"
    " and (cast(:from_ as timestamptz) is null or t.uploaded_at >= :from_)"
    " and (cast(:to_ as timestamptz) is null or t.uploaded_at < :to_)"
    " and (cast(:tag as bigint) is null or exists (select 1 from projects.project_tag g"
    "      where g.project_id = t.project_id and g.tag_id = :tag))"
)
# What a match must pass on its document: active, in a live project, and the filters on the document.
_KEPT = (
    " d.deleted_at is null"
    " and exists (select 1 from projects.projects p where p.id = d.project_id and p.deleted_at is null)"
    " and (cast(:mime as text) is null or d.mime_type = :mime)"
    " and (cast(:pattern as text) is null or d.name ilike :pattern)"
    " and (cast(:uploader as bigint) is null or d.uploaded_by = :uploader)"
)
_RANK = "ts_rank(t.search_vector, websearch_to_tsquery(cast(:language as regconfig), :query), 1)::float8"
_BATCH = text(
    "select t.document_id as id, t.uploaded_at, " + _RANK + " as rank" + _MATCHES
    + " and (cast(:before_at as timestamptz) is null"
    "      or (t.uploaded_at, t.document_id) < (:before_at, :before_id))"
    " order by t.uploaded_at desc, t.document_id desc limit :batch"
)  # fmt: skip
_KEEP = text(
    "select d.id from documents.documents d"
    # the batch's ids, in the partitions its upload times span (the primary key's index in each)
    " where d.id = any(cast(:ids as bigint[])) and d.uploaded_at between :oldest and :newest and" + _KEPT
)
_AT_ONCE = text(
    "select d.id, d.uploaded_at from documents.documents d"
    " join (select t.document_id, t.uploaded_at" + _MATCHES + ") m"
    " on d.id = m.document_id and d.uploaded_at = m.uploaded_at where" + _KEPT
    + " order by d.uploaded_at desc, d.id desc limit :candidates"
)  # fmt: skip
_RANKS = text(
    "select t.document_id, "
    + _RANK
    + " as rank from documents.document_text t where t.document_id = any(:ids)"
)

_SNIPPETS = text(
    "select document_id, ts_headline(language, left(body, :source),"
    " websearch_to_tsquery(cast(:language as regconfig), :query),"
    " 'StartSel=\x01, StopSel=\x02, MaxWords=30, MinWords=12, MaxFragments=2, FragmentDelimiter=\" … \"')"
    " as snippet from documents.document_text where document_id = any(:ids)"
)


def search_documents(
    conn: Connection,
    *,
    query: str,
    project_id: int | None = None,
    mime_type: str | None = None,
    tag_id: int | None = None,
    uploaded_by: int | None = None,
    uploaded_from: datetime | None = None,
    uploaded_to: datetime | None = None,
    name_contains: str | None = None,
    after: SearchCursor | None = None,
    limit: int = 20,
) -> SearchPage:
    """Active documents the acting user may see whose text matches `query` (web-search syntax:
    words, "a phrase", or, -not), best first, with a snippet; combined with the Documents filters."""
    query = (query or "").strip()
    if not query:
        raise InvalidInput("Type one or more words to search for inside the files.")
    if len(query) > 500 or "\x00" in query:
        raise InvalidInput("A search is at most 500 characters, without NUL characters.")
    if not 1 <= limit <= MAX_PAGE:
        raise InvalidInput(f"A page of search results holds 1 to {MAX_PAGE} rows.")
    for value, what in ((tag_id, "tag"), (uploaded_by, "uploader"), (project_id, "project")):
        if value is not None:
            require_id(value, what)
    pattern = documents.name_pattern(name_contains)
    lang = language(conn)
    if not conn.execute(
        text("select numnode(websearch_to_tsquery(cast(:l as regconfig), :q)) > 0"), {"l": lang, "q": query}
    ).scalar_one():
        raise InvalidInput(
            f"{query[:80]!r} has no word to search for: words as common as 'the' or 'and' are not indexed."
        )
    visible = access.visible_project_ids(conn)
    if project_id is not None:
        access.require_permission(conn, project_id=project_id, permission="can_view")
    params = {
        "language": lang, "query": query, "project": project_id, "everything": visible is None,
        "visible": visible or [], "mime": mime_type, "pattern": pattern, "uploader": uploaded_by,
        "from_": uploaded_from, "to_": uploaded_to, "tag": tag_id, "candidates": CANDIDATES,
    }  # fmt: skip
    candidates, capped = _candidates(conn, params)
    uploaded = {id_: at for id_, (_, at) in candidates.items()}
    ordered = sorted(((rank, id_) for id_, (rank, _) in candidates.items()), reverse=True)
    if after is not None:
        ordered = [(rank, id_) for rank, id_ in ordered if (rank, id_) < (after.rank, after.id)]
    page = ordered[:limit]
    found = {}
    if page:
        found = documents.get_documents(
            conn, document_ids=[id_ for _, id_ in page], uploaded_at=[uploaded[id_] for _, id_ in page]
        )
    # A document trashed (or purged) since the matches were taken is left out of the page.
    shown = [(rank, id_) for rank, id_ in page if id_ in found and found[id_].deleted_at is None]
    snippets = {}
    if shown:
        snippets = dict(
            conn.execute(
                _SNIPPETS,
                {"source": SNIPPET_SOURCE, "language": lang, "query": query, "ids": [i for _, i in shown]},
            ).all()
        )
    hits = [SearchHit(document=found[id_], rank=rank, snippet=snippets.get(id_, "")) for rank, id_ in shown]
    more = len(ordered) > limit
    return SearchPage(rows=hits, next=SearchCursor(*page[-1]) if more else None, capped=capped)


def _candidates(conn: Connection, params: dict) -> tuple[dict[int, tuple[float, datetime]], bool]:
    """The newest CANDIDATES matches that pass every filter, each id with its rank and upload time,
    and whether there were more (see WALK above)."""
    wanted = CANDIDATES + 1  # one more than is ranked tells whether there are more
    kept: list[tuple[datetime, int]] = []
    ranks: dict[int, float] = {}
    before, batch, walked = None, wanted + CANDIDATES // 10, 0
    while len(kept) < wanted:
        rows = conn.execute(
            _BATCH,
            {**params, "before_at": before[0] if before else None, "before_id": before[1] if before else None,
             "batch": batch},
        ).all()  # fmt: skip
        walked += len(rows)
        if rows:
            ranks.update((r.id, r.rank) for r in rows)
            span = {"oldest": rows[-1].uploaded_at, "newest": rows[0].uploaded_at}
            passed = set(conn.execute(_KEEP, {**params, "ids": [r.id for r in rows], **span}).scalars())
            kept += [(r.uploaded_at, r.id) for r in rows if r.id in passed]  # newest first, as walked
        if len(rows) < batch:  # the matches ran out
            break
        if walked >= WALK and len(kept) < wanted:  # few pass the document's filters: all at once
            rows = conn.execute(_AT_ONCE, {**params, "candidates": wanted}).all()
            kept = [(r.uploaded_at, r.id) for r in rows]
            ranks = dict(conn.execute(_RANKS, {**params, "ids": [r.id for r in rows]}).all()) if rows else {}
            break
        before, batch = (rows[-1].uploaded_at, rows[-1].id), min(batch * 4, WALK)
    # (a text purged between the statements has no rank: it is gone)
    return {id_: (ranks[id_], at) for at, id_ in kept[:CANDIDATES] if id_ in ranks}, len(kept) > CANDIDATES
