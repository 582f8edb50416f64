CREATE OR REPLACE PROCEDURE audit.enable(IN p_table regclass, IN p_keys text, IN p_project text DEFAULT ''::text, IN p_history text DEFAULT ''::text, IN p_history_key text DEFAULT ''::text, IN p_hidden text DEFAULT ''::text, IN p_ignored text DEFAULT ''::text)
 LANGUAGE plpgsql
 SET search_path TO ''
AS $procedure$
declare
    v_args text := format('%L, %L, %L, %L, %L, %L',
                          p_keys, p_project, p_history, p_history_key, p_hidden, p_ignored);
    v_function text;
begin
    call audit.generate_capture(p_table, p_keys, p_project, p_history, p_history_key, p_hidden, p_ignored);
    select format('audit.%I', 'capture_' || n.nspname || '_' || c.relname) into v_function
    from pg_catalog.pg_class c join pg_catalog.pg_namespace n on n.oid = c.relnamespace
    where c.oid = p_table;
    execute format('drop trigger if exists audit_insert on %s', p_table);
    execute format('drop trigger if exists audit_update on %s', p_table);
    execute format('drop trigger if exists audit_delete on %s', p_table);
    execute format('drop trigger if exists audit_truncate on %s', p_table);
    execute format('create trigger audit_insert after insert on %s referencing new table as new_rows'
                   ' for each statement execute function %s(%s)', p_table, v_function, v_args);
    execute format('create trigger audit_update after update on %s referencing old table as old_rows'
                   ' new table as new_rows for each statement execute function %s(%s)',
                   p_table, v_function, v_args);
    execute format('create trigger audit_delete after delete on %s referencing old table as old_rows'
                   ' for each statement execute function %s(%s)', p_table, v_function, v_args);
    execute format('create trigger audit_truncate after truncate on %s'
                   ' for each statement execute function %s(%s)', p_table, v_function, v_args);
end
$procedure$;
