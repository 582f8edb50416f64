CREATE OR REPLACE FUNCTION documents.stored_contents(p_checksums text[])
 RETURNS TABLE(checksum text, storage_code text, object_key text)
 LANGUAGE plpgsql
 STABLE SECURITY DEFINER
 SET search_path TO ''
AS $function$
#variable_conflict use_column
begin
    if not (system.actor_sees_all() or system.actor_is_owner_login()
            or pg_catalog.cardinality(projects.actor_projects_with('can_upload')) > 0) then
        raise exception 'Your role does not allow uploads.' using errcode = 'PS403';
    end if;
    return query
    select c.checksum, c.storage_code, c.object_key from documents.contents c where c.checksum = any (p_checksums);
end
$function$;
grant execute on function documents.stored_contents(text[]) to prosync_app;
