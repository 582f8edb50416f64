CREATE OR REPLACE FUNCTION auth.guard_token_change()
 RETURNS trigger
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
begin
    -- What a token may do is fixed when it is made: a change could only widen it. Its last use is
    -- noted, and it can be revoked, once: a revoked token stays revoked, whoever asks.
    if (new.id, new.user_id, new.name, new.token_hash, new.token_prefix, new.scopes, new.all_projects,
        new.created_at, new.expires_at)
            is distinct from
       (old.id, old.user_id, old.name, old.token_hash, old.token_prefix, old.scopes, old.all_projects,
        old.created_at, old.expires_at) then
        raise exception 'An access token cannot be changed; revoke it and make another.' using errcode = 'PS400';
    end if;
    if old.revoked_at is not null
            and (new.revoked_at, new.revoked_by, new.revoke_reason)
                is distinct from (old.revoked_at, old.revoked_by, old.revoke_reason) then
        raise exception 'This access token is revoked; make another.' using errcode = 'PS400';
    end if;
    return new;
end
$function$;
comment on function auth.guard_token_change() is 'Trigger: an access token''s user, secret, scopes, projects and expiry never change, and a revocation is final';
