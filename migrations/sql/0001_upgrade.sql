-- 0001: schemas, schema versioning, the audit log and its capture trigger, partition maintenance.

create schema users;
create schema auth;
create schema projects;
create schema documents;
create schema staging;
create schema audit;
create schema system;

comment on schema system is 'ProSync: schema versions, partition policy and maintenance, shared trigger functions';

create table system.schema_version (
    id bigint generated always as identity primary key,
    version text not null,                          -- Alembic revision id
    description text not null,
    direction text not null check (direction in ('upgrade', 'downgrade')),
    applied_at timestamptz not null default now(),
    applied_by text not null default current_user,
    server_version text not null default current_setting('server_version')
);

-- The user named by the data-access layer with SET LOCAL prosync.actor_id; null for writes made
-- outside the application (psql, migrations).
create function system.current_actor() returns bigint
language sql stable
set search_path = ''
as $$ select nullif(pg_catalog.current_setting('prosync.actor_id', true), '')::bigint $$;

-- Keeps updated_at/updated_by true on every update, whoever makes it.
create function system.touch() returns trigger
language plpgsql
set search_path = ''
as $$
begin
    new.updated_at := pg_catalog.now();
    new.updated_by := system.current_actor();
    return new;
end
$$;

------------------------------------------------------------------------------------------------
-- Audit log: append-only, partitioned by month on "timestamp".
------------------------------------------------------------------------------------------------
create table audit.audit_log (
    id bigint generated always as identity,
    "timestamp" timestamptz not null default now(),
    actor_id bigint,                 -- users.users id; no foreign key: the trail outlives users
    action text not null check (action ~ '^[a-z_]+$'),
    schema_name text not null,
    table_name text not null,
    record_id text,                  -- primary key of the row, comma-joined when composite
    project_id bigint,               -- the project the row belongs to, for audit_trail_by_project
    old_values jsonb,                -- whole row on delete, changed columns only on update
    new_values jsonb,                -- whole row on insert, changed columns only on update
    changed_columns text[],
    context jsonb,                   -- ip address, user agent and such for sign-in events
    db_user text not null default current_user,
    txid bigint not null default txid_current(),
    primary key (id, "timestamp")
) partition by range ("timestamp");

alter table audit.audit_log alter column old_values set storage extended;
alter table audit.audit_log alter column new_values set storage extended;
alter table audit.audit_log alter column context set storage extended;

create table audit.audit_log_default partition of audit.audit_log default;

create index audit_log_project_time_idx on audit.audit_log (project_id, "timestamp" desc)
    where project_id is not null;
create index audit_log_actor_time_idx on audit.audit_log (actor_id, "timestamp" desc);
create index audit_log_record_idx on audit.audit_log (table_name, record_id);

-- One statement-level trigger per event records every row of the statement from its transition
-- table in a single INSERT ... SELECT (bulk writes pay once per statement, not once per row).
-- Arguments: key columns (comma-separated), project column, history table, history key column,
-- hidden columns (never copied: secrets), ignored columns (a change to only these is not audited).
create function audit.capture() returns trigger
language plpgsql
security definer
set search_path = ''
as $fn$
declare
    v_keys text[] := pg_catalog.string_to_array(tg_argv[0], ',');
    v_project text := nullif(tg_argv[1], '');
    v_history text := nullif(tg_argv[2], '');
    v_history_key text := nullif(tg_argv[3], '');
    v_hidden text := coalesce(nullif(tg_argv[4], ''), '{}');
    v_ignored text := coalesce(nullif(tg_argv[5], ''), '{}');
    v_alias text := case tg_op when 'DELETE' then 'o' else 'n' end;
    v_record text;
    v_project_expr text;
    v_join text;
    v_rows text;
    v_history_sql text := '';
    v_key text;
