"""Who may do what: system roles, per-project roles from access_role_reference, grants."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import fields, replace
from datetime import timedelta

from sqlalchemy import Connection, text

from db.core.engine import current_actor, current_token, is_system, remember, remembered
from db.core.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from db.core.sql import domain_errors, require_id
from db.core.types import Member, Role

PERMISSION_FLAGS = tuple(f.name for f in fields(Role) if f.name.startswith("can_"))
# The permissions an API token's scopes can carry; a token never carries any other (tagging,
# deleting, managing access, editing projects) nor its user's system roles. The database applies
# the same table (projects.actor_projects_with).
SCOPE_OF = {"can_view": "read", "can_upload": "upload", "can_review": "review"}
SCOPES = tuple(SCOPE_OF.values())
_ROLE_COLUMNS = "role, rank, description, " + ", ".join(PERMISSION_FLAGS)


# One unit of work asks the same question several times (a function checks a permission, and so
# does each helper it calls; a batch approval asks it per file): answers are remembered on the
# connection (db.core.engine.remembered) until a write could change them.


def actor_system_roles(conn: Connection) -> frozenset[str]:
    """System roles of the acting user; empty if the user is inactive or deleted."""
    actor = current_actor(conn)
    if actor is None or current_token(conn) is not None:  # a token acts as a member, never an admin
        return frozenset()
    return remembered(conn, ("system roles", actor), lambda: _system_roles(conn, actor))


def _system_roles(conn: Connection, actor: int) -> frozenset[str]:
    rows = conn.execute(
        text(
            "select r.role from users.user_system_role r join users.users u on u.id = r.user_id"
            " where r.user_id = :actor and u.is_active and u.deleted_at is null"
        ),
        {"actor": actor},
    )
    return frozenset(r.role for r in rows)


def require_actor(conn: Connection) -> int:
    """The acting user, or PermissionDenied when no one is signed in."""
    actor = current_actor(conn)
    if actor is None:
        raise PermissionDenied("Sign in first.")
    return actor


def require_admin(conn: Connection) -> None:
    """Only administrators (or the command line) may go on."""
    if is_system(conn):
        return
    require_actor(conn)
    if "admin" not in actor_system_roles(conn):
        raise PermissionDenied("Only an administrator can do this.")


# How often an admin's look at a project they are not a member of is written to its audit trail.
ADMIN_VIEW_RECORDED_EVERY = timedelta(hours=1)


def record_admin_view(conn: Connection, *, project_id: int) -> bool:
    """Whether the acting admin is looking at the project past its membership (row-level
    security's admin bypass); if so, the project's own audit trail says so (action `rls_bypass`,
    purpose `admin`), at most once per ADMIN_VIEW_RECORDED_EVERY for each admin and project.

    False for a member: their own role lets them in, and nothing is written."""
    require_admin(conn)
    require_id(project_id, "project")
    actor = current_actor(conn)
    if actor is None:  # the command line holds the owner's credentials: no bypass to record
        return False
    member = conn.execute(
        text(
            "select exists (select from projects.actor_role(:a, p.id))"
            " from projects.projects p where p.id = :p"
        ),
        {"a": actor, "p": project_id},
    ).scalar_one_or_none()
    if member is None:
        raise NotFound("There is no such project.")
    if member:
        return False
    recorded = conn.execute(
        text(
            "select exists (select from audit.audit_log where project_id = :p and action = 'rls_bypass'"
            " and actor_id = :a and context ->> 'purpose' = 'admin' and \"timestamp\" > now() - :every)"
        ),
        {"p": project_id, "a": actor, "every": ADMIN_VIEW_RECORDED_EVERY},
    ).scalar_one()
    if not recorded:
        with domain_errors():
            conn.execute(text("select audit.record_bypass('admin', :p, null)"), {"p": project_id})
    return True


def require_ops(conn: Connection) -> None:
    """Only ops people and administrators may go on."""
    if is_system(conn):
        return
    require_actor(conn)
    if not actor_system_roles(conn) & {"ops", "admin"}:
        raise PermissionDenied("Only ops people and administrators can see database health.")


def list_roles(conn: Connection) -> list[Role]:
    """Every project role with its permissions, highest rank first."""
    rows = conn.execute(
        text(f"select {_ROLE_COLUMNS} from projects.access_role_reference order by rank desc")
    )
    return [Role(**r._mapping) for r in rows]


def _role(conn: Connection, role: str) -> Role:
    if not isinstance(role, str) or "\x00" in role:
        raise InvalidInput("A role is one of the names listed under Roles (viewer, contributor, …).")
    row = remembered(
        conn,
        ("role", role),
        lambda: conn.execute(
            text(f"select {_ROLE_COLUMNS} from projects.access_role_reference where role = :r"), {"r": role}
        ).one_or_none(),
    )
    if row is None:
        shown = role if len(role) <= 40 else role[:40] + "…"
        raise InvalidInput(f"There is no role {shown!r}.")
    return Role(**row._mapping)


def project_role(conn: Connection, *, project_id: int) -> Role | None:
    """The acting user's effective role on a live project (admins act as owner); None if none."""
    require_id(project_id, "project")
    if is_system(conn):
        return _role(conn, "owner")
    actor = current_actor(conn)
    if actor is None:
        return None
    role = remembered(
        conn, ("project role", actor, project_id), lambda: _project_role(conn, actor, project_id)
    )
    token = current_token(conn)
    if role is None or token is None:
        return role
    if token.project_ids is not None and project_id not in token.project_ids:
        return None
    return replace(role, **{flag: getattr(role, flag) and SCOPE_OF.get(flag) in token.scopes
                            for flag in PERMISSION_FLAGS})  # fmt: skip


def know_project_roles(conn: Connection, *, project_ids: Iterable[int]) -> None:
    """Look up the acting user's role on each of these projects at once (one statement for a list
    that would otherwise ask once per project); project_role then answers from what was found."""
    actor = current_actor(conn)
    if actor is None or is_system(conn):
        return
    wanted = sorted({require_id(p, "project") for p in project_ids})
    if not wanted:
        return
    rows = conn.execute(
        text(
            f"select p.id as project_id, {', '.join('r.' + c for c in _ROLE_COLUMNS.split(', '))}"
            " from unnest(cast(:ids as bigint[])) p(id)"
            " cross join lateral projects.actor_role(:actor, p.id) r"
        ),
        {"ids": wanted, "actor": actor},
    ).all()
    found = {r.project_id: Role(**{k: v for k, v in r._mapping.items() if k != "project_id"}) for r in rows}
    for project_id in wanted:
        role = found.get(project_id)
        if role is None and "admin" in actor_system_roles(conn):
            role = _role(conn, "owner")
        remember(conn, ("project role", actor, project_id), role)


def _project_role(conn: Connection, actor: int, project_id: int) -> Role | None:
    row = conn.execute(
        text(f"select {_ROLE_COLUMNS} from projects.actor_role(:actor, :project)"),
        {"actor": actor, "project": project_id},
    ).one_or_none()
    if row is not None:
        return Role(**row._mapping)
    if "admin" in actor_system_roles(conn):
        return _role(conn, "owner")
    return None


def has_permission(conn: Connection, *, project_id: int, permission: str) -> bool:
    """Whether the acting user holds `permission` (a can_* flag) on the project."""
    if permission not in PERMISSION_FLAGS:
        raise ValueError(f"unknown permission {permission}")
    role = project_role(conn, project_id=project_id)
    return role is not None and getattr(role, permission)


def require_permission(conn: Connection, *, project_id: int, permission: str) -> Role:
    """The acting user's role on the project, or PermissionDenied naming what is missing."""
    role = project_role(conn, project_id=project_id)
    if role is None:
        # Same message whether the project exists or not: no probing for hidden projects.
        raise PermissionDenied("You do not have access to this project.")
    if not getattr(role, permission):
        action = permission.removeprefix("can_").replace("_", " ")
        raise PermissionDenied(f"Your role ({role.role}) does not allow you to {action} here.")
    return role


def visible_project_ids(conn: Connection) -> list[int] | None:
    """Projects the acting user may see; None means all (admins and the command line)."""
    if is_system(conn) or "admin" in actor_system_roles(conn):
        return None
    actor = current_actor(conn)
    if actor is None:
        return []
    visible = list(remembered(conn, ("visible", actor), lambda: tuple(_visible(conn, actor))))
    return _token_projects(conn, visible)


def _token_projects(conn: Connection, project_ids: list[int], permission: str | None = None) -> list[int]:
    """`project_ids` narrowed to the acting API token's projects (and to none when the token's
    scopes do not carry `permission`); unchanged when no token acts."""
    token = current_token(conn)
    if token is None:
        return project_ids
    if permission is not None and SCOPE_OF.get(permission) not in token.scopes:
        return []
    return [p for p in project_ids if token.project_ids is None or p in token.project_ids]


def _visible(conn: Connection, actor: int) -> list[int]:
    rows = conn.execute(
        text(
            "select a.project_id from projects.project_access a"
            " join users.users u on u.id = a.user_id and u.is_active and u.deleted_at is null"
            " where a.user_id = :actor"
        ),
        {"actor": actor},
    )
    return [r.project_id for r in rows]


def project_ids_with(conn: Connection, *, permission: str) -> list[int] | None:
    """Live projects where the acting user's role grants `permission`, in one query; None means
    every project (admins and the command line)."""
    if permission not in PERMISSION_FLAGS:
        raise ValueError(f"unknown permission {permission}")
    if is_system(conn) or "admin" in actor_system_roles(conn):
        return None
    actor = current_actor(conn)
    if actor is None:
        return []
    rows = conn.execute(
        text(
            "select a.project_id from projects.project_access a"
            " join projects.access_role_reference r on r.role = a.role"
            " join projects.projects p on p.id = a.project_id and p.deleted_at is null"
            " join users.users u on u.id = a.user_id and u.is_active and u.deleted_at is null"
            f" where a.user_id = :actor and r.{permission}"
        ),
        {"actor": actor},
    )
    return _token_projects(conn, [r.project_id for r in rows], permission)


def list_members(conn: Connection, *, project_id: int) -> list[Member]:
    """Members of a project with their roles, highest role first."""
    require_permission(conn, project_id=project_id, permission="can_view")
    rows = conn.execute(
        text(
            "select a.project_id, a.user_id, u.login, u.display_name, a.role, a.granted_at"
            " from projects.project_access a"
            " join users.users u on u.id = a.user_id and u.deleted_at is null"
            " join projects.access_role_reference r on r.role = a.role"
            " where a.project_id = :p order by r.rank desc, lower(u.login)"
        ),
        {"p": project_id},
    )
    return [Member(**r._mapping) for r in rows]


def _check_grantable(conn: Connection, project_id: int, role: str) -> Role:
    mine = require_permission(conn, project_id=project_id, permission="can_manage_access")
    wanted = _role(conn, role)
    if wanted.rank > mine.rank:
        raise PermissionDenied(f"You cannot grant {role}: it is above your own role ({mine.role}).")
    return wanted


def _current_member_role(conn: Connection, project_id: int, user_id: int) -> Role | None:
    require_id(user_id, "user")
    row = conn.execute(
        text("select role from projects.project_access where project_id = :p and user_id = :u"),
        {"p": project_id, "u": user_id},
    ).one_or_none()
    return _role(conn, row.role) if row else None


def grant_access(conn: Connection, *, project_id: int, user_id: int, role: str) -> None:
    """Make a user a member of a project with a role (no higher than the granter's)."""
    _check_grantable(conn, project_id, role)
    require_id(user_id, "user")
    user = conn.execute(
        text("select is_active and deleted_at is null as usable from users.users where id = :u"),
        {"u": user_id},
    ).one_or_none()
    if user is None or not user.usable:
        raise NotFound("There is no active user with that id.")
    if _current_member_role(conn, project_id, user_id) is not None:
        raise Conflict("This user is already a member; change their role instead.")
    with domain_errors():
        conn.execute(
            text("insert into projects.project_access (project_id, user_id, role) values (:p, :u, :r)"),
            {"p": project_id, "u": user_id, "r": role},
        )


def change_role(conn: Connection, *, project_id: int, user_id: int, role: str) -> None:
    """Give a member another role (neither the old nor the new may exceed the changer's)."""
    wanted = _check_grantable(conn, project_id, role)
    current = _current_member_role(conn, project_id, user_id)
    if current is None:
        raise NotFound("This user is not a member of the project.")
    mine = project_role(conn, project_id=project_id)
    assert mine is not None
    if current.rank > mine.rank:
        raise PermissionDenied(f"You cannot change the role of a {current.role}.")
    if current.role == wanted.role:
        return
    with domain_errors():
        conn.execute(
            text("update projects.project_access set role = :r where project_id = :p and user_id = :u"),
            {"p": project_id, "u": user_id, "r": role},
        )
        _check_owner_rule(conn)


def revoke_access(conn: Connection, *, project_id: int, user_id: int) -> None:
    """Remove a member (not the project's owner: transfer ownership first)."""
    mine = require_permission(conn, project_id=project_id, permission="can_manage_access")
    current = _current_member_role(conn, project_id, user_id)
    if current is None:
        raise NotFound("This user is not a member of the project.")
    if current.rank > mine.rank:
        raise PermissionDenied(f"You cannot remove a {current.role}.")
    with domain_errors():
        removed = conn.execute(
            text("delete from projects.project_access where project_id = :p and user_id = :u"),
            {"p": project_id, "u": user_id},
        ).rowcount
        if not removed:  # someone else removed them between the check above and this statement
            raise NotFound("This user is not a member of the project.")
        _check_owner_rule(conn)


def _check_owner_rule(conn: Connection) -> None:
    # The owner rule is a deferred constraint trigger; check it now so the person gets the
    # message at once rather than at commit.
    conn.execute(text("set constraints projects.owner_membership immediate"))
    conn.execute(text("set constraints projects.owner_membership deferred"))


def list_people(conn: Connection) -> list[tuple[int, str]]:
    """(id, e-mail) of people who share a project with the acting user (everyone for admins)."""
    visible = visible_project_ids(conn)
    rows = conn.execute(
        text(
            "select distinct u.id, u.login from users.users u"
            " left join projects.project_access a on a.user_id = u.id"
            " where u.deleted_at is null"
            " and (cast(:everything as boolean) or a.project_id = any(:ids))"
            " order by u.login"
        ),
        {"everything": visible is None, "ids": visible or []},
    )
    return [(r.id, r.login) for r in rows]


def grant_access_by_login(conn: Connection, *, project_id: int, login: str, role: str) -> None:
    """grant_access for the active user with this e-mail address."""
    require_permission(conn, project_id=project_id, permission="can_manage_access")
    if not isinstance(login, str) or "\x00" in login:
        raise InvalidInput("Enter an e-mail address.")
    row = conn.execute(
        text(
            "select id from users.users where users.login_key(login) = users.login_key(:login)"
            " and is_active and deleted_at is null"
        ),
        {"login": login.strip()},
    ).one_or_none()
    if row is None:
        raise NotFound("There is no active user with this e-mail address.")
    grant_access(conn, project_id=project_id, user_id=row.id, role=role)
