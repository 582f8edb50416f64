CREATE OR REPLACE FUNCTION projects.check_owner_membership()
 RETURNS trigger
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
declare
    v_project bigint;
begin
    if tg_table_name = 'projects' then
        v_project := new.id;
    else
        v_project := old.project_id;
    end if;
    if exists (
        select 1 from projects.projects p
        where p.id = v_project and p.deleted_at is null
          and not exists (select 1 from projects.project_access a
                          where a.project_id = p.id and a.user_id = p.owner_id and a.role = 'owner')
    ) then
        raise exception 'project % must keep its owner: the owner needs the owner role', v_project
            using errcode = 'check_violation', constraint = 'projects_owner_has_owner_role';
    end if;
    return null;
end
$function$;
