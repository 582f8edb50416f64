"""Table definitions (db/core/tables.py) and migrations cannot drift apart: Alembic's own comparison
(what `alembic check` runs) finds no difference in tables, columns, types, nullability or keys."""

import re

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from db.core.tables import metadata

PARTITION = re.compile(r"_(p\d{4}(_\d{2}|q\d)|default)$")
SCHEMAS = {"users", "auth", "projects", "documents", "staging", "audit", "system"}


def _include(obj, name, type_, reflected, compare_to):
    if type_ == "table":
        schema = obj.schema
        if schema not in SCHEMAS:
            return False
        # Partitions are made by partition maintenance, not by table definitions.
        return not PARTITION.search(name)
    # Indexes and unique constraints are expression/partial indexes written in SQL; they are
    # checked by name in tests/db/test_reads.py (test_named_indexes_serve_their_queries).
    return type_ not in ("index", "unique_constraint")


def test_table_definitions_match_the_migrated_schema(conn):
    context = MigrationContext.configure(
        conn,
        opts={
            "include_schemas": True,
            "include_object": _include,
            "include_name": lambda name, type_, parent: type_ != "schema" or name in SCHEMAS,
            "compare_type": True,
            "compare_server_default": False,
        },
    )
    differences = compare_metadata(context, metadata)
    assert differences == []
