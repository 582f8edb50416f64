CREATE OR REPLACE FUNCTION projects.actor_may_grant(p_project bigint, p_role text)
 RETURNS boolean
 LANGUAGE sql
 STABLE SECURITY DEFINER
 SET search_path TO ''
AS $function$
    select exists (
        select from projects.projects p
        join users.users u on u.id = p.owner_id and u.is_active and u.deleted_at is null
        where p.id = p_project and p.owner_id = system.current_actor()
    ) or exists (
        select from projects.project_access a
        join projects.access_role_reference mine on mine.role = a.role and mine.can_manage_access
        join projects.access_role_reference wanted on wanted.role = p_role and wanted.rank <= mine.rank
        join users.users u on u.id = a.user_id and u.is_active and u.deleted_at is null
        where a.user_id = system.current_actor() and a.project_id = p_project
    )
$function$;
comment on function projects.actor_may_grant(bigint,text) is 'Whether the acting user manages the project''s access at a rank no lower than the role';
grant execute on function projects.actor_may_grant(bigint,text) to prosync_app;
