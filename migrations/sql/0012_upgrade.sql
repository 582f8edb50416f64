-- 0012: every schema change (who, what, when) in the audit log, through event triggers on
-- ddl_command_end and sql_drop. One audit row per object: action 'ddl', schema_name the object's
-- schema, table_name its kind (table, index, function, …), record_id its qualified name,
-- new_values the command tag, context the statement (passwords blanked). Temporary objects, the
-- objects a DROP took with it (its indexes, constraints, …) and REFRESH MATERIALIZED VIEW (new data
-- in an unchanged schema, every minute) are left out.

create function audit.statement_text() returns text
language sql
stable
set search_path = ''
as $$
    -- The statement that made the change, at most 2,000 characters, with any quoted password
    -- (CREATE USER MAPPING … OPTIONS (password '…')) blanked: the audit log holds no secrets.
    select pg_catalog.left(
        pg_catalog.regexp_replace(pg_catalog.current_query(), '(password\s*)''(''''|[^''])*''', '\1''…''', 'gi'),
        2000)
$$;

create function audit.record_ddl() returns event_trigger
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

create function audit.record_drop() returns event_trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
    r record;
begin
    if pg_catalog.to_regclass('audit.audit_log') is null then
        return;
    end if;
    for r in select * from pg_catalog.pg_event_trigger_dropped_objects() loop
        continue when not r.original or r.is_temporary;
        insert into audit.audit_log (actor_id, action, schema_name, table_name, record_id, old_values, context)
        values (system.current_actor(), 'ddl', coalesce(r.schema_name, ''), r.object_type, r.object_identity,
                pg_catalog.jsonb_build_object('command', tg_tag),
                pg_catalog.jsonb_build_object('statement', audit.statement_text()));
    end loop;
end
$$;

-- Event triggers need a superuser (or a managed service's equivalent). Where the server refuses,
-- the upgrade says so (`prosync db upgrade` prints the warning) and carries on without them.
do $$
begin
    create event trigger prosync_ddl_end on ddl_command_end execute function audit.record_ddl();
    create event trigger prosync_sql_drop on sql_drop execute function audit.record_drop();
exception when insufficient_privilege then
    raise warning 'schema changes will not be recorded in the audit log: this server refused event triggers to % (%); a superuser can run migrations/sql/0012_upgrade.sql''s two CREATE EVENT TRIGGER statements later', current_user, sqlerrm;
end
$$;

-- The ops screen's Schema tab lists the newest schema changes: a small partial index finds them
-- among millions of audit rows.
create index audit_log_ddl_idx on audit.audit_log ("timestamp" desc) where action = 'ddl';
