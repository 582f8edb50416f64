CREATE OR REPLACE FUNCTION audit.capture()
 RETURNS trigger
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
declare
    v_keys text[] := pg_catalog.string_to_array(tg_argv[0], ',');
    v_project text := nullif(tg_argv[1], '');
    v_history text := nullif(tg_argv[2], '');
    v_history_key text := nullif(tg_argv[3], '');
    v_hidden text := coalesce(nullif(tg_argv[4], ''), '{}');
    v_ignored text := coalesce(nullif(tg_argv[5], ''), '{}');
    v_alias text := case tg_op when 'DELETE' then 'o' else 'n' end;
    v_record text;
    v_project_expr text;
    v_join text;
    v_rows text;
    v_history_sql text := '';
    v_key text;
begin
    if tg_op = 'TRUNCATE' then
        insert into audit.audit_log (actor_id, action, schema_name, table_name)
        values (system.current_actor(), 'truncate', tg_table_schema, tg_table_name);
        return null;
    end if;

    v_record := 'concat_ws('','''
        || (select string_agg(', ' || v_alias || '.' || quote_ident(k), '') from unnest(v_keys) k)
        || ')';
    v_project_expr := case when v_project is null then 'null::bigint'
                           else v_alias || '.' || quote_ident(v_project) || '::bigint' end;

    if tg_op = 'INSERT' then
        v_rows := format(
            'select %s as record_id, %s as project_id, ''insert''::text as action,'
            ' null::jsonb as old_values, to_jsonb(n) - %L::text[] as new_values,'
            ' null::text[] as changed_columns from new_rows n',
            v_record, v_project_expr, v_hidden);
    elsif tg_op = 'DELETE' then
        v_rows := format(
            'select %s as record_id, %s as project_id, ''delete''::text as action,'
            ' to_jsonb(o) - %L::text[] as old_values, null::jsonb as new_values,'
            ' null::text[] as changed_columns from old_rows o',
            v_record, v_project_expr, v_hidden);
    else
        v_join := (select string_agg(format('o.%1$I = n.%1$I', k), ' and ') from unnest(v_keys) k);
        v_rows := format(
            'select %1$s as record_id, %2$s as project_id,'
            ' case when (to_jsonb(o) ->> ''deleted_at'') is null'
            '       and (to_jsonb(n) ->> ''deleted_at'') is not null then ''soft_delete'''
            '      when (to_jsonb(o) ->> ''deleted_at'') is not null'
            '       and (to_jsonb(n) ->> ''deleted_at'') is null then ''restore'''
            '      else ''update'' end as action,'
            ' d.old_values, d.new_values, d.changed_columns'
            ' from old_rows o join new_rows n on %3$s'
            ' cross join lateral ('
            '   select jsonb_object_agg(x.k, x.ov) filter (where x.k <> all (%4$L::text[])) as old_values,'
            '          jsonb_object_agg(x.k, x.nv) filter (where x.k <> all (%4$L::text[])) as new_values,'
            '          array_agg(x.k order by x.k) as changed_columns'
            '   from (select e.key as k, e.value as nv, to_jsonb(o) -> e.key as ov'
            '         from jsonb_each(to_jsonb(n)) e) x'
            '   where x.ov is distinct from x.nv and x.k <> all (%5$L::text[])'
            '     and x.k not in (''updated_at'', ''updated_by'')'
            ' ) d'
            ' where d.changed_columns is not null',
            v_record, v_project_expr, v_join, v_hidden, v_ignored);
    end if;

    -- History rows for inserts and updates (a hard delete removes the history with the row; the
    -- audit log keeps the deleted row).
    if v_history is not null and tg_op <> 'DELETE' then
        v_history_sql := format(
            ', history as (insert into %s (%I%s, operation, changed_by, old_values, new_values,'
            ' changed_columns) select record_id::bigint%s, action, $1, old_values, new_values,'
            ' changed_columns from changes)',
            v_history, v_history_key,
            case when v_history_key = 'project_id' then '' else ', project_id' end,
            case when v_history_key = 'project_id' then '' else ', project_id' end);
    end if;

    execute format(
        'with changes as (%s)%s'
        ' insert into audit.audit_log (actor_id, action, schema_name, table_name, record_id,'
        ' project_id, old_values, new_values, changed_columns)'
        ' select $1, action, $2, $3, record_id, project_id, old_values, new_values,'
        ' changed_columns from changes',
        v_rows, v_history_sql)
    using system.current_actor(), tg_table_schema, tg_table_name;
    return null;
end
$function$;
