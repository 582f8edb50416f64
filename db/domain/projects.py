"""Projects: create, update, soft delete, restore, history, and the onboarding summary."""

from __future__ import annotations

import pandas as pd
from sqlalchemy import Connection, text

from db.core.engine import current_actor, is_system
from db.core.errors import InvalidInput, NotFound, PermissionDenied
from db.core.sql import domain_errors, require_id
from db.core.types import HistoryEntry, Project, ProjectSummary
from db.domain import access

_COLUMNS = "id, name, description, owner_id, created_at, updated_at, deleted_at"


def _clean(value: str, what: str) -> str:
    if not isinstance(value, str) or "\x00" in value:
        raise InvalidInput(f"The {what} must be text.")
    return value.strip()


def get_project(conn: Connection, *, project_id: int, include_deleted: bool = False) -> Project:
    """One project the acting user may see."""
    row = conn.execute(
        text(f"select {_COLUMNS} from projects.projects where id = :id"),
        {"id": project_id},
    ).one_or_none()
    visible = access.visible_project_ids(conn)
    if row is None or (visible is not None and project_id not in visible):
        raise NotFound("There is no such project, or you do not have access to it.")
    if row.deleted_at is not None and not include_deleted:
        raise NotFound("This project is deleted; restore it first.")
    return Project(**row._mapping)


def find_project_by_name(conn: Connection, *, name: str) -> Project | None:
    """The live project of this exact name, if the acting user may see it (the command line: any)."""
    if not isinstance(name, str) or "\x00" in name:
        return None
    row = conn.execute(
        text(f"select {_COLUMNS} from projects.projects where name = :n and deleted_at is null"), {"n": name}
    ).one_or_none()
    visible = access.visible_project_ids(conn)
    if row is None or (visible is not None and row.id not in visible):
        return None
    return Project(**row._mapping)


def list_projects(
    conn: Connection, *, permission: str | None = None, include_deleted: bool = False
) -> list[Project]:
    """Projects the acting user may see, by name; with `permission` (a can_* flag), only the live ones
    where their role grants it (every live project for admins and the command line)."""
    if permission is None:
        ids = access.visible_project_ids(conn)
    elif include_deleted:
        raise ValueError("a permission is held on live projects only")
    else:
        ids = access.project_ids_with(conn, permission=permission)
    query = text(
        f"select {_COLUMNS} from projects.projects"
        " where (:all or deleted_at is null)"
        " and (cast(:everything as boolean) or id = any(:ids))"
        " order by lower(name)"
    )
    rows = conn.execute(query, {"all": include_deleted, "everything": ids is None, "ids": ids or []})
    return [Project(**r._mapping) for r in rows]


def _may_restore_any(conn: Connection) -> bool:
    """Admins and the command line may restore any deleted project; everyone else only their own."""
    return is_system(conn) or "admin" in access.actor_system_roles(conn)


def list_deleted_projects(conn: Connection) -> list[Project]:
    """Soft-deleted projects the acting user may restore (see restore_project), by name."""
    query = text(
        f"select {_COLUMNS} from projects.projects"
        " where deleted_at is not null and (cast(:any as boolean) or owner_id = :actor)"
        " order by lower(name)"
    )
    rows = conn.execute(query, {"any": _may_restore_any(conn), "actor": current_actor(conn)})
    return [Project(**r._mapping) for r in rows]


def create_project(
    conn: Connection, *, name: str, description: str = "", owner_id: int | None = None
) -> Project:
    """Create a project; its owner (the acting user by default) gets the owner role."""
    actor = current_actor(conn)
    if actor is None and not is_system(conn):
        raise PermissionDenied("Sign in first.")
    owner = owner_id if owner_id is not None else actor
    if owner is None:
        raise InvalidInput("A project needs an owner.")
    if owner != actor:
        access.require_admin(conn)
    with domain_errors():
        project_id = conn.execute(
            text(
                "insert into projects.projects (name, description, owner_id)"
                " values (:name, :description, :owner) returning id"
            ),
            {
                "name": _clean(name, "project name"),
                "description": _clean(description, "description"),
                "owner": owner,
            },
        ).scalar_one()
        conn.execute(
            text("insert into projects.project_access (project_id, user_id, role) values (:p, :u, 'owner')"),
            {"p": project_id, "u": owner},
        )
    return get_project(conn, project_id=project_id)


