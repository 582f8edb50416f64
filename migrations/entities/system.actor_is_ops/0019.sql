CREATE OR REPLACE FUNCTION system.actor_is_ops()
 RETURNS boolean
 LANGUAGE sql
 STABLE SECURITY DEFINER
 SET search_path TO ''
AS $function$
    select exists (
        select from users.user_system_role r
        join users.users u on u.id = r.user_id and u.is_active and u.deleted_at is null
        where r.user_id = system.current_actor() and r.role in ('admin', 'ops')
    )
    -- an API token never carries its user's system roles
    and nullif(pg_catalog.current_setting('prosync.token_id', true), '') is null
$function$;
comment on function system.actor_is_ops() is 'The ops bypass for audit rows that name no project (sign-ins, users, schema changes); never through an API token';
grant execute on function system.actor_is_ops() to prosync_app;
grant execute on function system.actor_is_ops() to prosync_readonly;
