-- 0010: the permission check as a function. (It was first written into 0008 after 0008 had been
-- applied to databases, which then never got it: a new revision reaches them. A database migrated
-- while 0008 briefly held it already has the function: hence `or replace`, which ends the same.)
-- The permission check every screen and write makes: a user's role on a live project. In PL/pgSQL
-- so that its plan is made once per session (the application sends no prepared statements; see
-- modeling-notes.md): half the time of the same join planned on every call.
create or replace function projects.actor_role(p_actor bigint, p_project bigint)
returns setof projects.access_role_reference
language plpgsql
stable
set search_path = ''
as $$
begin
    return query
    select r.*
    from projects.project_access a
    join projects.access_role_reference r on r.role = a.role
    join projects.projects p on p.id = a.project_id and p.deleted_at is null
    join users.users u on u.id = a.user_id and u.is_active and u.deleted_at is null
    where a.user_id = p_actor and a.project_id = p_project;
end
$$;
