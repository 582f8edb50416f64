-- 0013: least-privilege database roles and row-level security on every project-scoped table.
--
-- prosync_owner     owns the schemas and everything in them; `prosync db upgrade` acts as it (the
--                   login that migrates is a superuser, or a member of prosync_owner).
-- prosync_app       what the running dashboard connects as: SELECT/INSERT/UPDATE/DELETE where the
--                   screens need it; no DDL, no TRUNCATE, no INSERT/UPDATE/DELETE on the audit
--                   log (its rows come from the owner's SECURITY DEFINER triggers).
-- prosync_readonly  dashboards and replicas: SELECT only; no sessions, no password hashes.
--
-- Roles belong to the server, not the database: made once, shared by every ProSync database on
-- it. prosync_app and prosync_readonly may log in; they have no password until an operator gives
-- them one (the embedded server lets local connections in without one).
do $$
declare
    wanted constant text[] := array['prosync_owner nologin', 'prosync_app login', 'prosync_readonly login'];
    r text;
begin
    foreach r in array wanted loop
        continue when exists (select from pg_roles where rolname = split_part(r, ' ', 1));
        begin
            execute 'create role ' || r;
        exception
            when duplicate_object then null;  -- another database on this server made it just now
            when insufficient_privilege then
                raise exception 'ProSync''s database roles do not exist and % may not create them', current_user
                    using hint = 'As a superuser: create role prosync_owner nologin; create role prosync_app login; '
                        'create role prosync_readonly login; grant prosync_owner to ' || quote_ident(current_user)
                        || '; then run `prosync db upgrade` again.';
        end;
    end loop;
end
$$;

-- A migrating login that is not a superuser hands its objects to prosync_owner, so it must be one
-- of its members, and prosync_owner must be allowed to own schemas in this database.
do $$
begin
    if (select rolsuper from pg_roles where rolname = current_user) then
        return;
    end if;
    if not pg_has_role(current_user, 'prosync_owner', 'MEMBER') then
        begin
            execute format('grant prosync_owner to %I', current_user);
        exception when insufficient_privilege then
            raise exception '% is not a member of prosync_owner, which owns ProSync''s schemas', current_user
                using hint = format('As a superuser: grant prosync_owner to %I; then run `prosync db upgrade` again.',
                                    current_user);
        end;
    end if;
    execute format('grant create on database %I to prosync_owner', current_database());
end
$$;

-- The audit log says which login wrote (prosync_app, or the operator's own at the command line):
-- inside the SECURITY DEFINER capture, current_user is always the owner.
alter table audit.audit_log alter column db_user set default session_user;

-- Who is acting, as PostgreSQL sees it. SECURITY DEFINER (run as the owner, who is not subject to
-- the policies) so that reading project_access here does not call project_access's own policy.
-- Each is called once per statement, as an InitPlan: `(select f())` in the policies below.
create function system.actor_sees_all() returns boolean
language sql stable security definer
set search_path = ''
as $$
    select exists (
        select from users.user_system_role r
        join users.users u on u.id = r.user_id and u.is_active and u.deleted_at is null
        where r.user_id = system.current_actor() and r.role = 'admin'
    )
$$;
comment on function system.actor_sees_all() is
    'The admin bypass of row-level security: true when the acting user is an active admin';

create function system.actor_is_ops() returns boolean
language sql stable security definer
set search_path = ''
as $$
    select exists (
        select from users.user_system_role r
        join users.users u on u.id = r.user_id and u.is_active and u.deleted_at is null
        where r.user_id = system.current_actor() and r.role in ('admin', 'ops')
    )
$$;
comment on function system.actor_is_ops() is
    'The ops bypass for audit rows that name no project (sign-ins, users, schema changes)';

create function projects.actor_projects() returns bigint[]
language sql stable security definer
set search_path = ''
as $$
    select coalesce(array_agg(x.project_id), '{}')
    from (
        select a.project_id
        from projects.project_access a
        join users.users u on u.id = a.user_id and u.is_active and u.deleted_at is null
        where a.user_id = system.current_actor()
        union
        -- A project its creator has just inserted, before the owner's membership row exists.
        select p.id from projects.projects p where p.owner_id = system.current_actor()
    ) x
$$;
comment on function projects.actor_projects() is
    'The projects whose rows the acting user may see and change: where they are an active member';

-- The policies. One per table, for every command: a project's rows are seen and written only by
-- its members and by admins. Which member may do what (a viewer does not upload) stays with the
-- data-access layer's permission check; the database holds the line between projects.
-- A project's owner is always a member; naming the owner here too lets `insert … returning` see
-- the row it has just made (the list of projects was taken when the statement began).
create policy member_rows on projects.projects
    using (
        (select system.actor_sees_all()) or id = any ((select projects.actor_projects())::bigint[])
        or owner_id = (select system.current_actor())
    );

do $$
declare
    t text;
begin
    foreach t in array array[
        'projects.project_access', 'projects.project_tag', 'projects.project_history',
        'documents.documents', 'documents.document_history', 'documents.document_registry',
        'staging.documents_ingest'
    ] loop
        execute format(
            'create policy member_rows on %s'
            ' using ((select system.actor_sees_all()) or project_id = any ((select projects.actor_projects())::bigint[]))',
            t
        );
    end loop;
end
$$;

-- Audit rows: those naming a project follow the project; the rest (users, sign-ins, reference
-- data, schema changes) are for admins and ops, and for the user who acted.
create policy member_rows on audit.audit_log for select
    using (
        (select system.actor_sees_all())
        or (project_id is not null and project_id = any ((select projects.actor_projects())::bigint[]))
        or (project_id is null and ((select system.actor_is_ops()) or actor_id = (select system.current_actor())))
    );

do $$
declare
    t text;
begin
    foreach t in array array[
        'projects.projects', 'projects.project_access', 'projects.project_tag', 'projects.project_history',
        'documents.documents', 'documents.document_history', 'documents.document_registry',
        'staging.documents_ingest', 'audit.audit_log'
    ] loop
        execute format('alter table %s enable row level security', t);
    end loop;
end
$$;

-- The project totals are a materialized view, which cannot carry a policy: readers go through
-- this view instead, which applies the same rule. It runs as its owner (not security_invoker) so
-- that no one needs a grant on the materialized view itself; security_barrier keeps a caller's
-- own conditions from running before the rule.
create view projects.visible_project_totals with (security_barrier) as
select t.*
from projects.project_totals t
where (select system.actor_sees_all()) or t.project_id = any ((select projects.actor_projects())::bigint[])
   -- the owner's command line, as row-level security lets it through the tables
   or (select pg_catalog.pg_has_role(current_user, 'prosync_owner', 'USAGE'));

create or replace view projects.onboarding_project_summary as
select p.id as project_id,
       p.name as project_name,
       p.description,
       p.owner_id,
       o.login as owner_login,
       o.display_name as owner_name,
       p.created_at,
       coalesce(t.tags, '{}') as tags,
       coalesce(t.tag_categories, '{}') as tag_categories,
       coalesce(d.document_count, 0) as document_count,
       coalesce(d.total_bytes, 0) as total_bytes,
       coalesce(m.participant_count, 0) as participant_count,
       coalesce(m.participants_by_role, '{}') as participants_by_role,
       coalesce(s.pending_files, 0) as pending_files,
       greatest(p.updated_at, d.last_upload_at, s.last_staged_at, d.last_audit_at) as last_activity_at,
       d.refreshed_at as totals_refreshed_at  -- document_count, total_bytes: as of this time
from projects.projects p
left join users.users o on o.id = p.owner_id
left join lateral (
    select array_agg(tr.name order by tr.category, tr.name) as tags,
           array_agg(distinct tr.category) as tag_categories
    from projects.project_tag pt
    join projects.tag_reference tr on tr.id = pt.tag_id
    where pt.project_id = p.id
) t on true
left join projects.visible_project_totals d on d.project_id = p.id
left join lateral (
    select sum(r.n)::bigint as participant_count, jsonb_object_agg(r.role, r.n) as participants_by_role
    from (select a.role, count(*) as n
          from projects.project_access a
          join users.users u on u.id = a.user_id and u.deleted_at is null
          where a.project_id = p.id
          group by a.role) r
) m on true
left join lateral (
    select count(*) filter (where i.status = 'pending') as pending_files,
           max(i.uploaded_at) as last_staged_at
    from staging.documents_ingest i
    where i.project_id = p.id
) s on true
where p.deleted_at is null;

-- Every other view runs with the caller's rights, so the policies apply through it.
alter view projects.onboarding_project_summary set (security_invoker = true);
alter view documents.active_documents set (security_invoker = true);
alter view audit.audit_trail_by_project set (security_invoker = true);
alter view staging.pending_documents set (security_invoker = true);
alter view staging.rejected_documents set (security_invoker = true);
alter view system.partitions set (security_invoker = true);

-- The recount of the totals, for the dashboard's background thread (which runs as prosync_app):
-- only the owner of a materialized view may refresh it. False when the totals are fresher than
-- p_older_than_seconds.
create function projects.refresh_totals(p_older_than_seconds double precision) returns boolean
language plpgsql security definer
set search_path = ''
as $$
begin
    if (select extract(epoch from now() - max(refreshed_at)) from projects.project_totals)
            < p_older_than_seconds then
        return false;
    end if;
    refresh materialized view concurrently projects.project_totals;
    return true;
end
$$;

-- Partition upkeep creates and detaches tables: the owner's work, asked for by an admin.
alter function system.maintain_partitions(text, integer, integer, integer) security definer;
alter function system.maintain_partitions(text, integer, integer, integer) set search_path = '';

-- The Ops health check counts rows left in each DEFAULT partition (rows no period partition
-- took): a count across every project, which only the owner may make; no row content leaves.
create function system.default_partition_rows(p_parent text) returns bigint
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

-- The ops bypass: the Explain tab runs the screens' queries as a project's top member, which
-- needs a project that the ops user, not a member, cannot see. This picks it (the busiest live
-- project with an active member) for ops and admins only, and for the owner's command line; the
-- page records each use with audit.record_bypass before it runs anything as the member.
create function system.explain_sample(p_project bigint, p_ranked bigint[])
returns table (project_id bigint, project_name text, documents bigint, user_id bigint, login text,
               document_name text)
language plpgsql stable security definer
set search_path = ''
as $$
#variable_conflict use_column
begin
    if not (system.actor_is_ops() or pg_catalog.pg_has_role(session_user, 'prosync_owner', 'USAGE')) then
        raise exception 'Only ops and admins may run the screens'' queries as a member.'
            using errcode = '42501';
    end if;
    if p_project is null and coalesce(pg_catalog.cardinality(p_ranked), 0) = 0 then
        select pg_catalog.array_agg(x.project_id) into p_ranked
        from (select r.project_id from documents.document_registry r
              group by r.project_id order by pg_catalog.count(*) desc, r.project_id limit 100) x;
    end if;
    return query
    select p.id, p.name,
           (select pg_catalog.count(*) from documents.documents d
            where d.project_id = p.id and d.deleted_at is null),
           m.id, m.login,
           (select d.name from documents.documents d where d.project_id = p.id and d.deleted_at is null
            order by d.uploaded_at desc, d.id desc limit 1)
    from projects.projects p
    cross join lateral (
        select u.id, u.login
        from projects.project_access a
        join projects.access_role_reference r on r.role = a.role
        join users.users u on u.id = a.user_id and u.is_active and u.deleted_at is null
        where a.project_id = p.id
        order by r.rank desc, u.id
        limit 1
    ) m
    where p.deleted_at is null and (p_project is null or p.id = p_project)
    order by pg_catalog.array_position(p_ranked, p.id) nulls last, p.id
    limit 1;
end
$$;

create function audit.record_bypass(p_purpose text, p_project bigint, p_as_user bigint) returns void
language plpgsql security definer
set search_path = ''
as $$
begin
    if not system.actor_is_ops() then
        raise exception 'Only ops and admins may look past project membership.' using errcode = '42501';
    end if;
    insert into audit.audit_log (actor_id, action, schema_name, table_name, record_id, project_id, context)
    values (system.current_actor(), 'rls_bypass', 'projects', 'projects', p_project::text, p_project,
            pg_catalog.jsonb_build_object('purpose', p_purpose, 'as_user', p_as_user));
end
$$;
comment on function audit.record_bypass(text, bigint, bigint) is
    'An ops or admin user acting past project membership, written to the project''s own audit trail';

-- The DDL audit (0012) stays quiet inside system.apply_roles, which writes one row for its batch
-- of ownership changes and grants instead of a row for each of its hundreds of statements.
create or replace function audit.record_ddl() returns event_trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
    r record;
begin
    if pg_catalog.to_regclass('audit.audit_log') is null then
        return;  -- the audit log itself is being built or taken down
    end if;
    if pg_catalog.current_setting('prosync.ddl_batch', true) <> '' then
        return;  -- system.apply_roles: one row for the whole batch, written by the procedure
    end if;
    for r in select * from pg_catalog.pg_event_trigger_ddl_commands() loop
        continue when r.schema_name like 'pg\_temp%' or r.in_extension
            or r.command_tag = 'REFRESH MATERIALIZED VIEW';  -- new data, not a change of schema
        insert into audit.audit_log (actor_id, action, schema_name, table_name, record_id, new_values, context)
        values (system.current_actor(), 'ddl', coalesce(r.schema_name, ''), r.object_type, r.object_identity,
                pg_catalog.jsonb_build_object('command', r.command_tag),
                pg_catalog.jsonb_build_object('statement', audit.statement_text()));
    end loop;
end
$$;

-- Ownership and privileges, as one procedure that every later migration's run ends with (see
-- migrations/env.py), so that a table added later gets its grants without anyone remembering.
create procedure system.apply_roles()
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

call system.apply_roles();

-- The Ops screen reads every session's statistics and settings. Where the server refuses (a
-- managed server's migrating login may not hand this out), say so and carry on: the Queries tab
-- then shows only the application's own statements.
do $$
begin
    grant pg_monitor to prosync_app, prosync_readonly;
exception when insufficient_privilege then
    raise warning 'prosync_app could not be given pg_monitor (%): the Ops screen sees only its own statements and settings', sqlerrm;
end
$$;
