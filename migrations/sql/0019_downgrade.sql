-- 0019 undone: no API tokens.
create index if not exists documents_ingest_project_status_idx on staging.documents_ingest (project_id, status);
drop index if exists staging.documents_ingest_project_status_time_idx;
alter table audit.audit_log alter column context drop default;
-- Partitions detached since (system.maintain_partitions keeps them as tables) kept the default.
do $$
declare
    r record;
begin
    for r in
        select d.adrelid::regclass as name
        from pg_attrdef d
        join pg_attribute a on a.attrelid = d.adrelid and a.attnum = d.adnum
        where a.attname = 'context' and pg_get_expr(d.adbin, d.adrelid) like '%audit.via()%'
    loop
        execute format('alter table %s alter column context drop default', r.name);
    end loop;
end
$$;
drop trigger end_tokens_on_credential_change on users.users;
drop table auth.api_idempotency;
drop table auth.api_token_projects;
drop table auth.api_tokens;
drop function if exists audit.capture_auth_api_token_projects();
drop function if exists audit.capture_auth_api_tokens();
