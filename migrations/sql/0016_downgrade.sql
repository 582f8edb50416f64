-- 0016 undone: functions executable by PUBLIC again, prosync_app writes every table, the
-- partition functions and sign-in events as 0013 left them.
drop procedure users.set_system_role(bigint, text, boolean, uuid);
drop function projects.create_tag(text, text, text, text);
drop function projects.update_tag(bigint, text, text, text, text);
drop function staging.claimed_checksums(text[]);
drop function documents.store_contents(text[], bigint[], text[], text[]);
drop function documents.release_content(text);
drop function documents.stored_contents(text[]);

create function documents.content_in_use(p_checksum text) returns boolean
language sql stable security definer
set search_path = ''
as $$
    select exists (select from documents.document_registry where checksum = p_checksum)
        or exists (select from staging.documents_ingest where checksum = p_checksum)
$$;

alter table staging.upload_claims disable row level security;
drop policy own_claims on staging.upload_claims;
alter table documents.contents disable row level security;
drop policy used_by_my_projects on documents.contents;
drop index staging.documents_ingest_checksum_idx;
drop index documents.document_registry_checksum_idx;
alter table auth.sessions disable row level security;
drop policy resolvable on auth.sessions;
drop policy own_session on auth.sessions;
drop policy own_or_admin on auth.sessions;
alter table users.users disable row level security;
drop policy everyone_reads on users.users;
drop policy admin_creates on users.users;
drop policy self_or_admin on users.users;
drop trigger guard_user_change on users.users;
drop function users.guard_user_change();

create or replace function audit.record_event(
    p_action text, p_table text, p_record text, p_context jsonb default null
) returns void
language sql
security definer
set search_path = ''
as $$
    insert into audit.audit_log (actor_id, action, schema_name, table_name, record_id, context)
    values (system.current_actor(), p_action, 'auth', p_table, p_record, p_context)
$$;

create or replace function system.default_partition_rows(p_parent text) returns bigint
language plpgsql stable security definer
set search_path = ''
as $$
declare
    n bigint;
begin
    if p_parent not in ('documents.documents', 'audit.audit_log') then
        raise exception 'not a partitioned table of ProSync: %', p_parent using errcode = '22023';
    end if;
    execute format('select count(*) from %s_default', p_parent) into n;
    return n;
end
$$;