def update_project(
    conn: Connection, *, project_id: int, name: str | None = None, description: str | None = None
) -> Project:
    """Rename a project or change its description."""
    access.require_permission(conn, project_id=project_id, permission="can_edit_project")
    with domain_errors():
        conn.execute(
            text(
                "update projects.projects set name = coalesce(:name, name),"
                " description = coalesce(:description, description)"
                " where id = :id and deleted_at is null"
            ),
            {
                "id": project_id,
                "name": None if name is None else _clean(name, "project name"),
                "description": None if description is None else _clean(description, "description"),
            },
        )
    return get_project(conn, project_id=project_id)


def transfer_ownership(conn: Connection, *, project_id: int, new_owner_id: int) -> Project:
    """Make another active member the accountable owner: they get the owner role, the previous owner
    keeps theirs. The accountable owner may, and admins (and the command line); not a co-owner."""
    access.require_permission(conn, project_id=project_id, permission="can_delete_project")
    require_id(new_owner_id, "user")
    if get_project(conn, project_id=project_id).owner_id != current_actor(conn):
        try:
            access.require_admin(conn)
        except PermissionDenied:
            raise PermissionDenied("Only the project's owner or an administrator can hand it over.") from None
    with domain_errors():
        # The member's row is locked, never inserted: a user who is not (or no longer) an active
        # member of the project cannot become its owner, even racing a revocation.
        promoted = conn.execute(
            text(
                "with member as ("
                " select a.user_id from projects.project_access a"
                " join users.users u on u.id = a.user_id and u.is_active and u.deleted_at is null"
                " where a.project_id = :p and a.user_id = :u for update of a),"
                " promoted as (update projects.project_access a set role = 'owner' from member m"
                " where a.project_id = :p and a.user_id = m.user_id and a.role <> 'owner')"
                " select user_id from member"
            ),
            {"p": project_id, "u": new_owner_id},
        ).first()
        if promoted is None:
            raise InvalidInput("Only an active member of the project can become its owner.")
        conn.execute(
            text("update projects.projects set owner_id = :u where id = :p"),
            {"p": project_id, "u": new_owner_id},
        )
    return get_project(conn, project_id=project_id)


def soft_delete_project(conn: Connection, *, project_id: int) -> Project:
    """Hide a project and everything in it from every view; restore brings it back."""
    access.require_permission(conn, project_id=project_id, permission="can_delete_project")
    conn.execute(
        text(
            "update projects.projects set deleted_at = now(), deleted_by = :actor"
            " where id = :id and deleted_at is null"
        ),
        {"id": project_id, "actor": current_actor(conn)},
    )
    return get_project(conn, project_id=project_id, include_deleted=True)


def restore_project(conn: Connection, *, project_id: int) -> Project:
    """Bring a soft-deleted project back: its owner may, and admins (and the command line) may restore
    any (list_deleted_projects lists what the acting user may restore)."""
    require_id(project_id, "project")
    row = conn.execute(
        text("select owner_id, deleted_at from projects.projects where id = :id"),
        {"id": project_id},
    ).one_or_none()
    if row is None:
        raise NotFound("There is no such project, or you do not have access to it.")
    if row.owner_id != current_actor(conn):
        access.require_admin(conn)  # the rule of _may_restore_any, with its refusal
    with domain_errors():
        conn.execute(
            text(
                "update projects.projects set deleted_at = null, deleted_by = null"
                " where id = :id and deleted_at is not null"
            ),
            {"id": project_id},
        )
    return get_project(conn, project_id=project_id)


def project_history(conn: Connection, *, project_id: int, limit: int = 100) -> list[HistoryEntry]:
    """What changed in a project, newest first."""
    get_project(conn, project_id=project_id, include_deleted=True)
    rows = conn.execute(
        text(
            "select h.id, h.operation, h.changed_at, h.changed_by, u.login as changed_by_login,"
            " h.old_values, h.new_values, h.changed_columns"
            " from projects.project_history h left join users.users u on u.id = h.changed_by"
            " where h.project_id = :p"
            " order by h.changed_at desc, h.id desc limit :limit"
        ),
        {"p": project_id, "limit": limit},
    )
    return [HistoryEntry(**r._mapping) for r in rows]


