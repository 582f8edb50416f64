create or replace view projects.onboarding_project_summary with (security_invoker=true) as
 SELECT p.id AS project_id,
    p.name AS project_name,
    p.description,
    p.owner_id,
    o.login AS owner_login,
    o.display_name AS owner_name,
    p.created_at,
    COALESCE(t.tags, '{}'::text[]) AS tags,
    COALESCE(t.tag_categories, '{}'::text[]) AS tag_categories,
    COALESCE(d.document_count, 0::bigint) AS document_count,
    COALESCE(d.total_bytes, 0::bigint) AS total_bytes,
    COALESCE(m.participant_count, 0::bigint) AS participant_count,
    COALESCE(m.participants_by_role, '{}'::jsonb) AS participants_by_role,
    COALESCE(s.pending_files, 0::bigint) AS pending_files,
    GREATEST(p.updated_at, d.last_upload_at, s.last_staged_at, d.last_audit_at) AS last_activity_at,
    d.refreshed_at AS totals_refreshed_at
   FROM projects.projects p
     LEFT JOIN users.users o ON o.id = p.owner_id
     LEFT JOIN LATERAL ( SELECT array_agg(tr.name ORDER BY tr.category, tr.name) AS tags,
            array_agg(DISTINCT tr.category) AS tag_categories
           FROM projects.project_tag pt
             JOIN projects.tag_reference tr ON tr.id = pt.tag_id
          WHERE pt.project_id = p.id) t ON true
     LEFT JOIN projects.visible_project_totals d ON d.project_id = p.id
     LEFT JOIN LATERAL ( SELECT sum(r.n)::bigint AS participant_count,
            jsonb_object_agg(r.role, r.n) AS participants_by_role
           FROM ( SELECT a.role,
                    count(*) AS n
                   FROM projects.project_access a
                     JOIN users.users u ON u.id = a.user_id AND u.deleted_at IS NULL
                  WHERE a.project_id = p.id
                  GROUP BY a.role) r) m ON true
     LEFT JOIN LATERAL ( SELECT ( SELECT count(*) AS count
                   FROM staging.documents_ingest i
                  WHERE i.project_id = p.id AND i.status = 'pending'::text) AS pending_files,
            GREATEST(( SELECT max(i.uploaded_at) AS max
                   FROM staging.documents_ingest i
                  WHERE i.project_id = p.id AND i.status = 'pending'::text), ( SELECT max(i.uploaded_at) AS max
                   FROM staging.documents_ingest i
                  WHERE i.project_id = p.id AND i.status = 'approved'::text), ( SELECT max(i.uploaded_at) AS max
                   FROM staging.documents_ingest i
                  WHERE i.project_id = p.id AND i.status = 'rejected'::text)) AS last_staged_at) s ON true
  WHERE p.deleted_at IS NULL;
