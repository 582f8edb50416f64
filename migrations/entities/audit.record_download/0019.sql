CREATE OR REPLACE FUNCTION audit.record_download(p_kind text, p_id bigint, p_context jsonb)
 RETURNS void
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
declare
    v_project bigint;
    v_schema text;
    v_table text;
begin
    if p_kind in ('document', 'preview') then
        select d.project_id into v_project from documents.documents d where d.id = p_id;
        v_schema := 'documents';
        v_table := 'documents';
    elsif p_kind = 'staged' then
        select i.project_id into v_project from staging.documents_ingest i where i.id = p_id;
        v_schema := 'staging';
        v_table := 'documents_ingest';
    else
        raise exception 'Not a kind of download: %.', p_kind using errcode = 'PS400';
    end if;
    if v_project is null
            or not (system.actor_sees_all() or v_project = any (projects.actor_projects())) then
        raise exception 'There is no such file, or you do not have access to it.' using errcode = 'PS403';
    end if;
    if pg_catalog.length(p_context::text) > 2000 then
        raise exception 'The download''s context is too long.' using errcode = 'PS400';
    end if;
    insert into audit.audit_log (actor_id, action, schema_name, table_name, record_id, project_id, context)
    values (system.current_actor(), 'download', v_schema, v_table, p_id::text, v_project,
            pg_catalog.jsonb_build_object('kind', p_kind) || coalesce(p_context, '{}')
                || coalesce(audit.via(), '{}'));
end
$function$;
comment on function audit.record_download(text,bigint,jsonb) is 'A download of a document, preview or staged file, in its project''s audit trail';
grant execute on function audit.record_download(text,bigint,jsonb) to prosync_app;
