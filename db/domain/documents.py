"""Documents: list active ones (filters, keyset pages), get, soft delete, restore, history."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import pandas as pd
from sqlalchemy import Connection, text

from db.core.engine import current_actor
from db.core.errors import InvalidInput, NotFound
from db.core.sql import domain_errors, id_list, require_id, require_text
from db.core.types import Cursor, Document, HistoryEntry, Page
from db.domain import access, contents

MAX_PAGE = 500

DOCUMENT_COLUMNS = """
    d.id, d.project_id, p.name as project_name, d.name, d.description, d.mime_type,
    c.size_bytes, d.checksum, c.storage_code, c.object_key, d.image_url as preview_key, d.metadata,
    d.uploaded_at, d.uploaded_by, u.login as uploaded_by_login, d.deleted_at
"""
DOCUMENT_FROM = """
    from documents.documents d
    join projects.projects p on p.id = d.project_id
    join documents.contents c on c.checksum = d.checksum
    left join users.users u on u.id = d.uploaded_by
"""


_ACTIVE_PAGE = text(
    "select a.id, a.project_id, a.project_name, a.name, a.description, a.mime_type,"
    " a.size_bytes, a.checksum, a.storage_code, a.object_key, a.image_url as preview_key, a.metadata,"
    " a.uploaded_at, a.uploaded_by, a.uploaded_by_login"
    " from documents.active_documents a"
    " where (cast(:project as bigint) is null or a.project_id = :project)"
    " and (cast(:everything as boolean) or a.project_id = any(:visible))"
    " and (cast(:mime as text) is null or a.mime_type = :mime)"
    " and (cast(:uploader as bigint) is null or a.uploaded_by = :uploader)"
    " and (cast(:from_ as timestamptz) is null or a.uploaded_at >= :from_)"
    " and (cast(:to_ as timestamptz) is null or a.uploaded_at < :to_)"
    " and (cast(:pattern as text) is null or a.name ilike :pattern)"
    " and (cast(:tag as bigint) is null or exists (select 1 from projects.project_tag t"
    "      where t.project_id = a.project_id and t.tag_id = :tag))"
    " and (cast(:after_at as timestamptz) is null"
    "      or (a.uploaded_at, a.id) < (:after_at, :after_id))"
    # Implied by the row comparison, but only a plain bound on the partition key lets the planner
    # skip the newer quarters: a deep page reads its own partitions, not all of them.
    " and (cast(:after_at as timestamptz) is null or a.uploaded_at <= :after_at)"
    # One quarter at a time, or only what lies outside every quarter (see below).
    " and (cast(:lo as timestamptz) is null"
    "      or (a.uploaded_at >= :lo and a.uploaded_at < cast(:hi as timestamptz)))"
    " and (not cast(:outside as boolean)"
    "      or a.uploaded_at < cast(:lo_all as timestamptz) or a.uploaded_at >= cast(:hi_all as timestamptz))"
    " order by a.uploaded_at desc, a.id desc limit :limit"
)


def _newest_first_by_partition(conn: Connection, params: dict, after: Cursor | None) -> list:
    """A page across projects, read one quarter's partition at a time, newest first, until full.

    One query over every partition would be a Merge Append, which must find the first matching row
    in each partition before it returns any: a search for a word that only recent documents hold
    then reads every older partition to the end (a second at 1m documents). Quarter by quarter,
    the planner picks the trigram index or the newest-first walk for each partition on its own
    statistics, and the walk stops at the first full page. Rows in the DEFAULT partition (outside
    every quarter, normally none) are read once and merged in."""
    quarters = conn.execute(
        text(
            "select range_from, range_to from system.partitions"
            " where parent_table = 'documents.documents' and not is_default order by range_from desc"
        )
    ).all()
    if not quarters:
        return conn.execute(_ACTIVE_PAGE, params).all()
    wanted = params["limit"]
    bounds = {"lo_all": quarters[-1].range_from, "hi_all": quarters[0].range_to}
    rows = list(conn.execute(_ACTIVE_PAGE, {**params, **bounds, "outside": True}).all())
    found = []
    for quarter in quarters:
        if (
            (after is not None and quarter.range_from > after.at)  # wholly newer than the page before
            or (params["to_"] is not None and quarter.range_from >= params["to_"])
            or (params["from_"] is not None and quarter.range_to <= params["from_"])
        ):
            continue
        found += conn.execute(
            _ACTIVE_PAGE, {**params, **bounds, "lo": quarter.range_from, "hi": quarter.range_to}
        ).all()
        if len(found) >= wanted:
            break
    rows += found
    rows.sort(key=lambda r: (r.uploaded_at, r.id), reverse=True)
    return rows[:wanted]


def name_pattern(name_contains: str | None) -> str | None:
    """An ILIKE pattern for names containing `name_contains` literally (None: any name)."""
    if name_contains is not None and "\x00" in name_contains:
        raise InvalidInput("The search text must not contain NUL characters.")
    if not name_contains:
        return None
    escaped = name_contains.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def list_active_documents(
    conn: Connection,
    *,
    project_id: int | None = None,
    mime_type: str | None = None,
    tag_id: int | None = None,
    uploaded_by: int | None = None,
    uploaded_from: datetime | None = None,
    uploaded_to: datetime | None = None,
    name_contains: str | None = None,
    after: Cursor | None = None,
    limit: int = 50,
) -> Page[Document]:
    """Active documents the acting user may see, newest first, one keyset page at a time."""
    if not 1 <= limit <= MAX_PAGE:
        raise InvalidInput(f"A page holds 1 to {MAX_PAGE} rows.")
    for value, what in ((tag_id, "tag"), (uploaded_by, "uploader")):
        if value is not None:
            require_id(value, what)
    visible = access.visible_project_ids(conn)
    if project_id is not None:
        access.require_permission(conn, project_id=project_id, permission="can_view")
    pattern = name_pattern(name_contains)
    params = {
        "project": project_id,
        "everything": visible is None,
        "visible": visible or [],
        "mime": mime_type,
        "uploader": uploaded_by,
        "from_": uploaded_from,
        "to_": uploaded_to,
        "pattern": pattern,
        "tag": tag_id,
        "after_at": after.at if after else None,
        "after_id": after.id if after else None,
        "limit": limit + 1,
        "lo": None,
        "hi": None,
        "outside": False,
        "lo_all": None,
        "hi_all": None,
    }
    if project_id is not None:
        rows = conn.execute(_ACTIVE_PAGE, params).all()
    else:
        rows = _newest_first_by_partition(conn, params, after)
    documents = [Document(**r._mapping) for r in rows[:limit]]
    more = len(rows) > limit
    last = documents[-1] if documents and more else None
    return Page(rows=documents, next=Cursor(last.uploaded_at, last.id) if last else None)


def get_document(conn: Connection, *, document_id: int) -> Document:
    """One document (active or in the trash) of a project the acting user may see."""
    document = get_documents(conn, document_ids=[document_id]).get(document_id)
    if document is None:
        raise NotFound("There is no such document, or you do not have access to it.")
    return document


def get_documents(
    conn: Connection, *, document_ids: Sequence[int], uploaded_at: Sequence[datetime] | None = None
) -> dict[int, Document]:
    """The documents among these ids (active or in the trash) of projects the acting user may see, by
    id. `uploaded_at`, when the caller knows them: the documents' upload times, so that only their
    partitions are read."""
    ids = id_list(document_ids, "A document id")
    narrowed = "" if uploaded_at is None else " and d.uploaded_at = any(:ats)"
    rows = conn.execute(
        text(f"select {DOCUMENT_COLUMNS} {DOCUMENT_FROM} where d.id = any(:ids){narrowed}"),
        {"ids": ids, "ats": list(uploaded_at or [])},
    ).all()
    access.know_project_roles(conn, project_ids=[r.project_id for r in rows])
    return {
        r.id: Document(**r._mapping)
        for r in rows
        if access.has_permission(conn, project_id=r.project_id, permission="can_view")
    }


def list_deleted_documents(conn: Connection, *, project_id: int, limit: int = 100) -> list[Document]:
    """The project's trash: soft-deleted documents, most recently deleted first."""
    access.require_permission(conn, project_id=project_id, permission="can_view")
    rows = conn.execute(
        text(
            f"select {DOCUMENT_COLUMNS} {DOCUMENT_FROM}"
            " where d.project_id = :p and d.deleted_at is not null"
            " order by d.deleted_at desc, d.id desc limit :limit"
        ),
        {"p": project_id, "limit": limit},
    )
    return [Document(**r._mapping) for r in rows]


