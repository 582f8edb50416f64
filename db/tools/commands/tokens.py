"""`prosync token create|list|revoke`: personal access tokens for the HTTP API, made for a user by
the operator (the user makes their own on the dashboard's Account screen)."""

from __future__ import annotations

import sys

from db.tools.commands.common import CommandError, require_migrated


def _user_id(conn, email: str) -> int:
    from db.domain import users

    user = users.find_user_by_login(conn, login=email)
    if user is None or not user.is_active or user.deleted_at is not None:
        raise CommandError(f"there is no active user {email}")
    return user.id


def _project_ids(conn, names: list[str] | None) -> list[int] | None:
    from db.domain import projects

    if not names:
        return None
    found = {name: projects.find_project_by_name(conn, name=name) for name in names}
    if missing := [name for name, project in found.items() if project is None]:
        raise CommandError(f"there is no project named {missing[0]!r}")
    return [project.id for project in found.values()]


def _create(args) -> None:
    from db.core.engine import acting_as, system_transaction
    from db.domain import tokens

    require_migrated()
    with system_transaction() as conn:
        user_id = _user_id(conn, args.as_)
        projects = _project_ids(conn, args.project)
        # As the user: a token can do at most what they can (their projects, their roles).
        with acting_as(conn, user_id):
            new = tokens.create_token(
                conn,
                name=args.name or "command line",
                scopes=args.scope or ["read"],
                project_ids=projects,
                expires_days=args.expires_days,
            )
    token = new.token
    where = "all their projects" if token.project_ids is None else f"projects {list(token.project_ids)}"
    print(new.secret, flush=True)
    print(
        f"token {token.id} {token.name!r} for {args.as_}: {', '.join(token.scopes)} on {where}, "
        f"expires {token.expires_at:%Y-%m-%d}. It is shown once; keep it in a secret store.",
        file=sys.stderr,
    )


def _list(args) -> None:
    from db.core.engine import acting_as, system_transaction
    from db.domain import tokens

    require_migrated()
    with system_transaction() as conn:
        user_id = _user_id(conn, args.as_)
        with acting_as(conn, user_id):
            found = tokens.list_tokens(conn, include_ended=args.all)
    for t in found:
        state = "revoked" if t.revoked_at else f"expires {t.expires_at:%Y-%m-%d}"
        used = "never used"
        if t.last_used_at:
            used = f"last used {t.last_used_at:%Y-%m-%d %H:%M} from {t.last_used_ip}"
        projects = "all projects" if t.project_ids is None else f"projects {list(t.project_ids)}"
        print(f"{t.id}\t{t.token_prefix}…\t{t.name}\t{','.join(t.scopes)}\t{projects}\t{state}\t{used}")


def _revoke(args) -> None:
    from db.core.engine import acting_as, system_transaction
    from db.domain import tokens

    require_migrated()
    with system_transaction() as conn:
        user_id = _user_id(conn, args.as_)
        with acting_as(conn, user_id):
            token = tokens.revoke_token(conn, token_id=args.id)
    print(f"revoked token {token.id} {token.name!r}")


def add(commands) -> None:
    """Register this group's commands on the `prosync` parser."""
    token = commands.add_parser("token", help="API access tokens").add_subparsers(
        dest="token_command", required=True
    )
    create = token.add_parser("create", help="make a token for a user; prints it once")
    create.add_argument("--as", dest="as_", required=True, metavar="EMAIL", help="the token's user")
    create.add_argument("--name", help="where it is used (default: command line)")
    create.add_argument("--project", action="append", metavar="NAME", help="only this project (repeat)")
    from db.domain.access import SCOPES

    scopes = list(SCOPES)
    create.add_argument("--scope", action="append", choices=scopes, help="repeat; default: read")
    create.add_argument("--expires-days", type=int, default=90, metavar="N", help="1 to 366 (default 90)")
    create.set_defaults(func=_create)
    listing = token.add_parser("list", help="a user's tokens (never their secrets)")
    listing.add_argument("--as", dest="as_", required=True, metavar="EMAIL")
    listing.add_argument("--all", action="store_true", help="revoked and expired ones too")
    listing.set_defaults(func=_list)
    revoke = token.add_parser("revoke", help="end a token at once")
    revoke.add_argument("--as", dest="as_", required=True, metavar="EMAIL", help="the token's user")
    revoke.add_argument("id", type=int)
    revoke.set_defaults(func=_revoke)
