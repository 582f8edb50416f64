CREATE OR REPLACE FUNCTION auth.use_token(p_hash bytea, p_ip inet, p_user_agent text, p_request text)
 RETURNS TABLE(status text, token_id bigint, user_id bigint, name text, scopes text[], project_ids bigint[])
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
declare
    t record;
begin
    -- Before anyone is named: the token is found by the hash of its secret, never listed.
    select k.id, k.user_id, k.name, k.scopes, k.all_projects, k.expires_at, k.revoked_at,
           k.created_at, k.last_used_at, k.last_used_ip,
           u.is_active and u.deleted_at is null as usable, u.password_changed_at
    into t
    from auth.api_tokens k join users.users u on u.id = k.user_id
    where k.token_hash = p_hash;
    if not found then
        return query select 'unknown'::text, null::bigint, null::bigint, null::text, null::text[], null::bigint[];
        return;
    end if;
    status := case
        when not t.usable then 'inactive'
        when t.revoked_at is not null then 'revoked'
        when t.expires_at <= pg_catalog.now() then 'expired'
        -- a password set after the token was made ends it, even if the revocation was missed
        when t.password_changed_at > t.created_at then 'revoked'
        else 'ok' end;
    if status = 'ok' then
        -- Last use: its time at most once a minute, and every change of address.
        if t.last_used_at is null or t.last_used_at < pg_catalog.now() - interval '1 minute'
                or t.last_used_ip is distinct from p_ip then
            update auth.api_tokens set last_used_at = pg_catalog.now(), last_used_ip = p_ip where id = t.id;
        end if;
        -- Every use, in the audit log as the token's user, the token named.
        insert into audit.audit_log (actor_id, action, schema_name, table_name, record_id, context)
        values (t.user_id, 'api_request', 'auth', 'api_tokens', t.id::text,
                pg_catalog.jsonb_build_object(
                    'token_id', t.id, 'token', t.name, 'request', pg_catalog.left(p_request, 300),
                    'ip_address', pg_catalog.host(p_ip), 'user_agent', pg_catalog.left(p_user_agent, 300)));
    end if;
    return query select status, t.id, t.user_id, t.name, t.scopes,
        case when t.all_projects then null
             else array(select p.project_id from auth.api_token_projects p where p.token_id = t.id) end;
end
$function$;
comment on function auth.use_token(bytea, inet, text, text) is 'Resolve an API token by the hash of its secret: why it is refused, or its user, scopes and projects; a use is recorded (last use, audit log)';
grant execute on function auth.use_token(bytea, inet, text, text) to prosync_app;
