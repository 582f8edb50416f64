"""Schema: versions, roles, constraints, views, and the ER diagram's graph."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
from sqlalchemy import Connection, text

from db.core import migrate
from db.ops.common import (
    guarded,
    query_frame,
)


@dataclass(frozen=True)
class SchemaState:
    current: str | None  # the revision recorded in alembic_version
    head: str  # the newest revision this ProSync ships
    history: pd.DataFrame  # system.schema_version, newest first


def schema_state(conn: Connection) -> SchemaState:
    """Where the schema is: Alembic's current and head revisions and every step ever applied."""

    with guarded(conn):
        return SchemaState(migrate.current_revision(conn), migrate.head_revision(), schema_versions(conn))


def database_roles(conn: Connection) -> pd.DataFrame:
    """The server's roles (pg_roles) with their attributes and what they are members of; PostgreSQL's
    predefined pg_* roles only where someone was granted them."""
    with guarded(conn):
        return query_frame(
            conn,
            "select r.rolname as role, r.rolcanlogin as can_login, r.rolsuper as superuser,"
            " r.rolcreaterole as create_role, r.rolcreatedb as create_db, r.rolreplication as replication,"
            " r.rolbypassrls as bypass_rls, r.rolinherit as inherits, r.rolconnlimit as connection_limit,"
            " r.rolvaliduntil as valid_until,"
            " (select string_agg(g.rolname, ', ' order by g.rolname) from pg_auth_members m"
            "   join pg_roles g on g.oid = m.roleid where m.member = r.oid) as member_of"
            " from pg_roles r"
            " where r.rolname !~ '^pg_' or exists (select 1 from pg_auth_members m join pg_roles x"
            "   on x.oid = m.member where m.roleid = r.oid and x.rolname !~ '^pg_')"
            " order by r.rolname ~ '^pg_', r.rolname",
        )


def role_memberships(conn: Connection) -> pd.DataFrame:
    """Who is a member of which role (pg_auth_members), leaving out PostgreSQL's own predefined tree."""
    with guarded(conn):
        return query_frame(
            conn,
            "select g.rolname as role, u.rolname as member, m.admin_option, w.rolname as granted_by"
            " from pg_auth_members m join pg_roles g on g.oid = m.roleid"
            " join pg_roles u on u.oid = m.member left join pg_roles w on w.oid = m.grantor"
            " where u.rolname !~ '^pg_' order by 1, 2",
        )


@dataclass(frozen=True)
class SchemaChanges:
    recorded: bool  # the event triggers are installed and enabled
    events: pd.DataFrame  # the newest DDL rows of the audit log


def schema_changes(conn: Connection, *, limit: int = 200) -> SchemaChanges:
    """The newest schema changes the event triggers recorded (who, what, when), and whether they
    record at all (a server that refused event triggers to the migrating role does not)."""
    with guarded(conn):
        enabled = conn.execute(
            text(
                "select count(*) from pg_event_trigger"
                " where evtname in ('prosync_ddl_end', 'prosync_sql_drop') and evtenabled <> 'D'"
            )
        ).scalar_one()
        events = query_frame(
            conn,
            'select a."timestamp" as changed_at, coalesce(u.login, a.db_user) as who,'
            " coalesce(a.new_values, a.old_values)->>'command' as command, a.table_name as object_type,"
            " a.record_id as object, a.context->>'statement' as statement"
            " from audit.audit_log a left join users.users u on u.id = a.actor_id"
            " where a.action = 'ddl' order by a.\"timestamp\" desc, a.id desc limit :limit",
            limit=limit,
        )
    return SchemaChanges(recorded=enabled == 2, events=events)


CONSTRAINT_KINDS = {
    "p": "primary key", "f": "foreign key", "u": "unique", "c": "check", "x": "exclusion",
    "t": "constraint trigger", "n": "not null",
}  # fmt: skip


def constraints(conn: Connection) -> pd.DataFrame:
    """Every constraint of ProSync's tables (pg_constraint), once per table: partitions' inherited
    copies are left out."""
    with guarded(conn):
        frame = query_frame(
            conn,
            "select n.nspname as schema_name, c.relname as table_name, k.conname as constraint_name,"
            " k.contype as kind, pg_get_constraintdef(k.oid) as definition, k.convalidated as validated,"
            " k.condeferrable as deferrable, k.condeferred as initially_deferred"
            " from pg_constraint k join pg_class c on c.oid = k.conrelid"
            " join pg_namespace n on n.oid = c.relnamespace"
            " where n.nspname not in ('pg_catalog', 'information_schema') and n.nspname !~ '^pg_toast'"
            " and k.conparentid = 0 and not c.relispartition"
            " order by 1, 2, k.contype, 3",
        )
    frame["kind"] = frame.kind.map(lambda k: CONSTRAINT_KINDS.get(k, k))
    return frame


