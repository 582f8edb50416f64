CREATE OR REPLACE FUNCTION projects.actor_role(p_actor bigint, p_project bigint)
 RETURNS SETOF projects.access_role_reference
 LANGUAGE plpgsql
 STABLE
 SET search_path TO ''
AS $function$
begin
    return query
    select r.*
    from projects.project_access a
    join projects.access_role_reference r on r.role = a.role
    join projects.projects p on p.id = a.project_id and p.deleted_at is null
    join users.users u on u.id = a.user_id and u.is_active and u.deleted_at is null
    where a.user_id = p_actor and a.project_id = p_project;
end
$function$;
grant execute on function projects.actor_role(bigint,bigint) to prosync_app;
