CREATE OR REPLACE FUNCTION projects.create_tag(p_name text, p_category text, p_description text, p_color text)
 RETURNS bigint
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
declare
    v_id bigint;
begin
    if not (system.actor_sees_all() or system.actor_is_owner_login()) then
        raise exception 'Only administrators curate the tag catalogue; ask one to add this tag.'
            using errcode = 'PS403';
    end if;
    insert into projects.tag_reference (name, category, description, color)
    values (p_name, p_category, p_description, p_color)
    returning id into v_id;
    return v_id;
end
$function$;
grant execute on function projects.create_tag(text,text,text,text) to prosync_app;