def views(conn: Connection) -> pd.DataFrame:
    """Views and materialized views (pg_views, pg_matviews) with their definitions; security_invoker
    says whether the querying user's rights (and row-level policies) apply through the view."""
    with guarded(conn):
        return query_frame(
            conn,
            "select v.schemaname as schema_name, v.viewname as view_name, 'view' as kind,"
            " coalesce((select option_value::boolean from pg_options_to_table(c.reloptions)"
            "   where option_name = 'security_invoker'), false) as security_invoker,"
            " null::boolean as populated, v.definition"
            " from pg_views v join pg_class c on c.relname = v.viewname"
            " join pg_namespace n on n.oid = c.relnamespace and n.nspname = v.schemaname"
            " where v.schemaname not in ('pg_catalog', 'information_schema')"
            " union all"
            " select m.schemaname, m.matviewname, 'materialized view', false, m.ispopulated, m.definition"
            " from pg_matviews m"
            " order by 1, 2",
        )


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    nullable: bool
    primary_key: bool
    foreign_key: bool


@dataclass(frozen=True)
class Relation:
    """A foreign key: `columns` of `table` point at `ref_columns` of `ref_table`."""

    name: str
    table: str
    columns: tuple[str, ...]
    ref_table: str
    ref_columns: tuple[str, ...]


@dataclass(frozen=True)
class SchemaGraph:
    tables: dict[str, tuple[Column, ...]]  # "schema.table" → columns in order
    relations: tuple[Relation, ...]


def schema_graph(conn: Connection) -> SchemaGraph:
    """Tables, columns, keys and foreign keys of ProSync's schemas, from the live catalog (partitions
    are folded into their partitioned table)."""
    with guarded(conn):
        columns = conn.execute(
            text(
                "select n.nspname || '.' || c.relname as table_name, a.attname as name,"
                " format_type(a.atttypid, a.atttypmod) as type, not a.attnotnull as nullable,"
                " exists (select 1 from pg_constraint k where k.conrelid = c.oid and k.contype = 'p'"
                "   and a.attnum = any(k.conkey)) as primary_key,"
                " exists (select 1 from pg_constraint k where k.conrelid = c.oid and k.contype = 'f'"
                "   and a.attnum = any(k.conkey)) as foreign_key"
                " from pg_class c join pg_namespace n on n.oid = c.relnamespace"
                " join pg_attribute a on a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped"
                " where c.relkind in ('r', 'p') and not c.relispartition"
                " and n.nspname not in ('pg_catalog', 'information_schema') and n.nspname !~ '^pg_toast'"
                " order by 1, a.attnum"
            )
        ).all()
        keys = conn.execute(
            text(
                "select k.conname as name, n.nspname || '.' || c.relname as table_name,"
                " rn.nspname || '.' || r.relname as ref_table,"
                " array(select a.attname from unnest(k.conkey) with ordinality u(n, i) join pg_attribute a"
                "   on a.attrelid = k.conrelid and a.attnum = u.n order by u.i) as columns,"
                " array(select a.attname from unnest(k.confkey) with ordinality u(n, i) join pg_attribute a"
                "   on a.attrelid = k.confrelid and a.attnum = u.n order by u.i) as ref_columns"
                " from pg_constraint k join pg_class c on c.oid = k.conrelid"
                " join pg_namespace n on n.oid = c.relnamespace"
                " join pg_class r on r.oid = k.confrelid join pg_namespace rn on rn.oid = r.relnamespace"
                " where k.contype = 'f' and k.conparentid = 0 and not c.relispartition"
                " and n.nspname not in ('pg_catalog', 'information_schema')"
                " order by 2, 1"
            )
        ).all()
    tables: dict[str, list[Column]] = {}
    for row in columns:
        tables.setdefault(row.table_name, []).append(
            Column(row.name, row.type, row.nullable, row.primary_key, row.foreign_key)
        )
    relations = tuple(
        Relation(k.name, k.table_name, tuple(k.columns), k.ref_table, tuple(k.ref_columns)) for k in keys
    )
    return SchemaGraph({t: tuple(c) for t, c in tables.items()}, relations)


def schema_versions(conn: Connection) -> pd.DataFrame:
    """Every upgrade and downgrade step ever applied, newest first (system.schema_version)."""
    return query_frame(
        conn,
        "select version, description, direction, applied_at, applied_by, server_version"
        " from system.schema_version order by id desc",
    )