begin
    if tg_op = 'TRUNCATE' then
        insert into audit.audit_log (actor_id, action, schema_name, table_name)
        values (system.current_actor(), 'truncate', tg_table_schema, tg_table_name);
        return null;
    end if;

    v_record := 'concat_ws('','''
        || (select string_agg(', ' || v_alias || '.' || quote_ident(k), '') from unnest(v_keys) k)
        || ')';
    v_project_expr := case when v_project is null then 'null::bigint'
                           else v_alias || '.' || quote_ident(v_project) || '::bigint' end;

    if tg_op = 'INSERT' then
        v_rows := format(
            'select %s as record_id, %s as project_id, ''insert''::text as action,'
            ' null::jsonb as old_values, to_jsonb(n) - %L::text[] as new_values,'
            ' null::text[] as changed_columns from new_rows n',
            v_record, v_project_expr, v_hidden);
    elsif tg_op = 'DELETE' then
        v_rows := format(
            'select %s as record_id, %s as project_id, ''delete''::text as action,'
            ' to_jsonb(o) - %L::text[] as old_values, null::jsonb as new_values,'
            ' null::text[] as changed_columns from old_rows o',
            v_record, v_project_expr, v_hidden);
    else
        v_join := (select string_agg(format('o.%1$I = n.%1$I', k), ' and ') from unnest(v_keys) k);
        v_rows := format(
            'select %1$s as record_id, %2$s as project_id,'
            ' case when (to_jsonb(o) ->> ''deleted_at'') is null'
            '       and (to_jsonb(n) ->> ''deleted_at'') is not null then ''soft_delete'''
            '      when (to_jsonb(o) ->> ''deleted_at'') is not null'
            '       and (to_jsonb(n) ->> ''deleted_at'') is null then ''restore'''
            '      else ''update'' end as action,'
            ' d.old_values, d.new_values, d.changed_columns'
            ' from old_rows o join new_rows n on %3$s'
            ' cross join lateral ('
            '   select jsonb_object_agg(x.k, x.ov) filter (where x.k <> all (%4$L::text[])) as old_values,'
            '          jsonb_object_agg(x.k, x.nv) filter (where x.k <> all (%4$L::text[])) as new_values,'
            '          array_agg(x.k order by x.k) as changed_columns'
            '   from (select e.key as k, e.value as nv, to_jsonb(o) -> e.key as ov'
            '         from jsonb_each(to_jsonb(n)) e) x'
            '   where x.ov is distinct from x.nv and x.k <> all (%5$L::text[])'
            '     and x.k not in (''updated_at'', ''updated_by'')'
            ' ) d'
            ' where d.changed_columns is not null',
            v_record, v_project_expr, v_join, v_hidden, v_ignored);
    end if;

    -- History rows for inserts and updates (a hard delete removes the history with the row; the
    -- audit log keeps the deleted row).
    if v_history is not null and tg_op <> 'DELETE' then
        v_history_sql := format(
            ', history as (insert into %s (%I%s, operation, changed_by, old_values, new_values,'
            ' changed_columns) select record_id::bigint%s, action, $1, old_values, new_values,'
            ' changed_columns from changes)',
            v_history, v_history_key,
            case when v_history_key = 'project_id' then '' else ', project_id' end,
            case when v_history_key = 'project_id' then '' else ', project_id' end);
    end if;

    execute format(
        'with changes as (%s)%s'
        ' insert into audit.audit_log (actor_id, action, schema_name, table_name, record_id,'
        ' project_id, old_values, new_values, changed_columns)'
        ' select $1, action, $2, $3, record_id, project_id, old_values, new_values,'
        ' changed_columns from changes',
        v_rows, v_history_sql)
    using system.current_actor(), tg_table_schema, tg_table_name;
    return null;
end
$fn$;

-- Attach the four audit triggers to a table (used by every later migration).
create procedure audit.enable(
    p_table regclass,
    p_keys text,
    p_project text default '',
    p_history text default '',
    p_history_key text default '',
    p_hidden text default '',
    p_ignored text default ''
)
language plpgsql
set search_path = ''
as $$
declare
    v_args text := format('%L, %L, %L, %L, %L, %L',
                          p_keys, p_project, p_history, p_history_key, p_hidden, p_ignored);
