-- 0008: what the 1m benchmark asked for (docs/benchmarks.md has the numbers before and after).

-- Name search: `name ilike '%part%'` reads a trigram index instead of every document.
-- pg_trgm is a trusted extension (PostgreSQL 13+): a database owner may create it on managed servers.
create extension if not exists pg_trgm with schema public;
create index documents_name_trgm_idx on documents.documents using gin (name public.gin_trgm_ops);

-- Newest first across projects: a search for a common word (or a filter on tag and type) walks
-- this backwards and stops at the first page instead of sorting every match; the planner picks it
-- or the trigram index by how many rows the pattern is expected to match.
create index documents_uploaded_idx on documents.documents (uploaded_at desc, id desc);

-- The onboarding summary's heavy columns (counting and summing every live document of a project,
-- the newest audit row among all partitions) are precomputed per project and refreshed
-- concurrently (readers never wait); the screen says how fresh they are. Members, roles, tags and
-- pending files stay live: they are cheap, and a lead who just added a member sees it at once.
create materialized view projects.project_totals as
select p.id as project_id,
       coalesce(d.document_count, 0) as document_count,
       coalesce(d.total_bytes, 0)::bigint as total_bytes,
       d.last_upload_at,
       a.last_audit_at,
       now() as refreshed_at  -- the same for every row: when the refresh ran
from projects.projects p
left join (
    select x.project_id, count(*) as document_count, sum(c.size_bytes) as total_bytes,
           max(x.uploaded_at) as last_upload_at
    from documents.documents x
    join documents.contents c on c.checksum = x.checksum
    where x.deleted_at is null
    group by x.project_id
) d on d.project_id = p.id
left join lateral (
    select max(al."timestamp") as last_audit_at
    from audit.audit_log al
    where al.project_id = p.id
) a on true
with data;

-- refresh ... concurrently needs a unique index without a where clause.
create unique index project_totals_project_key on projects.project_totals (project_id);

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
