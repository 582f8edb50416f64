CREATE OR REPLACE FUNCTION staging.claimed_checksums(p_checksums text[])
 RETURNS SETOF text
 LANGUAGE sql
 STABLE SECURITY DEFINER
 SET search_path TO ''
AS $function$
    select distinct c.checksum from staging.upload_claims c where c.checksum = any (p_checksums)
$function$;
grant execute on function staging.claimed_checksums(text[]) to prosync_app;
