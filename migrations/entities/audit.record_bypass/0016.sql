CREATE OR REPLACE FUNCTION audit.record_bypass(p_purpose text, p_project bigint, p_as_user bigint)
 RETURNS void
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
begin
    if not system.actor_is_ops() then
        raise exception 'Only ops and admins may look past project membership.' using errcode = '42501';
    end if;
    insert into audit.audit_log (actor_id, action, schema_name, table_name, record_id, project_id, context)
    values (system.current_actor(), 'rls_bypass', 'projects', 'projects', p_project::text, p_project,
            pg_catalog.jsonb_build_object('purpose', p_purpose, 'as_user', p_as_user));
end
$function$;
comment on function audit.record_bypass(text,bigint,bigint) is 'An ops or admin user acting past project membership, written to the project''s own audit trail';
grant execute on function audit.record_bypass(text,bigint,bigint) to prosync_app;
