"""Tags: the tag_reference catalogue (by category) and tagging projects."""

from __future__ import annotations

from collections.abc import Collection

import pandas as pd
from sqlalchemy import Connection, text

from db.core.engine import is_system
from db.core.errors import InvalidInput, NotFound, PermissionDenied
from db.core.sql import domain_errors, require_id
from db.core.types import Tag, TagChanges
from db.domain import access

_COLUMNS = "id, name, category, description, color"


def _require_curator(conn: Connection) -> None:
    """The shared catalogue is every project's: administrators curate it (modeling-notes.md); project
    members tag their projects with it. The database checks again (projects.create_tag/update_tag)."""
    if is_system(conn):
        return
    if "admin" not in access.actor_system_roles(conn):
        raise PermissionDenied(
            "Only administrators curate the tag catalogue; ask one to add or change a tag."
        )


def _text(value: str, what: str) -> str:
    if not isinstance(value, str) or "\x00" in value:
        raise InvalidInput(f"The {what} must be text.")
    return value.strip()


def _colour(color: str | None) -> str | None:
    """A tag colour as stored: lowercase, or None for none (an empty string is none too)."""
    return None if color is None else _text(color, "colour").lower() or None


def list_tags(conn: Connection) -> list[Tag]:
    """Every tag, by category then name."""
    rows = conn.execute(text(f"select {_COLUMNS} from projects.tag_reference order by category, lower(name)"))
    return [Tag(**r._mapping) for r in rows]


def create_tag(
    conn: Connection, *, name: str, category: str, description: str = "", color: str | None = None
) -> Tag:
    """Add a tag to the catalogue."""
    _require_curator(conn)
    with domain_errors():
        tag_id = conn.execute(
            text("select projects.create_tag(:name, :category, :description, :color)"),
            {
                "name": _text(name, "tag name"),
                "category": _text(category, "category").lower(),
                "description": _text(description, "description"),
                "color": _colour(color),
            },
        ).scalar_one()
    return _get_tag(conn, tag_id)


def _get_tag(conn: Connection, tag_id: int) -> Tag:
    row = conn.execute(
        text(f"select {_COLUMNS} from projects.tag_reference where id = :id"), {"id": tag_id}
    ).one()
    return Tag(**row._mapping)


def update_tag(
    conn: Connection,
    *,
    tag_id: int,
    name: str | None = None,
    category: str | None = None,
    description: str | None = None,
    color: str | None = None,
) -> Tag:
    """Rename, move or recolour a tag."""
    _require_curator(conn)
    require_id(tag_id, "tag")
    with domain_errors():
        found = conn.execute(
            text("select projects.update_tag(:id, :name, :category, :description, :color)"),
            {
                "id": tag_id,
                "name": None if name is None else _text(name, "tag name"),
                "category": None if category is None else _text(category, "category").lower(),
                "description": None if description is None else _text(description, "description"),
                "color": _colour(color),
            },
        ).scalar_one()
    if not found:
        raise NotFound("There is no such tag.")
    return _get_tag(conn, tag_id)


def tag_project(conn: Connection, *, project_id: int, tag_id: int) -> bool:
    """Put a tag on a project; False if it was already there."""
    access.require_permission(conn, project_id=project_id, permission="can_tag")
    require_id(tag_id, "tag")
    with domain_errors():
        exists = conn.execute(
            text("select 1 from projects.tag_reference where id = :t"), {"t": tag_id}
        ).one_or_none()
        if exists is None:
            raise NotFound("There is no such tag.")
        inserted = conn.execute(
            text(
                "insert into projects.project_tag (project_id, tag_id) values (:p, :t)"
                " on conflict do nothing returning tag_id"
            ),
            {"p": project_id, "t": tag_id},
        ).one_or_none()
    return inserted is not None


def untag_project(conn: Connection, *, project_id: int, tag_id: int) -> bool:
    """Take a tag off a project; False if it was not there."""
    access.require_permission(conn, project_id=project_id, permission="can_tag")
    require_id(tag_id, "tag")
    deleted = conn.execute(
        text("delete from projects.project_tag where project_id = :p and tag_id = :t returning tag_id"),
        {"p": project_id, "t": tag_id},
    ).one_or_none()
    return deleted is not None


def set_project_tags(conn: Connection, *, project_id: int, tag_ids: Collection[int]) -> TagChanges:
    """Leave exactly these tags on a project: the missing ones put on, the others taken off, each
    change audited as tag_project and untag_project audit it."""
    access.require_permission(conn, project_id=project_id, permission="can_tag")
    if not isinstance(tag_ids, list | tuple | set | frozenset):
        raise InvalidInput("The tags must be given as a list of tag ids.")
    wanted = dict.fromkeys(require_id(tag_id, "tag") for tag_id in tag_ids)
    known = conn.execute(
        text("select id from projects.tag_reference where id = any(:ids)"), {"ids": list(wanted)}
    ).scalars()
    if set(wanted) - set(known):  # refused before anything changes
        raise NotFound("There is no such tag.")
    current = set(
        conn.execute(
            text("select tag_id from projects.project_tag where project_id = :p"), {"p": project_id}
        ).scalars()
    )
    added = [t for t in wanted if t not in current and tag_project(conn, project_id=project_id, tag_id=t)]
    removed = [
        t for t in sorted(current - set(wanted)) if untag_project(conn, project_id=project_id, tag_id=t)
    ]
    return TagChanges(added=tuple(added), removed=tuple(removed))


def project_tags(conn: Connection, *, project_id: int) -> list[Tag]:
    """Tags on one project."""
    access.require_permission(conn, project_id=project_id, permission="can_view")
    rows = conn.execute(
        text(
            "select t.id, t.name, t.category, t.description, t.color"
            " from projects.project_tag pt join projects.tag_reference t on t.id = pt.tag_id"
            " where pt.project_id = :p order by t.category, lower(t.name)"
        ),
        {"p": project_id},
    )
    return [Tag(**r._mapping) for r in rows]


def tag_usage(conn: Connection) -> pd.DataFrame:
    """Per tag: how many of the user's visible projects carry it, and their active documents
    (counted in projects.project_totals, as the onboarding summary counts them)."""
    visible = access.visible_project_ids(conn)
    return pd.read_sql_query(
        text(
            "select t.category, t.name as tag, count(distinct p.id) as projects,"
            " coalesce(sum(d.document_count), 0)::bigint as documents"
            " from projects.tag_reference t"
            " left join projects.project_tag pt on pt.tag_id = t.id"
            "   and (cast(:everything as boolean) or pt.project_id = any(:ids))"
            " left join projects.projects p on p.id = pt.project_id and p.deleted_at is null"
            " left join projects.visible_project_totals d on d.project_id = p.id"
            " group by t.category, t.name order by t.category, t.name"
        ),
        conn,
        params={"everything": visible is None, "ids": visible or []},
    )
