CREATE OR REPLACE FUNCTION audit.record_drop()
 RETURNS event_trigger
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
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
$function$;
