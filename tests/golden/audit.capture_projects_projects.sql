CREATE OR REPLACE FUNCTION audit.capture_projects_projects()
 RETURNS trigger
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
declare
    v_actor bigint := system.current_actor();
begin
    if tg_op = 'INSERT' then
        with changes as (
            select concat_ws(',', n.id) as record_id, n.id::bigint as project_id, 'insert'::text as action,
                   null::jsonb as old_values, to_jsonb(n) - '{}'::text[] as new_values,
                   null::text[] as changed_columns
            from new_rows n
        ), history as (insert into projects.project_history (project_id, operation, changed_by, old_values, new_values, changed_columns) select record_id::bigint, action, v_actor, old_values, new_values, changed_columns from changes)
        insert into audit.audit_log (actor_id, action, schema_name, table_name, record_id, project_id,
                                     old_values, new_values, changed_columns)
        select v_actor, action, 'projects', 'projects', record_id, project_id, old_values, new_values, changed_columns
        from changes;
    elsif tg_op = 'UPDATE' then
        with changes as (
            select concat_ws(',', n.id) as record_id, n.id::bigint as project_id, case when o.deleted_at is null and n.deleted_at is not null then 'soft_delete' when o.deleted_at is not null and n.deleted_at is null then 'restore' else 'update' end as action,
                   to_jsonb(o) - (d.unchanged || '{updated_at,updated_by}'::text[]) as old_values,
                   to_jsonb(n) - (d.unchanged || '{updated_at,updated_by}'::text[]) as new_values,
                   d.changed as changed_columns
            from old_rows o
            join new_rows n on o.id = n.id
            cross join lateral (select array_remove(array[case when o.created_at is distinct from n.created_at then 'created_at' end, case when o.created_by is distinct from n.created_by then 'created_by' end, case when o.deleted_at is distinct from n.deleted_at then 'deleted_at' end, case when o.deleted_by is distinct from n.deleted_by then 'deleted_by' end, case when o.description is distinct from n.description then 'description' end, case when o.id is distinct from n.id then 'id' end, case when o.name is distinct from n.name then 'name' end, case when o.owner_id is distinct from n.owner_id then 'owner_id' end]::text[], null) as changed, array_remove(array[case when o.created_at is not distinct from n.created_at then 'created_at' end, case when o.created_by is not distinct from n.created_by then 'created_by' end, case when o.deleted_at is not distinct from n.deleted_at then 'deleted_at' end, case when o.deleted_by is not distinct from n.deleted_by then 'deleted_by' end, case when o.description is not distinct from n.description then 'description' end, case when o.id is not distinct from n.id then 'id' end, case when o.name is not distinct from n.name then 'name' end, case when o.owner_id is not distinct from n.owner_id then 'owner_id' end]::text[], null) as unchanged) d
            where cardinality(d.changed) > 0
        ), history as (insert into projects.project_history (project_id, operation, changed_by, old_values, new_values, changed_columns) select record_id::bigint, action, v_actor, old_values, new_values, changed_columns from changes)
        insert into audit.audit_log (actor_id, action, schema_name, table_name, record_id, project_id,
                                     old_values, new_values, changed_columns)
        select v_actor, action, 'projects', 'projects', record_id, project_id, old_values, new_values, changed_columns
        from changes;
    elsif tg_op = 'DELETE' then
        insert into audit.audit_log (actor_id, action, schema_name, table_name, record_id, project_id,
                                     old_values, new_values, changed_columns)
        select v_actor, 'delete', 'projects', 'projects', concat_ws(',', o.id), o.id::bigint, to_jsonb(o) - '{}'::text[], null, null
        from old_rows o;
    else
        insert into audit.audit_log (actor_id, action, schema_name, table_name)
        values (v_actor, 'truncate', 'projects', 'projects');
    end if;
    return null;
end
$function$
