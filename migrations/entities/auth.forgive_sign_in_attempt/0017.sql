CREATE OR REPLACE FUNCTION auth.forgive_sign_in_attempt(p_keys text[], p_reset text[] DEFAULT '{}'::text[])
 RETURNS void
 LANGUAGE sql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
    update auth.sign_in_attempts set attempts = greatest(attempts - 1, 0) where key = any (p_keys);
    delete from auth.sign_in_attempts
    where key = any (p_reset) or window_started_at < pg_catalog.now() - interval '1 day';
$function$;
grant execute on function auth.forgive_sign_in_attempt(text[],text[]) to prosync_app;
