create or replace function documents.text_backlog()
returns table (waiting bigint, for_the_command_line bigint, oldest timestamptz)
language plpgsql
stable
security definer
set search_path = ''
as $$
begin
    -- For the Ops screen's health check: how many documents wait for their text across every
    -- project (counts only, no ids), and how many only `prosync reindex-text` will take. Ops and
    -- admins, and the owner's login (the command line).
    if not (system.actor_is_ops() or system.actor_sees_all()
            or pg_catalog.pg_has_role(session_user, 'prosync_owner', 'member')) then
        raise exception 'only ops and administrators see the text queue across projects'
            using errcode = 'insufficient_privilege';
    end if;
    -- (documents of a project in the trash wait for its restore, and are not counted)
    return query
    select count(*),
           count(*) filter (where q.queued_by is null or q.attempts >= 5),
           min(q.queued_at) filter (where q.queued_by is not null and q.attempts < 5)
    from documents.text_queue q
    where not exists (select from projects.projects p where p.id = q.project_id and p.deleted_at is not null);
end
$$;
comment on function documents.text_backlog() is 'Documents waiting for their text (search inside files), for the Ops health check';
grant execute on function documents.text_backlog() to prosync_app;
