CREATE OR REPLACE FUNCTION users.guard_user_change()
 RETURNS trigger
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
begin
    -- Like row-level security: the owner's own logins (the command line, migrations) pass.
    if system.actor_sees_all() or pg_catalog.pg_has_role(current_user, 'prosync_owner', 'USAGE') then
        return new;
    end if;
    if (new.id, new.login, new.is_active, new.deleted_at, new.deleted_by, new.created_at, new.created_by)
            is distinct from
       (old.id, old.login, old.is_active, old.deleted_at, old.deleted_by, old.created_at, old.created_by) then
        raise exception 'Only an administrator may change an account''s e-mail address or state.'
            using errcode = 'PS403';
    end if;
    return new;
end
$function$;
