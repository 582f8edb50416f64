CREATE OR REPLACE PROCEDURE audit.generate_capture(IN p_table regclass, IN p_keys text, IN p_project text DEFAULT ''::text, IN p_history text DEFAULT ''::text, IN p_history_key text DEFAULT ''::text, IN p_hidden text DEFAULT ''::text, IN p_ignored text DEFAULT ''::text)
 LANGUAGE plpgsql
 SET search_path TO ''
AS $procedure$
declare
    v_schema text;
    v_name text;
    v_function text;
    v_keys text[] := pg_catalog.string_to_array(p_keys, ',');
    v_hidden text[] := coalesce(nullif(p_hidden, ''), '{}')::text[];
    v_ignored text[] := coalesce(nullif(p_ignored, ''), '{}')::text[];
    v_columns text[];
    v_tracked text[];   -- a change to these is audited (in name order: changed_columns is sorted)
    v_untracked text[]; -- never in old_values/new_values: ignored, updated_at/by, hidden
    v_has_deleted boolean;
    v_changed text;
    v_unchanged text;
    v_action text;
    v_history text := nullif(p_history, '');
    v_history_cols text;
    v_history_vals text;
    v_insert_history text := '';
    v_update_history text := '';
begin
    select n.nspname, c.relname into v_schema, v_name
    from pg_catalog.pg_class c join pg_catalog.pg_namespace n on n.oid = c.relnamespace
    where c.oid = p_table;
    v_function := format('audit.%I', 'capture_' || v_schema || '_' || v_name);

    select array_agg(a.attname::text order by a.attnum) into v_columns
    from pg_catalog.pg_attribute a
    where a.attrelid = p_table and a.attnum > 0 and not a.attisdropped;
    v_tracked := array(select c from unnest(v_columns) c
                       where c <> all (v_ignored) and c not in ('updated_at', 'updated_by') order by c);
    v_untracked := array(select c from unnest(v_columns) c where c <> all (v_tracked)) || v_hidden;
    v_has_deleted := 'deleted_at' = any (v_columns);

    -- json has no equality operator: compare such columns as jsonb.
    select 'array_remove(array[' || string_agg(format(
               'case when o.%1$I%2$s is distinct from n.%1$I%2$s then %1$L end', c.col, c.cast_to), ', ')
           || ']::text[], null)',
           'array_remove(array[' || string_agg(format(
               'case when o.%1$I%2$s is not distinct from n.%1$I%2$s then %1$L end', c.col, c.cast_to), ', ')
           || ']::text[], null)'
      into v_changed, v_unchanged
    from (select t.col, case when a.atttypid = 'json'::regtype then '::jsonb' else '' end as cast_to
          from unnest(v_tracked) with ordinality t(col, n)
          join pg_catalog.pg_attribute a on a.attrelid = p_table and a.attname = t.col
          order by t.n) c;

    v_action := case when v_has_deleted then
        'case when o.deleted_at is null and n.deleted_at is not null then ''soft_delete'''
        ' when o.deleted_at is not null and n.deleted_at is null then ''restore'' else ''update'' end'
        else '''update''' end;

    if v_history is not null then
        v_history_cols := format('%I%s, operation, changed_by, old_values, new_values, changed_columns',
                                 p_history_key, case when p_history_key = 'project_id' then '' else ', project_id' end);
        v_history_vals := format('record_id::bigint%s, action, v_actor, old_values, new_values, changed_columns',
                                 case when p_history_key = 'project_id' then '' else ', project_id' end);
        v_insert_history := format(', history as (insert into %s (%s) select %s from changes)',
                                   v_history, v_history_cols, v_history_vals);
        v_update_history := v_insert_history;
    end if;

    execute format($body$
create or replace function %1$s() returns trigger
language plpgsql
security definer
set search_path = ''
as $fn$
declare
    v_actor bigint := system.current_actor();
begin
    if tg_op = 'INSERT' then
        with changes as (
            select %2$s as record_id, %3$s as project_id, 'insert'::text as action,
                   null::jsonb as old_values, to_jsonb(n) - %4$L::text[] as new_values,
                   null::text[] as changed_columns
            from new_rows n
        )%5$s
        insert into audit.audit_log (actor_id, action, schema_name, table_name, record_id, project_id,
                                     old_values, new_values, changed_columns)
        select v_actor, action, %6$L, %7$L, record_id, project_id, old_values, new_values, changed_columns
        from changes;
    elsif tg_op = 'UPDATE' then
        with changes as (
            select %2$s as record_id, %3$s as project_id, %8$s as action,
                   to_jsonb(o) - (d.unchanged || %9$L::text[]) as old_values,
                   to_jsonb(n) - (d.unchanged || %9$L::text[]) as new_values,
                   d.changed as changed_columns
            from old_rows o
            join new_rows n on %10$s
            cross join lateral (select %11$s as changed, %12$s as unchanged) d
            where cardinality(d.changed) > 0
        )%13$s
        insert into audit.audit_log (actor_id, action, schema_name, table_name, record_id, project_id,
                                     old_values, new_values, changed_columns)
        select v_actor, action, %6$L, %7$L, record_id, project_id, old_values, new_values, changed_columns
        from changes;
    elsif tg_op = 'DELETE' then
        insert into audit.audit_log (actor_id, action, schema_name, table_name, record_id, project_id,
                                     old_values, new_values, changed_columns)
        select v_actor, 'delete', %6$L, %7$L, %14$s, %15$s, to_jsonb(o) - %4$L::text[], null, null
        from old_rows o;
    else
        insert into audit.audit_log (actor_id, action, schema_name, table_name)
        values (v_actor, 'truncate', %6$L, %7$L);
    end if;
    return null;
end
$fn$
$body$,
        v_function,
        'concat_ws('','', ' || (select string_agg('n.' || quote_ident(k), ', ') from unnest(v_keys) k) || ')',
        case when nullif(p_project, '') is null then 'null::bigint' else 'n.' || quote_ident(p_project) || '::bigint' end,
        v_hidden,
        v_insert_history,
        v_schema,
        v_name,
        v_action,
        v_untracked,
        (select string_agg(format('o.%1$I = n.%1$I', k), ' and ') from unnest(v_keys) k),
        v_changed,
        v_unchanged,
        v_update_history,
        'concat_ws('','', ' || (select string_agg('o.' || quote_ident(k), ', ') from unnest(v_keys) k) || ')',
        case when nullif(p_project, '') is null then 'null::bigint' else 'o.' || quote_ident(p_project) || '::bigint' end
    );
end
$procedure$;
