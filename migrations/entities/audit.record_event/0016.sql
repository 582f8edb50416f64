CREATE OR REPLACE FUNCTION audit.record_event(p_action text, p_table text, p_record text, p_context jsonb DEFAULT NULL::jsonb)
 RETURNS void
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
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
$function$;
grant execute on function audit.record_event(text,text,text,jsonb) to prosync_app;
