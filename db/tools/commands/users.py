"""`prosync user create`: accounts made by the operator."""

from __future__ import annotations

import getpass
import os

from db.tools.commands.common import require_migrated


def _user_create(args) -> None:
    from db.core.engine import system_transaction
    from db.domain import users

    require_migrated()
    password = os.environ.get("PROSYNC_NEW_PASSWORD") or getpass.getpass("Password: ")
    with system_transaction() as conn:
        user = users.create_user(
            conn,
            login=args.email,
            display_name=args.name or args.email.split("@")[0],
            password=password,
            system_roles=tuple(args.role or ()),
        )
    print(f"created user {user.id} {user.login} {list(user.system_roles) or ''}".rstrip())


def add(commands) -> None:
    """Register this group's commands on the `prosync` parser."""
    user = commands.add_parser("user", help="users").add_subparsers(dest="user_command", required=True)
    create = user.add_parser("create", help="create a user (password from PROSYNC_NEW_PASSWORD or a prompt)")
    create.add_argument("--email", required=True)
    create.add_argument("--name")
    create.add_argument("--role", action="append", choices=["admin", "ops"])
    create.set_defaults(func=_user_create)
