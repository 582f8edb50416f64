CREATE OR REPLACE PROCEDURE system.apply_roles()
 LANGUAGE plpgsql
AS $procedure$
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
        "staging.upload_claims": "insert, delete",
        "auth.api_tokens": "insert, update",
        "auth.api_token_projects": "insert",
        "auth.api_idempotency": "insert, update, delete",
        "documents.document_text": "insert, update, delete",
        "documents.text_queue": "insert, delete"
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
            elsif r.name not in ('auth.sessions'::regclass, 'auth.api_tokens'::regclass,
                                'auth.api_idempotency'::regclass) then
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
$procedure$;
