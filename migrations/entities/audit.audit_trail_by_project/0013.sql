create or replace view audit.audit_trail_by_project with (security_invoker=true) as
 SELECT a.id,
    a."timestamp",
    a.project_id,
    p.name AS project_name,
    a.actor_id,
    u.login AS actor_login,
    u.display_name AS actor_name,
    a.action,
    a.schema_name,
    a.table_name,
    a.record_id,
    a.old_values,
    a.new_values,
    a.changed_columns,
    a.context
   FROM audit.audit_log a
     JOIN projects.projects p ON p.id = a.project_id AND p.deleted_at IS NULL
     LEFT JOIN users.users u ON u.id = a.actor_id
  WHERE a.project_id IS NOT NULL;
