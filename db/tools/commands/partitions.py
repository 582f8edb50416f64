"""`prosync partitions maintain | status`: partitions made ahead, DEFAULT rows reported, old ones
detached."""

from __future__ import annotations

from db.tools.commands.common import require_migrated


def _partitions_maintain(args) -> None:
    from db.core.engine import system_transaction
    from db.domain import partitions

    require_migrated()
    with system_transaction() as conn:
        steps = partitions.maintain(conn, back=args.back)
    for step in steps:
        print(f"{step.action:<13} {step.partition_name:<40} {step.detail}")
    if not steps:
        print("nothing to do: every partition exists")


def _partitions_status(args) -> None:
    import pandas as pd

    from db.core.engine import system_transaction
    from db.domain import partitions

    require_migrated()
    with system_transaction() as conn:
        frame = partitions.partition_status(conn)
    for row in frame.itertuples():
        bounds = "DEFAULT" if row.is_default else f"{row.range_from:%Y-%m-%d} .. {row.range_to:%Y-%m-%d}"
        estimate = row.estimated_rows
        rows = "not analyzed" if pd.isna(estimate) else f"~{int(estimate):,} rows"
        print(f"{row.partition_name:<40} {bounds:<24} {rows:>16} {row.total_bytes:>12,} B")


def add(commands) -> None:
    """Register this group's commands on the `prosync` parser."""
    parts = commands.add_parser("partitions", help="partition maintenance")
    parts_commands = parts.add_subparsers(dest="partitions_command", required=True)
    maintain = parts_commands.add_parser("maintain", help="create ahead, report DEFAULT rows, detach old")
    maintain.add_argument("--back", type=int, default=0, help="also make this many past periods")
    maintain.set_defaults(func=_partitions_maintain)
    parts_commands.add_parser("status", help="list partitions").set_defaults(func=_partitions_status)