def _set_deleted(conn: Connection, document_id: int, *, deleted: bool) -> Document:
    document = get_document(conn, document_id=document_id)
    access.require_permission(conn, project_id=document.project_id, permission="can_delete")
    conn.execute(
        text(
            "update documents.documents set deleted_at = case when :deleted then now() end,"
            " deleted_by = case when :deleted then cast(:actor as bigint) end"
            " where id = :id and (deleted_at is null) = :deleted"
        ),
        {"id": document_id, "deleted": deleted, "actor": current_actor(conn)},
    )
    return get_document(conn, document_id=document_id)


def soft_delete_document(conn: Connection, *, document_id: int) -> Document:
    """Move a document to its project's trash."""
    return _set_deleted(conn, document_id, deleted=True)


def restore_document(conn: Connection, *, document_id: int) -> Document:
    """Bring a document back from the trash."""
    return _set_deleted(conn, document_id, deleted=False)


def import_document(
    conn: Connection,
    *,
    project_id: int,
    name: str,
    checksum: str,
    size_bytes: int,
    mime_type: str,
    storage_code: str,
    object_key: str,
    uploaded_at: datetime,
    uploaded_by: int | None,
    description: str = "",
) -> Document:
    """Bring in a document from an earlier system with its original date (admins only).

    Skips review on purpose: it is for archives that were reviewed where they came from.
    """
    access.require_admin(conn)
    require_id(project_id, "project")
    if uploaded_by is not None:
        require_id(uploaded_by, "user")
    for value, what in (
        (name, "file name"), (checksum, "checksum"), (mime_type, "file type"), (storage_code, "storage"),
        (object_key, "object key"), (description, "description"),
    ):  # fmt: skip
        require_text(value, what)
    if not isinstance(size_bytes, int) or isinstance(size_bytes, bool) or size_bytes <= 0:
        raise InvalidInput("The size must be a positive whole number of bytes (the file is empty?).")
    if not isinstance(uploaded_at, datetime) or uploaded_at.tzinfo is None:
        raise InvalidInput("The upload date must be a date and time with a time zone.")
    with domain_errors():
        contents.store_contents(
            conn,
            checksums=[checksum],
            sizes=[size_bytes],
            storage_codes=[storage_code],
            object_keys=[object_key],
        )
        document_id = conn.execute(
            text(
                "insert into documents.documents (project_id, name, description, mime_type,"
                " checksum, uploaded_at, uploaded_by)"
                " values (:p, :name, :description, :mime, :c, :at, :by) returning id"
            ),
            {
                "p": project_id,
                "name": name,
                "description": description,
                "mime": mime_type,
                "c": checksum,
                "at": uploaded_at,
                "by": uploaded_by,
            },
        ).scalar_one()
    return get_document(conn, document_id=document_id)


