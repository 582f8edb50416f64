-- 0005: the operational views. Every one hides soft-deleted rows of its subject and of the project.

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

create view documents.active_documents as
select d.id,
       d.project_id,
       p.name as project_name,
       d.name,
       d.description,
       d.mime_type,
       f.label as filetype_label,
       f.category as filetype_category,
       f.previewable,
       d.checksum,
       c.size_bytes,
       c.storage_code,
       c.object_key,
       d.image_url,
       d.metadata,
       d.uploaded_at,
       d.uploaded_by,
       u.login as uploaded_by_login,
       d.updated_at
from documents.documents d
join projects.projects p on p.id = d.project_id and p.deleted_at is null
join documents.contents c on c.checksum = d.checksum
join documents.filetype_reference f on f.mime_type = d.mime_type
left join users.users u on u.id = d.uploaded_by
where d.deleted_at is null;

create view audit.audit_trail_by_project as
select a.id,
       a."timestamp",
       a.project_id,
       p.name as project_name,
       a.actor_id,
       u.login as actor_login,
       u.display_name as actor_name,
       a.action,
       a.schema_name,
       a.table_name,
       a.record_id,
       a.old_values,
       a.new_values,
       a.changed_columns,
       a.context
from audit.audit_log a
join projects.projects p on p.id = a.project_id and p.deleted_at is null
left join users.users u on u.id = a.actor_id
where a.project_id is not null;

create view staging.pending_documents as
select i.id,
       i.project_id,
       p.name as project_name,
       i.original_name,
       i.declared_mime,
       i.detected_mime,
       c.size_bytes,
       i.checksum,
       c.storage_code,
       c.object_key as s3_key,
       i.notes,
       i.metadata,
       i.uploaded_by,
       u.login as uploaded_by_login,
       i.uploaded_at
from staging.documents_ingest i
join projects.projects p on p.id = i.project_id and p.deleted_at is null
join documents.contents c on c.checksum = i.checksum
left join users.users u on u.id = i.uploaded_by
where i.status = 'pending';

create view staging.rejected_documents as
select i.id,
       i.project_id,
       p.name as project_name,
       i.original_name,
       i.declared_mime,
       i.detected_mime,
       c.size_bytes,
       i.checksum,
       c.storage_code,
       c.object_key as s3_key,
       i.notes,
       i.metadata,
       i.rejection_reason,
       i.reviewer_notes,
       i.uploaded_by,
       u.login as uploaded_by_login,
       i.uploaded_at,
       i.reviewed_by,
       r.login as reviewed_by_login,
       i.reviewed_at
from staging.documents_ingest i
join projects.projects p on p.id = i.project_id and p.deleted_at is null
join documents.contents c on c.checksum = i.checksum
left join users.users u on u.id = i.uploaded_by
left join users.users r on r.id = i.reviewed_by
where i.status = 'rejected';
