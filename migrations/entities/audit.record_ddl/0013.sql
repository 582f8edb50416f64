CREATE OR REPLACE FUNCTION audit.record_ddl()
 RETURNS event_trigger
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
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
$function$;
