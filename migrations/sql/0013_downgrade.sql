-- 0013 undone: row-level security off, the views back to their owner's rights, objects back to the
-- login that migrates. The three roles stay: they belong to the server, and other databases on it
-- may use them (drop them by hand once no database does).
do $$
declare
    t text;
begin
    foreach t in array array[
        'projects.projects', 'projects.project_access', 'projects.project_tag', 'projects.project_history',
        'documents.documents', 'documents.document_history', 'documents.document_registry',
        'staging.documents_ingest', 'audit.audit_log'
    ] loop
        execute format('alter table %s disable row level security', t);
        execute format('drop policy member_rows on %s', t);
    end loop;
end
$$;

create or replace view projects.onboarding_project_summary as
select p.id as project_id,
       p.name as project_name,
       p.description,
       p.owner_id,
       o.login as owner_login,
       o.display_name as owner_name,
       p.created_at,
       coalesce(t.tags, '{}') as tags,
       coalesce(t.tag_categories, '{}') as tag_categories,
       coalesce(d.document_count, 0) as document_count,
       coalesce(d.total_bytes, 0) as total_bytes,
       coalesce(m.participant_count, 0) as participant_count,
       coalesce(m.participants_by_role, '{}') as participants_by_role,
       coalesce(s.pending_files, 0) as pending_files,
       greatest(p.updated_at, d.last_upload_at, s.last_staged_at, d.last_audit_at) as last_activity_at,
       d.refreshed_at as totals_refreshed_at  -- document_count, total_bytes: as of this time
from projects.projects p
left join users.users o on o.id = p.owner_id
left join lateral (
    select array_agg(tr.name order by tr.category, tr.name) as tags,
           array_agg(distinct tr.category) as tag_categories
    from projects.project_tag pt
    join projects.tag_reference tr on tr.id = pt.tag_id
    where pt.project_id = p.id
) t on true
left join projects.project_totals d on d.project_id = p.id
left join lateral (
    select sum(r.n)::bigint as participant_count, jsonb_object_agg(r.role, r.n) as participants_by_role
    from (select a.role, count(*) as n
          from projects.project_access a
          join users.users u on u.id = a.user_id and u.deleted_at is null
          where a.project_id = p.id
          group by a.role) r
) m on true
left join lateral (
    select count(*) filter (where i.status = 'pending') as pending_files,
           max(i.uploaded_at) as last_staged_at
    from staging.documents_ingest i
    where i.project_id = p.id
) s on true
where p.deleted_at is null;

alter view projects.onboarding_project_summary reset (security_invoker);
alter view documents.active_documents reset (security_invoker);
alter view audit.audit_trail_by_project reset (security_invoker);
alter view staging.pending_documents reset (security_invoker);
alter view staging.rejected_documents reset (security_invoker);
alter view system.partitions reset (security_invoker);
drop view projects.visible_project_totals;

drop function projects.refresh_totals(double precision);
drop function system.default_partition_rows(text);
drop function system.explain_sample(bigint, bigint[]);
drop function audit.record_bypass(text, bigint, bigint);
drop function projects.actor_projects();
drop function system.actor_is_ops();
drop function system.actor_sees_all();
drop procedure system.apply_roles();

-- The DDL audit as 0012 made it.
create or replace function audit.record_ddl() returns event_trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
    r record;
begin
    if pg_catalog.to_regclass('audit.audit_log') is null then
        return;  -- the audit log itself is being built or taken down
    end if;
    for r in select * from pg_catalog.pg_event_trigger_ddl_commands() loop
        continue when r.schema_name like 'pg\_temp%' or r.in_extension
            or r.command_tag = 'REFRESH MATERIALIZED VIEW';  -- new data, not a change of schema
        insert into audit.audit_log (actor_id, action, schema_name, table_name, record_id, new_values, context)
        values (system.current_actor(), 'ddl', coalesce(r.schema_name, ''), r.object_type, r.object_identity,
                pg_catalog.jsonb_build_object('command', r.command_tag),
                pg_catalog.jsonb_build_object('statement', audit.statement_text()));
    end loop;
end
$$;

alter function system.maintain_partitions(text, integer, integer, integer) security invoker;
alter function system.maintain_partitions(text, integer, integer, integer) reset search_path;
alter table audit.audit_log alter column db_user set default current_user;

do $$
begin
    alter function pg_catalog.texticlike(text, text) not leakproof;
exception when insufficient_privilege then
    null;  -- a login that could not set it could not have set it either
end
$$;

-- Every grant to the two login roles in this database, then ownership back to whoever migrates.
drop owned by prosync_app, prosync_readonly;
reassign owned by prosync_owner to current_user;