def document_history(conn: Connection, *, document_id: int) -> list[HistoryEntry]:
    """What changed in a document, newest first."""
    get_document(conn, document_id=document_id)
    rows = conn.execute(
        text(
            "select h.id, h.operation, h.changed_at, h.changed_by, u.login as changed_by_login,"
            " h.old_values, h.new_values, h.changed_columns"
            " from documents.document_history h left join users.users u on u.id = h.changed_by"
            " where h.document_id = :id"
            " order by h.changed_at desc, h.id desc"
        ),
        {"id": document_id},
    )
    return [HistoryEntry(**r._mapping) for r in rows]


def uploads_per_week(conn: Connection, *, weeks: int = 26) -> pd.DataFrame:
    """Active documents uploaded per week per project, over the last `weeks` weeks."""
    if not 1 <= weeks <= 520:
        raise InvalidInput("Ask for 1 to 520 weeks.")
    visible = access.visible_project_ids(conn)
    return pd.read_sql_query(
        text(
            # The rows of active_documents, counted without its joins to contents, file types and
            # users that a count does not need (a third of the time at 1m documents).
            "select p.name as project_name, w.week, w.documents from ("
            "  select d.project_id, date_trunc('week', d.uploaded_at) as week, count(*) as documents"
            "  from documents.documents d"
            "  where d.deleted_at is null"
            "  and d.uploaded_at >= date_trunc('week', now()) - make_interval(weeks => :weeks)"
            "  and (cast(:everything as boolean) or d.project_id = any(:ids))"
            "  group by 1, 2) w"
            " join projects.projects p on p.id = w.project_id and p.deleted_at is null"
            " order by 2, 1"
        ),
        conn,
        params={"weeks": weeks, "everything": visible is None, "ids": visible or []},
    )


def list_filetypes(conn: Connection) -> pd.DataFrame:
    """The file type catalogue (filetype_reference)."""
    return pd.read_sql_query(
        text(
            "select mime_type, label, category, extensions, allowed, max_size_bytes, previewable"
            " from documents.filetype_reference order by category, label"
        ),
        conn,
    )
