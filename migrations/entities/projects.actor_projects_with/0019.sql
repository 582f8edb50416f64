CREATE OR REPLACE FUNCTION projects.actor_projects_with(VARIADIC permissions text[])
 RETURNS bigint[]
 LANGUAGE sql
 STABLE SECURITY DEFINER
 SET search_path TO ''
AS $function$
    with limits as (select * from auth.token_limits()),
    -- The permissions that count: all of them, or under an API token those its scopes cover.
    wanted as (
        select w.flag from unnest(permissions) w (flag), limits l
        where l.o_scopes is null
           or case w.flag when 'can_view' then 'read' when 'can_upload' then 'upload'
                          when 'can_review' then 'review' end = any (l.o_scopes)
    )
    select coalesce(array_agg(x.project_id), '{}')
    from (
        select a.project_id
        from projects.project_access a
        join projects.access_role_reference r on r.role = a.role
        join users.users u on u.id = a.user_id and u.is_active and u.deleted_at is null
        where a.user_id = system.current_actor()
          and exists (select from wanted w where (to_jsonb(r) ->> w.flag)::boolean)
        union
        select p.id
        from projects.projects p
        join users.users u on u.id = p.owner_id and u.is_active and u.deleted_at is null
        where p.owner_id = system.current_actor() and exists (select from wanted)
    ) x
    cross join limits l
    where l.o_projects is null or x.project_id = any (l.o_projects)
$function$;
comment on function projects.actor_projects_with(text[]) is 'The projects where the acting user''s role grants any of these permissions (can_* flags); under an API token, its projects and the permissions its scopes cover';
grant execute on function projects.actor_projects_with(text[]) to prosync_app;
grant execute on function projects.actor_projects_with(text[]) to prosync_readonly;
