drop view projects.onboarding_project_summary;
create view projects.onboarding_project_summary as
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
       greatest(p.updated_at, d.last_upload_at, s.last_staged_at, a.last_audit_at) as last_activity_at
from projects.projects p
left join users.users o on o.id = p.owner_id
left join lateral (
    select array_agg(tr.name order by tr.category, tr.name) as tags,
           array_agg(distinct tr.category) as tag_categories
    from projects.project_tag pt
    join projects.tag_reference tr on tr.id = pt.tag_id
    where pt.project_id = p.id
) t on true
left join lateral (
    select count(*) as document_count, sum(c.size_bytes)::bigint as total_bytes,
           max(x.uploaded_at) as last_upload_at
    from documents.documents x
    join documents.contents c on c.checksum = x.checksum
    where x.project_id = p.id and x.deleted_at is null
) d on true
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
left join lateral (
    select max(al."timestamp") as last_audit_at
    from audit.audit_log al
    where al.project_id = p.id
) a on true
where p.deleted_at is null;

drop materialized view projects.project_totals;
drop index documents.documents_uploaded_idx;
drop index documents.documents_name_trgm_idx;
-- pg_trgm stays: another schema may use it, and it holds no data.
