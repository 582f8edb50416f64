-- 0015: the policies tell roles apart. Revision 0013 let every member of a project write its rows
-- and left "which member may do what" to the data-access layer; now PostgreSQL holds that line too.
-- Each write command on a project-scoped table needs the permission the data-access layer asks for
-- (projects.access_role_reference's can_* flags), as a RESTRICTIVE policy beside 0013's
-- member_rows: a row must pass both. Reading stays as it was: every member reads the project.
--
--   table                          insert           update                               delete
--   projects.projects              owner_id = actor can_edit_project, can_delete_project can_delete_project
--   projects.project_access        can_manage_access, and no role above the actor's own (old and new rows)
--   projects.project_tag           can_tag          can_tag                              can_tag
--   documents.documents            can_review       can_delete                           can_delete
--   documents.document_registry    can_review       can_delete                           can_delete
--   staging.documents_ingest       can_upload       can_review                           can_review
--
-- The history tables and the audit log take no writes from prosync_app at all (0013's grants).
-- Admins pass every policy (system.actor_sees_all()), as they pass the data-access checks. A
-- project's accountable owner (projects.owner_id) holds every permission on it: the owner role is
-- theirs (the owner_membership rule), and a project's first membership row, its owner's, is
-- written before any membership exists.

-- The projects where the acting user's role grants any of the permissions: one query per
-- statement, as an InitPlan, like projects.actor_projects().
create function projects.actor_projects_with(variadic permissions text[]) returns bigint[]
language sql stable security definer
set search_path = ''
as $$
    select coalesce(array_agg(x.project_id), '{}')
    from (
        select a.project_id
        from projects.project_access a
        join projects.access_role_reference r on r.role = a.role
        join users.users u on u.id = a.user_id and u.is_active and u.deleted_at is null
        where a.user_id = system.current_actor()
          and exists (select from unnest(permissions) w (flag) where (to_jsonb(r) ->> w.flag)::boolean)
        union
        select p.id
        from projects.projects p
        join users.users u on u.id = p.owner_id and u.is_active and u.deleted_at is null
        where p.owner_id = system.current_actor()
    ) x
$$;
comment on function projects.actor_projects_with(text[]) is
    'The projects where the acting user''s role grants any of these permissions (can_* flags)';

-- Whether the acting user may write a membership row with this role: they manage the project's
-- access and the role is not above their own (the data-access layer's rule for granting,
-- changing and removing). Per row: membership writes come one at a time.
create function projects.actor_may_grant(p_project bigint, p_role text) returns boolean
language sql stable security definer
set search_path = ''
as $$
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
$$;
comment on function projects.actor_may_grant(bigint, text) is
    'Whether the acting user manages the project''s access at a rank no lower than the role';

create policy owner_creates on projects.projects as restrictive for insert
    with check ((select system.actor_sees_all()) or owner_id = (select system.current_actor()));
create policy may_edit on projects.projects as restrictive for update
    using ((select system.actor_sees_all())
           or id = any ((select projects.actor_projects_with('can_edit_project', 'can_delete_project'))::bigint[]));
create policy may_delete on projects.projects as restrictive for delete
    using ((select system.actor_sees_all())
           or id = any ((select projects.actor_projects_with('can_delete_project'))::bigint[]));

create policy may_grant on projects.project_access as restrictive for insert
    with check ((select system.actor_sees_all()) or projects.actor_may_grant(project_id, role));
create policy may_change on projects.project_access as restrictive for update
    using ((select system.actor_sees_all()) or projects.actor_may_grant(project_id, role));
create policy may_revoke on projects.project_access as restrictive for delete
    using ((select system.actor_sees_all()) or projects.actor_may_grant(project_id, role));

do $$
declare
    -- table, command, the permission it needs
    rule text[];
begin
    foreach rule slice 1 in array array[
        ['projects.project_tag', 'insert', 'can_tag'],
        ['projects.project_tag', 'update', 'can_tag'],
        ['projects.project_tag', 'delete', 'can_tag'],
        ['documents.documents', 'insert', 'can_review'],
        ['documents.documents', 'update', 'can_delete'],
        ['documents.documents', 'delete', 'can_delete'],
        ['documents.document_registry', 'insert', 'can_review'],
        ['documents.document_registry', 'update', 'can_delete'],
        ['documents.document_registry', 'delete', 'can_delete'],
        ['staging.documents_ingest', 'insert', 'can_upload'],
        ['staging.documents_ingest', 'update', 'can_review'],
        ['staging.documents_ingest', 'delete', 'can_review']
    ] loop
        execute format(
            'create policy %I on %s as restrictive for %s %s ((select system.actor_sees_all())'
            ' or project_id = any ((select projects.actor_projects_with(%L))::bigint[]))',
            'may_' || rule[2], rule[1], rule[2],
            case rule[2] when 'insert' then 'with check' else 'using' end, rule[3]
        );
    end loop;
end
$$;