create or replace function system.maintain_partitions(
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

alter function system.maintain_partitions(text, integer, integer, integer) security definer;

create or replace function system.create_partition(p_parent text, p_from timestamptz) returns bigint
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

alter table system.partition_policy drop constraint partition_policy_parent_is_table;
alter table system.partition_policy drop constraint partition_policy_storage_options_plain;

drop function system.actor_is_owner_login();

create or replace procedure system.apply_roles()
language plpgsql
as $$
declare
    s text;
    r record;
    schemas text[] := array['users', 'auth', 'projects', 'documents', 'staging', 'audit', 'system'];
begin
    perform set_config('prosync.ddl_batch', 'system.apply_roles', true);
    foreach s in array schemas loop
        execute format('alter schema %I owner to prosync_owner', s);
        execute format('revoke all on schema %I from public', s);
        execute format('grant usage on schema %I to prosync_app, prosync_readonly', s);
    end loop;
    for r in
        select c.oid::regclass as name, c.relkind
        from pg_class c
        join pg_namespace n on n.oid = c.relnamespace
        where n.nspname = any (schemas) and c.relkind in ('r', 'p', 'v', 'm', 'S')
          and c.relowner <> 'prosync_owner'::regrole
          -- an identity column's sequence follows its table
          and not (c.relkind = 'S' and exists (
              select from pg_depend d where d.objid = c.oid and d.deptype in ('a', 'i')
                and d.classid = 'pg_class'::regclass and d.refclassid = 'pg_class'::regclass))
    loop
        execute format('alter %s %s owner to prosync_owner',
            case r.relkind when 'v' then 'view' when 'm' then 'materialized view'
                           when 'S' then 'sequence' else 'table' end,
            r.name);
    end loop;
    for r in
        select p.oid::regprocedure as name, p.prokind
        from pg_proc p
        join pg_namespace n on n.oid = p.pronamespace
        where n.nspname = any (schemas) and p.proowner <> 'prosync_owner'::regrole
    loop
        execute format('alter %s %s owner to prosync_owner',
            case r.prokind when 'p' then 'procedure' else 'function' end, r.name);
    end loop;

    -- prosync_app: rows, not structure. Partitions get nothing: rows are reached through their
    -- parent, where the policies are.
    foreach s in array schemas loop
        for r in
            select c.oid::regclass as name, c.relkind
            from pg_class c
            join pg_namespace n on n.oid = c.relnamespace
            where n.nspname = s and c.relkind in ('r', 'p', 'v', 'm') and not c.relispartition
        loop
            execute format('revoke all on %s from public, prosync_app, prosync_readonly', r.name);
            if r.name = 'projects.project_totals'::regclass then
                continue;  -- read through projects.visible_project_totals
            elsif r.relkind = 'v' or r.name in (
                    'audit.audit_log'::regclass, 'system.schema_version'::regclass,
                    'projects.project_history'::regclass, 'documents.document_history'::regclass) then
                execute format('grant select on %s to prosync_app', r.name);
            else
                execute format('grant select, insert, update, delete on %s to prosync_app', r.name);
            end if;
            if r.name = 'users.users'::regclass then
                execute 'grant select (id, login, display_name, is_active, last_login_at, password_changed_at,'
                    ' created_at, created_by, updated_at, updated_by, deleted_at, deleted_by) on users.users to prosync_readonly';
            elsif r.name not in ('auth.sessions'::regclass) then
                execute format('grant select on %s to prosync_readonly', r.name);
            end if;
        end loop;
        execute format('grant usage on all sequences in schema %I to prosync_app', s);
    end loop;
    -- The Ops screen shows the schema's revision, and an admin may reset the query statistics
    -- (whose function's signature depends on the server's version of pg_stat_statements).
    if to_regclass('public.alembic_version') is not null then
        grant select on public.alembic_version to prosync_app, prosync_readonly;
    end if;
    -- Under row-level security, only a LEAKPROOF condition may run ahead of the policy, so a
    -- document name search (ILIKE, texticlike) could no longer use its trigram index: 1.7 s
    -- instead of 2 ms over a million documents. texticlike raises errors only about its pattern
    -- (the searcher's own text), never about the row's value, so it leaks nothing the policy
    -- hides. Only a superuser may say so; elsewhere, a warning with the statement to run.
    if not (select proleakproof from pg_proc where oid = 'pg_catalog.texticlike(text, text)'::regprocedure) then
        begin
            alter function pg_catalog.texticlike(text, text) leakproof;
        exception when insufficient_privilege then
            raise warning 'document name search will not use its trigram index under row-level security (%): '
                'a superuser can run `alter function pg_catalog.texticlike(text, text) leakproof` in this database',
                sqlerrm;
        end;
    end if;
    for r in select p.oid::regprocedure as name from pg_proc p where p.proname = 'pg_stat_statements_reset' loop
        begin
            execute format('grant execute on function %s to prosync_app', r.name);
        exception when insufficient_privilege then
            raise warning 'prosync_app may not reset pg_stat_statements (%)', sqlerrm;
        end;
    end loop;
    perform set_config('prosync.ddl_batch', '', true);
    insert into audit.audit_log (actor_id, action, schema_name, table_name, record_id, new_values, context)
    values (system.current_actor(), 'ddl', 'system', 'procedure', 'system.apply_roles()',
            jsonb_build_object('command', 'CALL'),
            jsonb_build_object('statement', 'call system.apply_roles()  -- ownership to prosync_owner; '
                'grants to prosync_app and prosync_readonly'));
end
$$;

alter default privileges for role prosync_owner grant execute on routines to public;
do $$
declare
    s text;
begin
    foreach s in array array['users', 'auth', 'projects', 'documents', 'staging', 'audit', 'system'] loop
        execute format('grant execute on all routines in schema %I to public', s);
    end loop;
end
$$;
drop procedure system.revoke_public_execute();
