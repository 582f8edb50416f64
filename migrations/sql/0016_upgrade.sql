-- 0016: least privilege for every function and every table the limited logins can reach.
--
-- Found, tried as an attacker with psql as each role:
--   * every function in ProSync's schemas was executable by PUBLIC: prosync_readonly could insert
--     audit events and detach every past partition;
--   * system.create_partition built DDL from system.partition_policy.storage_options, a table
--     prosync_app could write, without quoting: SQL of prosync_app's choosing ran as the owner;
--   * prosync_app could write tables no policy guards: the system roles (it made itself admin),
--     the role reference's permission flags, file types, storage, contents (object keys).
--
-- Now:
--   * EXECUTE is revoked from PUBLIC on every routine in ProSync's schemas (here, by default
--     privileges for the owner, and by system.revoke_public_execute(), which every later
--     revision's SQL is followed by in the same transaction: see migrations/helpers.py); each
--     function a limited login calls is granted to that login below, by name;
--   * SECURITY DEFINER functions take identifiers only through regclass or format('%I') and
--     check the acting user's right to do what they do;
--   * reference tables, system roles, the partition policy, contents and the audit log take no
--     writes from prosync_app; the dashboard changes tags and system roles through narrow
--     functions that check the actor is an admin;
--   * users, sessions, contents and upload claims get policies.
-- Refusals by these functions carry SQLSTATE PS403 (not allowed) or PS400 (bad input) and a
-- message for the person; db/_sql.py turns them into PermissionDenied and InvalidInput.

------------------------------------------------------------------------------------------------
-- Routines: nothing for PUBLIC.
------------------------------------------------------------------------------------------------
create procedure system.revoke_public_execute()
language plpgsql
set search_path = ''
as $$
declare
    s text;
begin
    foreach s in array array['users', 'auth', 'projects', 'documents', 'staging', 'audit', 'system'] loop
        execute format('revoke execute on all routines in schema %I from public', s);
    end loop;
end
$$;
comment on procedure system.revoke_public_execute() is
    'EXECUTE on every routine in ProSync''s schemas is granted by name, never to PUBLIC';

call system.revoke_public_execute();
-- Routines the owner role creates later start without PUBLIC's EXECUTE. (The migrating login's
-- own defaults are left alone: extensions it installs, such as pg_stat_statements, need them.)
alter default privileges for role prosync_owner revoke execute on routines from public;

-- Whether the session is the owner's command line: a superuser or member of prosync_owner, and
-- no signed-in user named. (session_user: inside a SECURITY DEFINER function current_user is
-- always the owner.)
create function system.actor_is_owner_login() returns boolean
language sql stable security definer
set search_path = ''
as $$
    select system.current_actor() is null
       and pg_catalog.pg_has_role(session_user, 'prosync_owner', 'USAGE')
$$;

------------------------------------------------------------------------------------------------
-- Partition maintenance: identifiers from the catalog, options checked, asked for by an admin.
------------------------------------------------------------------------------------------------
-- A partition's storage options must read `name=value` with plain words only: they are written
-- into CREATE TABLE … WITH (…), which cannot take them as parameters.
alter table system.partition_policy add constraint partition_policy_storage_options_plain
    check (pg_catalog.array_to_string(storage_options, ',') ~ '^([a-z_]+=[A-Za-z0-9_.]+(,|$))*$');
alter table system.partition_policy add constraint partition_policy_parent_is_table
    check (parent_table in ('audit.audit_log', 'documents.documents'));

create or replace function system.create_partition(p_parent text, p_from timestamptz) returns bigint
language plpgsql
set search_path = ''
as $$
declare
    v_parent regclass := p_parent::regclass;
    v_policy system.partition_policy;
    v_schema text;
    v_table text;
    v_default regclass;
    v_to timestamptz;
    v_name text;
    v_key text;
    v_option text;
    v_with text := '';
    v_moved bigint := 0;
