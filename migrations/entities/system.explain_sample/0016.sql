CREATE OR REPLACE FUNCTION system.explain_sample(p_project bigint, p_ranked bigint[])
 RETURNS TABLE(project_id bigint, project_name text, documents bigint, user_id bigint, login text, document_name text)
 LANGUAGE plpgsql
 STABLE SECURITY DEFINER
 SET search_path TO ''
AS $function$
#variable_conflict use_column
begin
    if not (system.actor_is_ops() or pg_catalog.pg_has_role(session_user, 'prosync_owner', 'USAGE')) then
        raise exception 'Only ops and admins may run the screens'' queries as a member.'
            using errcode = '42501';
    end if;
    if p_project is null and coalesce(pg_catalog.cardinality(p_ranked), 0) = 0 then
        select pg_catalog.array_agg(x.project_id) into p_ranked
        from (select r.project_id from documents.document_registry r
              group by r.project_id order by pg_catalog.count(*) desc, r.project_id limit 100) x;
    end if;
    return query
    select p.id, p.name,
           (select pg_catalog.count(*) from documents.documents d
            where d.project_id = p.id and d.deleted_at is null),
           m.id, m.login,
           (select d.name from documents.documents d where d.project_id = p.id and d.deleted_at is null
            order by d.uploaded_at desc, d.id desc limit 1)
    from projects.projects p
    cross join lateral (
        select u.id, u.login
        from projects.project_access a
        join projects.access_role_reference r on r.role = a.role
        join users.users u on u.id = a.user_id and u.is_active and u.deleted_at is null
        where a.project_id = p.id
        order by r.rank desc, u.id
        limit 1
    ) m
    where p.deleted_at is null and (p_project is null or p.id = p_project)
    order by pg_catalog.array_position(p_ranked, p.id) nulls last, p.id
    limit 1;
end
$function$;
grant execute on function system.explain_sample(bigint,bigint[]) to prosync_app;
