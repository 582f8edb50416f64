CREATE OR REPLACE FUNCTION audit.via()
 RETURNS jsonb
 LANGUAGE plpgsql
 STABLE SECURITY DEFINER
 SET search_path TO ''
AS $function$
declare
    v_token bigint := nullif(pg_catalog.current_setting('prosync.token_id', true), '')::bigint;
    v_name text;
begin
    -- The audit log's context by default: the access token a change was made through, if any.
    if v_token is null then
        return null;
    end if;
    select t.name into v_name from auth.api_tokens t where t.id = v_token;
    return pg_catalog.jsonb_build_object('token_id', v_token, 'token', v_name);
end
$function$;
comment on function audit.via() is 'The audit log''s default context: the API token acting in this transaction, named';