begin
    execute format('create trigger audit_insert after insert on %s referencing new table as new_rows'
                   ' for each statement execute function audit.capture(%s)', p_table, v_args);
    execute format('create trigger audit_update after update on %s referencing old table as old_rows'
                   ' new table as new_rows for each statement execute function audit.capture(%s)',
                   p_table, v_args);
    execute format('create trigger audit_delete after delete on %s referencing old table as old_rows'
                   ' for each statement execute function audit.capture(%s)', p_table, v_args);
    execute format('create trigger audit_truncate after truncate on %s'
                   ' for each statement execute function audit.capture(%s)', p_table, v_args);
end
$$;

------------------------------------------------------------------------------------------------
-- Partition maintenance (in the manner of pg_partman): policy per partitioned table, partitions
-- made ahead with their storage settings, rows found in DEFAULT moved out, old ones detached.
------------------------------------------------------------------------------------------------
create table system.partition_policy (
    parent_table text primary key,                 -- schema-qualified partitioned table
    period text not null check (period in ('month', 'quarter')),
    storage_options text[] not null default '{}'   -- reloptions given to every new partition
);

create view system.partitions as
select pt.partrelid::regclass::text as parent_table,
       c.oid::regclass::text as partition_name,
       pg_get_expr(c.relpartbound, c.oid) = 'DEFAULT' as is_default,
       (regexp_match(pg_get_expr(c.relpartbound, c.oid), $$FROM \('([^']+)'\)$$))[1]::timestamptz
           as range_from,
       (regexp_match(pg_get_expr(c.relpartbound, c.oid), $$TO \('([^']+)'\)$$))[1]::timestamptz
           as range_to,
       case when c.reltuples >= 0 then c.reltuples::bigint end as estimated_rows,  -- null: never analyzed
       pg_total_relation_size(c.oid) as total_bytes,
       c.reloptions
from pg_partitioned_table pt
join pg_inherits i on i.inhparent = pt.partrelid
join pg_class c on c.oid = i.inhrelid
join system.partition_policy pp on pp.parent_table = pt.partrelid::regclass::text;

create function system.period_start(p_period text, p_at timestamptz) returns timestamptz
language sql immutable
set search_path = ''
as $$ select pg_catalog.date_trunc(p_period, p_at at time zone 'UTC') at time zone 'UTC' $$;

create function system.period_step(p_period text) returns interval
language sql immutable
set search_path = ''
as $$ select case p_period when 'month' then interval '1 month' else interval '3 months' end $$;

-- Create the partition of p_parent that starts at p_from (a period start), unless it exists.
-- Rows of that range already sitting in the DEFAULT partition are moved into it.
-- Returns the number of rows moved, or null when the partition already existed.
create function system.create_partition(p_parent text, p_from timestamptz) returns bigint
language plpgsql
set search_path = ''
as $$
declare
    v_policy system.partition_policy;
    v_schema text := split_part(p_parent, '.', 1);
    v_table text := split_part(p_parent, '.', 2);
    v_to timestamptz;
    v_name text;
    v_key text;
    v_with text := '';
    v_moved bigint := 0;
begin
    select * into strict v_policy from system.partition_policy where parent_table = p_parent;
    v_to := p_from + system.period_step(v_policy.period);
    v_name := v_table || '_p' || case v_policy.period
        when 'month' then to_char(p_from at time zone 'UTC', 'YYYY_MM')
        else to_char(p_from at time zone 'UTC', 'YYYY"q"Q') end;
    if to_regclass(format('%I.%I', v_schema, v_name)) is not null then
        return null;
    end if;
    if cardinality(v_policy.storage_options) > 0 then
        v_with := ' with (' || array_to_string(v_policy.storage_options, ', ') || ')';
    end if;
    select a.attname into strict v_key
    from pg_catalog.pg_partitioned_table pt
    join pg_catalog.pg_attribute a on a.attrelid = pt.partrelid and a.attnum = pt.partattrs[0]
    where pt.partrelid = p_parent::regclass;

    execute format('select count(*) from %I.%I where %I >= $1 and %I < $2',
                   v_schema, v_table || '_default', v_key, v_key)
        into v_moved using p_from, v_to;
    if v_moved = 0 then
        execute format('create table %I.%I partition of %I.%I for values from (%L) to (%L)%s',
                       v_schema, v_name, v_schema, v_table, p_from, v_to, v_with);
    else
        -- Build the partition beside the table, move the stray rows out of DEFAULT, then attach
        -- (ATTACH refuses a range that DEFAULT still holds rows of).
        execute format('create table %I.%I (like %I.%I including defaults including constraints'
                       ' including storage including comments)%s',
                       v_schema, v_name, v_schema, v_table, v_with);
        execute format('with moved as (delete from %I.%I where %I >= $1 and %I < $2 returning *)'
                       ' insert into %I.%I select * from moved',
                       v_schema, v_table || '_default', v_key, v_key, v_schema, v_name)
            using p_from, v_to;
        execute format('alter table %I.%I attach partition %I.%I for values from (%L) to (%L)',
                       v_schema, v_table, v_schema, v_name, p_from, v_to);
    end if;
    return v_moved;
end
$$;

-- Make sure partitions exist from p_back periods before now to p_ahead periods after it; detach
-- (never drop) partitions that end more than p_retain periods before now (null keeps all).
create function system.maintain_partitions(
    p_parent text, p_ahead integer, p_back integer default 0, p_retain integer default null
) returns table (action text, partition_name text, detail text)
language plpgsql
set search_path = ''
as $$
declare
    v_policy system.partition_policy;
    v_now timestamptz;
    v_step interval;
    v_from timestamptz;
    v_moved bigint;
    v_default_rows bigint;
    v_part record;
begin
    select * into strict v_policy from system.partition_policy where parent_table = p_parent;
    v_step := system.period_step(v_policy.period);
    v_now := system.period_start(v_policy.period, now());

    execute format('select count(*) from %s', p_parent || '_default') into v_default_rows;
    if v_default_rows > 0 then
        action := 'default_rows';
        partition_name := p_parent || '_default';
        detail := v_default_rows || ' row(s) outside every partition';
        return next;
    end if;

    for i in -coalesce(p_back, 0) .. p_ahead loop
        v_from := v_now + v_step * i;
        v_moved := system.create_partition(p_parent, v_from);
        if v_moved is not null then
            action := 'created';
            partition_name := p_parent || ' ' || to_char(v_from at time zone 'UTC', 'YYYY-MM-DD');
            detail := case when v_moved > 0 then v_moved || ' row(s) moved in from DEFAULT'
                           else 'empty' end;
            return next;
        end if;
    end loop;

    if p_retain is not null then
        for v_part in
            select p.partition_name as name, p.range_to
            from system.partitions p
            where p.parent_table = p_parent and not p.is_default
              and p.range_to <= v_now - v_step * p_retain
            order by p.range_from
        loop
            execute format('alter table %s detach partition %s', p_parent, v_part.name);
            action := 'detached';
            partition_name := v_part.name;
            detail := 'older than ' || p_retain || ' ' || v_policy.period || '(s); kept as a table';
            return next;
        end loop;
    end if;
end
$$;

insert into system.partition_policy (parent_table, period, storage_options) values
    -- Append-only: fillfactor 100 (free space for updates would never be used); insert-driven
    -- autovacuum keeps the visibility map current; verbose jsonb goes out of line early.
    ('audit.audit_log', 'month', array[
        'fillfactor=100',
        'autovacuum_vacuum_insert_scale_factor=0.02',
        'autovacuum_analyze_scale_factor=0.02',
        'autovacuum_vacuum_scale_factor=0.1',
        'parallel_workers=2',
        'toast_tuple_target=512']);

select system.maintain_partitions('audit.audit_log', 3, 3);
