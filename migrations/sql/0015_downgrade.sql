-- 0015 undone: members write their projects' rows whatever their role (0013's policies alone).
drop policy owner_creates on projects.projects;
drop policy may_edit on projects.projects;
drop policy may_delete on projects.projects;
drop policy may_grant on projects.project_access;
drop policy may_change on projects.project_access;
drop policy may_revoke on projects.project_access;
do $$
declare
    t text;
begin
    foreach t in array array[
        'projects.project_tag', 'documents.documents', 'documents.document_registry', 'staging.documents_ingest'
    ] loop
        execute format('drop policy may_insert on %s', t);
        execute format('drop policy may_update on %s', t);
        execute format('drop policy may_delete on %s', t);
    end loop;
end
$$;
drop function projects.actor_may_grant(bigint, text);
drop function projects.actor_projects_with(text[]);
