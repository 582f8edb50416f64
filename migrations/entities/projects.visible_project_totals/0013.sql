create or replace view projects.visible_project_totals with (security_barrier=true) as
 SELECT project_id,
    document_count,
    total_bytes,
    last_upload_at,
    last_audit_at,
    refreshed_at
   FROM projects.project_totals t
  WHERE ( SELECT system.actor_sees_all() AS actor_sees_all) OR (project_id = ANY ((( SELECT projects.actor_projects() AS actor_projects))::bigint[])) OR ( SELECT pg_has_role(CURRENT_USER, 'prosync_owner'::name, 'USAGE'::text) AS pg_has_role);
