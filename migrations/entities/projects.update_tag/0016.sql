CREATE OR REPLACE FUNCTION projects.update_tag(p_id bigint, p_name text, p_category text, p_description text, p_color text)
 RETURNS boolean
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
begin
    if not (system.actor_sees_all() or system.actor_is_owner_login()) then
        raise exception 'Only administrators curate the tag catalogue; ask one to change this tag.'
            using errcode = 'PS403';
    end if;
    update projects.tag_reference
    set name = coalesce(p_name, name),
        category = coalesce(p_category, category),
        description = coalesce(p_description, description),
        color = coalesce(p_color, color)
    where id = p_id;
    return found;
end
$function$;
grant execute on function projects.update_tag(bigint,text,text,text,text) to prosync_app;
