CREATE OR REPLACE FUNCTION system.period_step(p_period text)
 RETURNS interval
 LANGUAGE sql
 IMMUTABLE
 SET search_path TO ''
AS $function$ select case p_period when 'month' then interval '1 month' else interval '3 months' end $function$;
grant execute on function system.period_step(text) to prosync_app;
