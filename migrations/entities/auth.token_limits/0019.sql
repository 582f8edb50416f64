CREATE OR REPLACE FUNCTION auth.token_limits(OUT o_projects bigint[], OUT o_scopes text[])
 RETURNS record
 LANGUAGE plpgsql
 STABLE SECURITY DEFINER
 SET search_path TO ''
AS $function$
declare
    v_token bigint := nullif(pg_catalog.current_setting('prosync.token_id', true), '')::bigint;
begin
    -- No token acting (the dashboard, the command line): both null, nothing narrowed.
    if v_token is null then
        return;
    end if;
    -- A token acts: its scopes, and its projects (null when it is for all its user's projects).
    -- A token that is not the actor's own, or not live, narrows everything to nothing.
    select case when t.all_projects then null
                else array(select p.project_id from auth.api_token_projects p where p.token_id = t.id) end,
           t.scopes
    into o_projects, o_scopes
    from auth.api_tokens t
    where t.id = v_token and t.user_id = system.current_actor()
      and t.revoked_at is null and t.expires_at > pg_catalog.now();
    if not found then
        o_projects := '{}';
        o_scopes := '{}';
    end if;
end
$function$;
comment on function auth.token_limits() is 'What the access token acting in this transaction (prosync.token_id) narrows the actor to: projects (null: all) and scopes; both null when no token acts';
grant execute on function auth.token_limits() to prosync_app;
grant execute on function auth.token_limits() to prosync_readonly;
