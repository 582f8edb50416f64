CREATE OR REPLACE FUNCTION auth.count_sign_in_attempt(p_keys text[], p_window interval)
 RETURNS TABLE(key text, attempts integer, retry_after_seconds integer)
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
#variable_conflict use_column
begin
    if p_window is null or p_window < interval '1 second' or p_window > interval '1 day'
            or pg_catalog.cardinality(p_keys) not between 1 and 3 then
        raise exception 'A sign-in attempt counts against one to three keys in a window of up to a day.'
            using errcode = 'PS400';
    end if;
    return query
    insert into auth.sign_in_attempts as a (key, attempts, window_started_at)
    select k, 1, pg_catalog.now() from (select distinct unnest(p_keys) as k order by 1) keys
    on conflict on constraint sign_in_attempts_pkey do update
        set attempts = case when a.window_started_at <= pg_catalog.now() - p_window then 1 else a.attempts + 1 end,
            window_started_at = case when a.window_started_at <= pg_catalog.now() - p_window
                                     then pg_catalog.now() else a.window_started_at end
    returning a.key, a.attempts,
        greatest(1, ceil(extract(epoch from a.window_started_at + p_window - pg_catalog.now())))::integer;
end
$function$;
grant execute on function auth.count_sign_in_attempt(text[],interval) to prosync_app;
