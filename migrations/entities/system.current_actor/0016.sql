CREATE OR REPLACE FUNCTION system.current_actor()
 RETURNS bigint
 LANGUAGE sql
 STABLE
 SET search_path TO ''
AS $function$ select nullif(pg_catalog.current_setting('prosync.actor_id', true), '')::bigint $function$;
grant execute on function system.current_actor() to prosync_app;
grant execute on function system.current_actor() to prosync_readonly;
