-- 0006: audited events that are not row changes (sign-in, failure, throttling, sign-out).

-- Security definer so the application never needs direct INSERT on the audit log.
create function audit.record_event(
    p_action text, p_table text, p_record text, p_context jsonb default null
) returns void
language sql
security definer
set search_path = ''
as $$
    insert into audit.audit_log (actor_id, action, schema_name, table_name, record_id, context)
    values (system.current_actor(), p_action, 'auth', p_table, p_record, p_context)
$$;

-- Failed sign-ins of one login in a window (throttling): audit rows keyed by the lowercased login.
create index audit_log_sign_in_failures_idx on audit.audit_log (record_id, "timestamp" desc)
    where action = 'sign_in_failed';