def onboarding_summary(conn: Connection) -> pd.DataFrame:
    """onboarding_project_summary for the projects the acting user may see.

    document_count and total_bytes come from projects.project_totals, as of totals_refreshed_at."""
    visible = access.visible_project_ids(conn)
    query = text(
        "select * from projects.onboarding_project_summary"
        " where cast(:everything as boolean) or project_id = any(:ids)"
        " order by lower(project_name)"
    )
    return pd.read_sql_query(query, conn, params={"everything": visible is None, "ids": visible or []})


def list_summaries(
    conn: Connection,
    *,
    project_id: int | None = None,
    after: tuple[str, int] | None = None,
    limit: int = 50,
) -> list[ProjectSummary]:
    """onboarding_project_summary rows the acting user may see, by name then id, one keyset page
    (`after`: the last row's sort_key and id); `project_id`: that one project only."""
    if not 1 <= limit <= 500:
        raise InvalidInput("A page holds 1 to 500 projects.")
    if project_id is not None:
        require_id(project_id, "project")
    visible = access.visible_project_ids(conn)
    # The page's projects first (by name, from the projects table alone), then the summary of just
    # those: the summary's per-project counts are never made for projects off the page.
    rows = conn.execute(
        text(
            "select s.*, lower(s.project_name) as sort_key"
            " from (select p.id from projects.projects p where p.deleted_at is null"
            " and (cast(:everything as boolean) or p.id = any(:ids))"
            " and (cast(:project as bigint) is null or p.id = :project)"
            " and (cast(:after_name as text) is null or (lower(p.name), p.id) > (:after_name, :after_id))"
            " order by lower(p.name), p.id limit :limit) page"
            " cross join lateral (select * from projects.onboarding_project_summary v"
            " where v.project_id = page.id) s"
            " order by lower(s.project_name), s.project_id"
        ),
        {
            "everything": visible is None, "ids": visible or [], "project": project_id,
            "after_name": after[0] if after else None, "after_id": after[1] if after else None,
            "limit": limit,
        },
    )  # fmt: skip
    return [ProjectSummary(**r._mapping) for r in rows]


TOTALS_LOCK = "select pg_try_advisory_xact_lock(hashtext('projects.project_totals'))"


def refresh_totals(conn: Connection, *, older_than_seconds: float = 0) -> bool:
    """Recompute projects.project_totals (readers keep reading the old rows meanwhile), unless they
    are fresher than `older_than_seconds` or another session is already at it; True when it ran.

    Not audited: the totals are derived from audited rows and hold nothing of their own."""
    if current_actor(conn) is None and not is_system(conn):
        raise PermissionDenied("Sign in first.")
    if not conn.execute(text(TOTALS_LOCK)).scalar_one():
        return False
    # Only the owner may refresh a materialized view: the function runs as it (migration 0013).
    return conn.execute(
        text("select projects.refresh_totals(:older)"), {"older": older_than_seconds}
    ).scalar_one()


# The tables whose rows the totals are computed from: a document (count, bytes, newest upload) and
# every audit row that names a project (newest activity) comes from a write to one of them.
_TOTALS_INPUTS = """
    select coalesce(sum(s.n_tup_ins + s.n_tup_upd + s.n_tup_del), 0)
    from pg_stat_user_tables s
    where s.relid in (
        select relid from pg_partition_tree('documents.documents')
        union all
        select unnest(array['projects.projects', 'projects.project_access', 'projects.project_tag',
                            'staging.documents_ingest']::regclass[])
    )
"""


def refresh_totals_if_written(
    conn: Connection, *, since: int | None, older_than_seconds: float = 0
) -> int | None:
    """`refresh_totals`, skipped while nothing the totals are computed from has been written since
    an earlier call (`since`: what that call returned; None the first time). Returns what to pass
    next time.

    The write count is PostgreSQL's own row counters, which a transaction adds to after it ends, so
    it is read before the recount: a write the recount missed moves it, and the next call recounts.
    A write that was rolled back, or a statistics reset, costs one recount more, never one less."""
    writes = conn.execute(text(_TOTALS_INPUTS)).scalar_one()
    if writes == since:
        return since
    return writes if refresh_totals(conn, older_than_seconds=older_than_seconds) else since
