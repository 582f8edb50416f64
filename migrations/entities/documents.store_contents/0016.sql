CREATE OR REPLACE FUNCTION documents.store_contents(p_checksums text[], p_sizes bigint[], p_storage text[], p_keys text[])
 RETURNS TABLE(checksum text, size_bytes bigint, storage_code text, object_key text)
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
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
$function$;
grant execute on function documents.store_contents(text[],bigint[],text[],text[]) to prosync_app;
