CREATE OR REPLACE FUNCTION auth.end_tokens_on_credential_change()
 RETURNS trigger
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
begin
    -- A deactivated or deleted account, or a new password, ends every access token of the user
    -- at once, whichever path made the change.
    update auth.api_tokens
    set revoked_at = pg_catalog.now(), revoked_by = system.current_actor(),
        revoke_reason = case when new.password_hash is distinct from old.password_hash then 'password changed'
                             else 'account deactivated' end
    where user_id = new.id and revoked_at is null;
    return null;
end
$function$;
comment on function auth.end_tokens_on_credential_change() is 'Trigger: a user''s access tokens end when their password changes or their account is deactivated or deleted';
