-- 0017 undone: failures counted from the audit log again, addresses folded by lower() alone.
create function audit.recent_sign_in_failures(p_key text, p_window interval) returns bigint
language sql stable security definer
set search_path = ''
as $$
    select pg_catalog.count(*) from audit.audit_log
    where action = 'sign_in_failed' and record_id = p_key and "timestamp" > pg_catalog.now() - p_window
$$;
grant execute on function audit.recent_sign_in_failures(text, interval) to prosync_app;
drop function auth.forgive_sign_in_attempt(text[], text[]);
drop function auth.count_sign_in_attempt(text[], interval);
drop table auth.sign_in_attempts;
drop index users.users_login_lower_key;
create unique index users_login_lower_key on users.users (lower(login));
drop function users.login_key(text);
