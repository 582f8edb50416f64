CREATE OR REPLACE FUNCTION system.actor_sees_all()
 RETURNS boolean
 LANGUAGE sql
 STABLE SECURITY DEFINER
 SET search_path TO ''
AS $function$
    select exists (
        select from users.user_system_role r
        join users.users u on u.id = r.user_id and u.is_active and u.deleted_at is null
        where r.user_id = system.current_actor() and r.role = 'admin'
    )
    -- an API token never carries its user's system roles: it acts as a member of its projects
    and nullif(pg_catalog.current_setting('prosync.token_id', true), '') is null
$function$;
comment on function system.actor_sees_all() is 'The admin bypass of row-level security: true when the acting user is an active admin (never through an API token)';
grant execute on function system.actor_sees_all() to prosync_app;
grant execute on function system.actor_sees_all() to prosync_readonly;
