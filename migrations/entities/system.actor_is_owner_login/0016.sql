CREATE OR REPLACE FUNCTION system.actor_is_owner_login()
 RETURNS boolean
 LANGUAGE sql
 STABLE SECURITY DEFINER
 SET search_path TO ''
AS $function$
    select system.current_actor() is null
       and pg_catalog.pg_has_role(session_user, 'prosync_owner', 'USAGE')
$function$;
grant execute on function system.actor_is_owner_login() to prosync_app;
