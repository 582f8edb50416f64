CREATE OR REPLACE FUNCTION system.period_start(p_period text, p_at timestamp with time zone)
 RETURNS timestamp with time zone
 LANGUAGE sql
 IMMUTABLE
 SET search_path TO ''
AS $function$ select pg_catalog.date_trunc(p_period, p_at at time zone 'UTC') at time zone 'UTC' $function$;
grant execute on function system.period_start(text,timestamp with time zone) to prosync_app;
