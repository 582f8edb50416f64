"""Tags: the tag_reference catalogue (by category) and tagging projects."""

from __future__ import annotations

import pandas as pd
from sqlalchemy import Connection, text

from db import access
from db._sql import domain_errors, require_id
from db.errors import InvalidInput, NotFound, PermissionDenied
from db.types import Tag

_COLUMNS = "id, name, category, description, color"


def _require_tag_editor(conn: Connection) -> None:
    """Editing the shared catalogue: admins, or anyone who may tag at least one project."""
    if access.project_ids_with(conn, permission="can_tag") == []:
        raise PermissionDenied("Your roles do not allow you to edit tags.")


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
    _require_tag_editor(conn)
    with domain_errors():
        row = conn.execute(
            text(
                "insert into projects.tag_reference (name, category, description, color)"
                f" values (:name, :category, :description, :color) returning {_COLUMNS}"
            ),
            {
                "name": _text(name, "tag name"),
                "category": _text(category, "category").lower(),
                "description": _text(description, "description"),
                "color": _colour(color),
            },
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
    _require_tag_editor(conn)
    require_id(tag_id, "tag")
    with domain_errors():
        row = conn.execute(
            text(
                "update projects.tag_reference set name = coalesce(:name, name),"
                " category = coalesce(:category, category),"
                " description = coalesce(:description, description),"
                f" color = coalesce(:color, color) where id = :id returning {_COLUMNS}"
            ),
            {
                "id": tag_id,
                "name": None if name is None else _text(name, "tag name"),
                "category": None if category is None else _text(category, "category").lower(),
                "description": None if description is None else _text(description, "description"),
                "color": _colour(color),
            },
        ).one_or_none()
    if row is None:
        raise NotFound("There is no such tag.")
    return Tag(**row._mapping)


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
