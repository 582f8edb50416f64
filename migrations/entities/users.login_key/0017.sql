CREATE OR REPLACE FUNCTION users.login_key(p_login text)
 RETURNS text
 LANGUAGE sql
 IMMUTABLE PARALLEL SAFE STRICT
 SET search_path TO ''
AS $function$
    select normalize(pg_catalog.lower(normalize(pg_catalog.btrim(p_login), nfkc)), nfkc)
$function$;
comment on function users.login_key(text) is 'The one canonical form of an e-mail address, for lookup, uniqueness and sign-in throttling';
grant execute on function users.login_key(text) to prosync_app;
