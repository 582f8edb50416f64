CREATE OR REPLACE FUNCTION projects.actor_projects()
 RETURNS bigint[]
 LANGUAGE sql
 STABLE SECURITY DEFINER
 SET search_path TO ''
AS $function$
    select coalesce(array_agg(x.project_id), '{}')
    from (
        select a.project_id
        from projects.project_access a
        join users.users u on u.id = a.user_id and u.is_active and u.deleted_at is null
        where a.user_id = system.current_actor()
        union
        -- A project its creator has just inserted, before the owner's membership row exists.
        select p.id from projects.projects p where p.owner_id = system.current_actor()
    ) x
    cross join auth.token_limits() l
    -- an API token acting: only its projects
    where l.o_projects is null or x.project_id = any (l.o_projects)
$function$;
comment on function projects.actor_projects() is 'The projects whose rows the acting user may see and change: where they are an active member (an API token: of its projects)';
grant execute on function projects.actor_projects() to prosync_app;
grant execute on function projects.actor_projects() to prosync_readonly;
