CREATE OR REPLACE FUNCTION projects.refresh_totals(p_older_than_seconds double precision)
 RETURNS boolean
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
begin
    if (select extract(epoch from now() - max(refreshed_at)) from projects.project_totals)
            < p_older_than_seconds then
        return false;
    end if;
    refresh materialized view concurrently projects.project_totals;
    return true;
end
$function$;
grant execute on function projects.refresh_totals(double precision) to prosync_app;
