CREATE OR REPLACE PROCEDURE users.set_system_role(IN p_user bigint, IN p_role text, IN p_granted boolean, IN p_keep_session uuid DEFAULT NULL::uuid)
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO ''
AS $procedure$
declare
    v_changed integer;
begin
    if not (system.actor_sees_all() or system.actor_is_owner_login()) then
        raise exception 'Only administrators may grant or remove system roles.' using errcode = 'PS403';
    end if;
    if p_granted then
        insert into users.user_system_role (user_id, role) values (p_user, p_role) on conflict do nothing;
    else
        delete from users.user_system_role where user_id = p_user and role = p_role;
    end if;
    get diagnostics v_changed = row_count;
    if v_changed > 0 then
        update auth.sessions
        set revoked_at = pg_catalog.now(), revoked_by = system.current_actor(),
            revoke_reason = 'system role changed'
        where user_id = p_user and revoked_at is null and id is distinct from p_keep_session;
    end if;
end
$procedure$;
comment on procedure users.set_system_role(bigint,text,boolean,uuid) is 'Grant (p_granted) or remove a system role, as an administrator; ends the user''s other sessions';
grant execute on procedure users.set_system_role(bigint,text,boolean,uuid) to prosync_app;
