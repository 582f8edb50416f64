-- Back to the generic audit.capture(): the procedure as 0001 made it, every audited table's
-- triggers pointed at it again (with the arguments kept on them), the generated functions dropped.
create or replace procedure audit.enable(
    p_table regclass,
    p_keys text,
    p_project text default '',
    p_history text default '',
    p_history_key text default '',
    p_hidden text default '',
    p_ignored text default ''
)
language plpgsql
set search_path = ''
as $$
declare
    v_args text := format('%L, %L, %L, %L, %L, %L',
                          p_keys, p_project, p_history, p_history_key, p_hidden, p_ignored);
begin
    execute format('create trigger audit_insert after insert on %s referencing new table as new_rows'
                   ' for each statement execute function audit.capture(%s)', p_table, v_args);
    execute format('create trigger audit_update after update on %s referencing old table as old_rows'
                   ' new table as new_rows for each statement execute function audit.capture(%s)',
                   p_table, v_args);
    execute format('create trigger audit_delete after delete on %s referencing old table as old_rows'
                   ' for each statement execute function audit.capture(%s)', p_table, v_args);
    execute format('create trigger audit_truncate after truncate on %s'
                   ' for each statement execute function audit.capture(%s)', p_table, v_args);
end
$$;

do $$
declare
    t record;
begin
    for t in
        select distinct tg.tgrelid::regclass as tbl, p.oid::regprocedure as fn,
               string_to_array(encode(tg.tgargs, 'escape'), '\000') as args
        from pg_trigger tg
        join pg_proc p on p.oid = tg.tgfoid
        join pg_namespace n on n.oid = p.pronamespace
        where tg.tgname = 'audit_insert' and n.nspname = 'audit' and p.proname like 'capture\_%'
    loop
        execute format('drop trigger audit_insert on %s', t.tbl);
        execute format('drop trigger audit_update on %s', t.tbl);
        execute format('drop trigger audit_delete on %s', t.tbl);
        execute format('drop trigger audit_truncate on %s', t.tbl);
        call audit.enable(t.tbl, t.args[1], t.args[2], t.args[3], t.args[4], t.args[5], t.args[6]);
        execute format('drop function %s', t.fn);
    end loop;
end
$$;

drop procedure audit.generate_capture(regclass, text, text, text, text, text, text);