begin
    select * into strict v_policy from system.partition_policy where parent_table = v_parent::text;
    select n.nspname, c.relname, pt.partdefid::regclass into strict v_schema, v_table, v_default
    from pg_catalog.pg_class c
    join pg_catalog.pg_namespace n on n.oid = c.relnamespace
    join pg_catalog.pg_partitioned_table pt on pt.partrelid = c.oid
    where c.oid = v_parent;
    v_to := p_from + system.period_step(v_policy.period);
    v_name := v_table || '_p' || case v_policy.period
        when 'month' then pg_catalog.to_char(p_from at time zone 'UTC', 'YYYY_MM')
        else pg_catalog.to_char(p_from at time zone 'UTC', 'YYYY"q"Q') end;
    if pg_catalog.to_regclass(pg_catalog.format('%I.%I', v_schema, v_name)) is not null then
        return null;
    end if;
    foreach v_option in array v_policy.storage_options loop
        -- Checked again here (the table's constraint could be dropped): name=value, plain words.
        if v_option !~ '^[a-z_]+=[A-Za-z0-9_.]+$' then
            raise exception 'storage option % of % is not name=value', pg_catalog.quote_literal(v_option), v_parent
                using errcode = 'PS400';
        end if;
        v_with := v_with || case when v_with = '' then '' else ', ' end
            || pg_catalog.format('%I = %L', pg_catalog.split_part(v_option, '=', 1), pg_catalog.split_part(v_option, '=', 2));
    end loop;
    if v_with <> '' then
        v_with := ' with (' || v_with || ')';
    end if;
    select a.attname into strict v_key
    from pg_catalog.pg_partitioned_table pt
    join pg_catalog.pg_attribute a on a.attrelid = pt.partrelid and a.attnum = pt.partattrs[0]
    where pt.partrelid = v_parent;

    execute pg_catalog.format('select count(*) from %s where %I >= $1 and %I < $2', v_default, v_key, v_key)
        into v_moved using p_from, v_to;
    if v_moved = 0 then
        execute pg_catalog.format('create table %I.%I partition of %s for values from (%L) to (%L)%s',
                                  v_schema, v_name, v_parent, p_from, v_to, v_with);
    else
        -- Build the partition beside the table, move the stray rows out of DEFAULT, then attach
        -- (ATTACH refuses a range that DEFAULT still holds rows of).
        execute pg_catalog.format('create table %I.%I (like %s including defaults including constraints'
                                  ' including storage including comments)%s',
                                  v_schema, v_name, v_parent, v_with);
        execute pg_catalog.format('with moved as (delete from %s where %I >= $1 and %I < $2 returning *)'
                                  ' insert into %I.%I select * from moved',
                                  v_default, v_key, v_key, v_schema, v_name)
            using p_from, v_to;
        execute pg_catalog.format('alter table %s attach partition %I.%I for values from (%L) to (%L)',
                                  v_parent, v_schema, v_name, p_from, v_to);
    end if;
    return v_moved;
end
$$;

create or replace function system.maintain_partitions(
    p_parent text, p_ahead integer, p_back integer default 0, p_retain integer default null
) returns table (action text, partition_name text, detail text)
language plpgsql
security definer
set search_path = ''
as $$
declare
    v_parent regclass;
    v_policy system.partition_policy;
    v_now timestamptz;
    v_step interval;
    v_from timestamptz;
    v_moved bigint;
    v_default regclass;
    v_default_rows bigint;
    v_part record;
begin
    if not (system.actor_sees_all() or system.actor_is_owner_login()) then
        raise exception 'Only administrators may create or detach partitions.' using errcode = 'PS403';
    end if;
    select p.* into v_policy from system.partition_policy p where p.parent_table = p_parent;
    if v_policy is null then
        raise exception 'Not a partitioned table of ProSync: %.', p_parent using errcode = 'PS400';
    end if;
    v_parent := p_parent::regclass;
    if p_ahead not between 0 and 120 or coalesce(p_back, 0) not between 0 and 120
            or coalesce(p_retain, 1) not between 1 and 1200 then
        raise exception 'Partitions are made 0 to 120 periods ahead and back, and kept for at least one period.'
            using errcode = 'PS400';
    end if;
    v_step := system.period_step(v_policy.period);
    v_now := system.period_start(v_policy.period, pg_catalog.now());
    select pt.partdefid::regclass into strict v_default
    from pg_catalog.pg_partitioned_table pt where pt.partrelid = v_parent;

    execute pg_catalog.format('select count(*) from %s', v_default) into v_default_rows;
    if v_default_rows > 0 then
        action := 'default_rows';
        partition_name := v_default::text;
        detail := v_default_rows || ' row(s) outside every partition';
        return next;
    end if;

    for i in -coalesce(p_back, 0) .. p_ahead loop
        v_from := v_now + v_step * i;
        v_moved := system.create_partition(v_parent::text, v_from);
        if v_moved is not null then
            action := 'created';
            partition_name := v_parent::text || ' ' || pg_catalog.to_char(v_from at time zone 'UTC', 'YYYY-MM-DD');
            detail := case when v_moved > 0 then v_moved || ' row(s) moved in from DEFAULT'
                           else 'empty' end;
            return next;
        end if;
    end loop;

    if p_retain is not null then
        for v_part in
            select i.inhrelid::regclass as name
            from pg_catalog.pg_inherits i
            join pg_catalog.pg_class c on c.oid = i.inhrelid
            where i.inhparent = v_parent and i.inhrelid <> v_default
              and (pg_catalog.regexp_match(pg_catalog.pg_get_expr(c.relpartbound, c.oid), $r$TO \('([^']+)'\)$r$))[1]::timestamptz
                  <= v_now - v_step * p_retain
            order by 1
        loop
            execute pg_catalog.format('alter table %s detach partition %s', v_parent, v_part.name);
            action := 'detached';
            partition_name := v_part.name::text;
            detail := 'older than ' || p_retain || ' ' || v_policy.period || '(s); kept as a table';
            return next;
        end loop;
    end if;
end
$$;

create or replace function system.default_partition_rows(p_parent text) returns bigint
language plpgsql stable security definer
set search_path = ''
as $$
declare
    v_default regclass;
    n bigint;
begin
    if not (system.actor_is_ops() or system.actor_is_owner_login()) then
        raise exception 'Only ops people and administrators may see database health.' using errcode = 'PS403';
    end if;
    select pt.partdefid::regclass into v_default
    from pg_catalog.pg_partitioned_table pt
    join system.partition_policy pp on pp.parent_table = pt.partrelid::regclass::text
    where pp.parent_table = p_parent;
    if v_default is null then
        raise exception 'Not a partitioned table of ProSync: %.', p_parent using errcode = 'PS400';
    end if;
    execute pg_catalog.format('select count(*) from %s', v_default) into n;
    return n;
end
$$;

------------------------------------------------------------------------------------------------
-- Audit events: only the sign-in family, and only by the dashboard.
------------------------------------------------------------------------------------------------
create or replace function audit.record_event(
    p_action text, p_table text, p_record text, p_context jsonb default null
) returns void
language plpgsql
security definer
set search_path = ''
as $$
begin
    if p_action is null or p_action not in ('sign_in', 'sign_in_failed', 'sign_in_throttled', 'sign_in_refused',
                                            'sign_out', 'session_revoked', 'sessions_ended') then
        raise exception 'Not a sign-in event: %.', p_action using errcode = 'PS400';
    end if;
    if p_table is distinct from 'sign_in' or pg_catalog.length(p_record) > 300
            or pg_catalog.length(p_context::text) > 2000 then
        raise exception 'A sign-in event names the sign_in table and a short record.' using errcode = 'PS400';
    end if;
    insert into audit.audit_log (actor_id, action, schema_name, table_name, record_id, context)
    values (system.current_actor(), p_action, 'auth', p_table, p_record, p_context);
end
$$;

------------------------------------------------------------------------------------------------
-- Tags: the shared catalogue is curated by administrators (modeling-notes.md).
------------------------------------------------------------------------------------------------
create function projects.create_tag(p_name text, p_category text, p_description text, p_color text)
returns bigint
language plpgsql
security definer
set search_path = ''
as $$
declare
    v_id bigint;
begin
    if not (system.actor_sees_all() or system.actor_is_owner_login()) then
        raise exception 'Only administrators curate the tag catalogue; ask one to add this tag.'
            using errcode = 'PS403';
    end if;
    insert into projects.tag_reference (name, category, description, color)
    values (p_name, p_category, p_description, p_color)
    returning id into v_id;
    return v_id;
end
$$;

create function projects.update_tag(p_id bigint, p_name text, p_category text, p_description text, p_color text)
returns boolean
language plpgsql
security definer
set search_path = ''
as $$
begin
    if not (system.actor_sees_all() or system.actor_is_owner_login()) then
        raise exception 'Only administrators curate the tag catalogue; ask one to change this tag.'
            using errcode = 'PS403';
    end if;
    update projects.tag_reference
    set name = coalesce(p_name, name),
        category = coalesce(p_category, category),
        description = coalesce(p_description, description),
        color = coalesce(p_color, color)
    where id = p_id;
    return found;
end
$$;

------------------------------------------------------------------------------------------------
-- System roles: granted and taken by administrators only; the user's sessions end with the change.
------------------------------------------------------------------------------------------------
create procedure users.set_system_role(p_user bigint, p_role text, p_granted boolean, p_keep_session uuid default null)
language plpgsql
security definer
set search_path = ''
as $$
declare
    v_changed integer;
begin
    if not (system.actor_sees_all() or system.actor_is_owner_login()) then
        raise exception 'Only administrators may grant or remove system roles.' using errcode = 'PS403';
    end if;
    if p_granted then
        insert into users.user_system_role (user_id, role) values (p_user, p_role) on conflict do nothing;
    else
        delete from users.user_system_role where user_id = p_user and role = p_role;
    end if;
    get diagnostics v_changed = row_count;
    if v_changed > 0 then
        update auth.sessions
        set revoked_at = pg_catalog.now(), revoked_by = system.current_actor(),
            revoke_reason = 'system role changed'
        where user_id = p_user and revoked_at is null and id is distinct from p_keep_session;
    end if;
end
$$;
comment on procedure users.set_system_role(bigint, text, boolean, uuid) is
    'Grant (p_granted) or remove a system role, as an administrator; ends the user''s other sessions';

------------------------------------------------------------------------------------------------
-- Users: a member changes only their own name, password and last sign-in; the rest is an admin's.
------------------------------------------------------------------------------------------------
create function users.guard_user_change() returns trigger
language plpgsql
set search_path = ''
as $$
begin
    -- Like row-level security: the owner's own logins (the command line, migrations) pass.
    if system.actor_sees_all() or pg_catalog.pg_has_role(current_user, 'prosync_owner', 'USAGE') then
        return new;
    end if;
    if (new.id, new.login, new.is_active, new.deleted_at, new.deleted_by, new.created_at, new.created_by)
            is distinct from
       (old.id, old.login, old.is_active, old.deleted_at, old.deleted_by, old.created_at, old.created_by) then
        raise exception 'Only an administrator may change an account''s e-mail address or state.'
            using errcode = 'PS403';
    end if;
    return new;
end
$$;
create trigger guard_user_change before update on users.users
    for each row execute function users.guard_user_change();

create policy everyone_reads on users.users for select using (true);
create policy admin_creates on users.users for insert
    with check ((select system.actor_sees_all()));
create policy self_or_admin on users.users for update
    using ((select system.actor_sees_all()) or id = (select system.current_actor()))
    with check ((select system.actor_sees_all()) or id = (select system.current_actor()));
alter table users.users enable row level security;

------------------------------------------------------------------------------------------------
-- Sessions: opened for the acting user only; ended by their owner or an admin.
------------------------------------------------------------------------------------------------
create policy resolvable on auth.sessions for select using (true);  -- by token hash, before anyone is named
create policy own_session on auth.sessions for insert
    with check (user_id = (select system.current_actor()));
create policy own_or_admin on auth.sessions for update
    using ((select system.actor_sees_all()) or user_id = (select system.current_actor()))
    with check ((select system.actor_sees_all()) or user_id = (select system.current_actor()));
alter table auth.sessions enable row level security;

------------------------------------------------------------------------------------------------
-- Contents: a member sees the contents their projects' documents and staged files use; rows are
-- written only through these two functions (object keys are content-addressed).
------------------------------------------------------------------------------------------------
-- The policy asks, per content row, whether a document or staged file of one's projects uses it:
-- one index probe each by checksum (the registry's own index leads with the project, which made
-- the probe a skip scan over every project: 103 ms instead of 3 for the review queue at 100k).
create index documents_ingest_checksum_idx on staging.documents_ingest (checksum, project_id);
create index document_registry_checksum_idx on documents.document_registry (checksum, project_id);

create policy used_by_my_projects on documents.contents for select
    using (
        (select system.actor_sees_all())
        or created_by = (select system.current_actor())
        or exists (select from documents.document_registry r where r.checksum = contents.checksum)
        or exists (select from staging.documents_ingest i where i.checksum = contents.checksum)
    );
alter table documents.contents enable row level security;

-- Where each of these contents is stored, recording the new ones: for a user who may upload to
-- some project (or an admin importing). A member may only record the content-addressed key;
-- an admin importing from an earlier system may name another.
create function documents.store_contents(
    p_checksums text[], p_sizes bigint[], p_storage text[], p_keys text[]
) returns table (checksum text, size_bytes bigint, storage_code text, object_key text)
language plpgsql
security definer
set search_path = ''
as $$
#variable_conflict use_column
begin
    if not (system.actor_sees_all() or system.actor_is_owner_login()
            or pg_catalog.cardinality(projects.actor_projects_with('can_upload')) > 0) then
        raise exception 'Your role does not allow uploads.' using errcode = 'PS403';
    end if;
    if not (system.actor_sees_all() or system.actor_is_owner_login()) and exists (
        select from unnest(p_checksums, p_keys) k (c, key)
        where k.key is distinct from 'sha256/' || pg_catalog.substr(k.c, 1, 2) || '/' || pg_catalog.substr(k.c, 3, 2) || '/' || k.c
    ) then
        raise exception 'An object key must be the content''s own (sha256/…).' using errcode = 'PS400';
    end if;
    insert into documents.contents as t (checksum, size_bytes, storage_code, object_key)
    select * from unnest(p_checksums, p_sizes, p_storage, p_keys)
    on conflict on constraint contents_pkey do nothing;
    return query
    select c.checksum, c.size_bytes, c.storage_code, c.object_key
    from documents.contents c where c.checksum = any (p_checksums);
end
$$;

-- Where each of these contents is stored, for a user who may upload (an upload of bytes already
-- stored, in any project, reuses their object instead of storing it again).
create function documents.stored_contents(p_checksums text[])
returns table (checksum text, storage_code text, object_key text)
language plpgsql stable
security definer
set search_path = ''
as $$
#variable_conflict use_column
begin
    if not (system.actor_sees_all() or system.actor_is_owner_login()
            or pg_catalog.cardinality(projects.actor_projects_with('can_upload')) > 0) then
        raise exception 'Your role does not allow uploads.' using errcode = 'PS403';
    end if;
    return query
    select c.checksum, c.storage_code, c.object_key from documents.contents c where c.checksum = any (p_checksums);
end
$$;

-- Forget a content that nothing refers to any more (a purged rejected file): true when the row
-- was removed and no upload in flight claims it, so its object may be deleted too. Harmless for
-- anyone to ask: a content still in use, anywhere, is never touched, and the answer is the same
-- "kept" whether another project uses it or an upload claims it.
create function documents.release_content(p_checksum text) returns boolean
language plpgsql
security definer
set search_path = ''
as $$
begin
    if exists (select from documents.document_registry where checksum = p_checksum)
            or exists (select from staging.documents_ingest where checksum = p_checksum) then
        return false;
    end if;
    delete from documents.contents where checksum = p_checksum;
    return not exists (select from staging.upload_claims where checksum = p_checksum);
end
$$;

drop function documents.content_in_use(text);

------------------------------------------------------------------------------------------------
-- Upload claims: each user sees and drops their own; whether a content is claimed at all is one
-- answer, not rows.
------------------------------------------------------------------------------------------------
create policy own_claims on staging.upload_claims
    using ((select system.actor_sees_all()) or claimed_by = (select system.current_actor()))
    with check ((select system.actor_sees_all()) or claimed_by = (select system.current_actor()));
alter table staging.upload_claims enable row level security;

create function staging.claimed_checksums(p_checksums text[]) returns setof text
language sql stable security definer
set search_path = ''
as $$
    select distinct c.checksum from staging.upload_claims c where c.checksum = any (p_checksums)
$$;

------------------------------------------------------------------------------------------------
-- Table privileges: prosync_app writes only the tables named here, each guarded by policies;
-- every other table (a reference table, the audit log, one added later) it only reads.
------------------------------------------------------------------------------------------------
create or replace procedure system.apply_roles()
language plpgsql
as $$
declare
    s text;
    r record;
    schemas text[] := array['users', 'auth', 'projects', 'documents', 'staging', 'audit', 'system'];
    -- table -> what prosync_app may do besides SELECT; each of these has row-level security.
    app_writes constant jsonb := '{
        "users.users": "insert, update",
        "auth.sessions": "insert, update",
        "projects.projects": "insert, update, delete",
        "projects.project_access": "insert, update, delete",
        "projects.project_tag": "insert, update, delete",
        "documents.documents": "insert, update, delete",
        "documents.document_registry": "insert, update, delete",
        "staging.documents_ingest": "insert, update, delete",
        "staging.upload_claims": "insert, delete"
    }';
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
    call system.revoke_public_execute();

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
            end if;
            execute format('grant select on %s to prosync_app', r.name);
            if app_writes ? r.name::text then
                execute format('grant %s on %s to prosync_app', app_writes ->> r.name::text, r.name);
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

------------------------------------------------------------------------------------------------
-- EXECUTE, by name. The row-level security helpers are called by the policies as the querying
-- role, so both limited logins need them; everything else only the dashboard's login.
------------------------------------------------------------------------------------------------
grant execute on function
    system.current_actor(), system.actor_sees_all(), system.actor_is_ops(),
    projects.actor_projects(), projects.actor_projects_with(text[])
    to prosync_app, prosync_readonly;
grant execute on function
    system.actor_is_owner_login(),
    projects.actor_may_grant(bigint, text), projects.actor_role(bigint, bigint),
    projects.refresh_totals(double precision),
    projects.create_tag(text, text, text, text), projects.update_tag(bigint, text, text, text, text),
    system.period_start(text, timestamptz), system.period_step(text),
    system.maintain_partitions(text, integer, integer, integer), system.default_partition_rows(text),
    system.explain_sample(bigint, bigint[]),
    audit.record_bypass(text, bigint, bigint), audit.record_event(text, text, text, jsonb),
    audit.recent_sign_in_failures(text, interval),
    documents.store_contents(text[], bigint[], text[], text[]), documents.stored_contents(text[]),
    documents.release_content(text),
    staging.claimed_checksums(text[])
    to prosync_app;
grant execute on procedure users.set_system_role(bigint, text, boolean, uuid) to prosync_app;
