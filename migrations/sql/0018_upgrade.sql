-- 0018: what the audit log keeps and what it was missing.
--
-- Found: the schema-change audit blanked `PASSWORD '…'` but not `PASSWORD E'…'`, a dollar-quoted
-- password, or a password inside a connection string (CONNECTION 'host=… password=…', a URI's
-- user:password@), and the Ops screen showed them; and downloads (/files, previews, presigned
-- links) left no trace.

-- Every secret-looking value of a statement blanked. Over-blanking is harmless (the statement is
-- for a person to read); under-blanking leaks. Applied to every statement before it is stored.
create function audit.blank_secrets(p_statement text) returns text
language sql immutable parallel safe
set search_path = ''
as $fn$
    select pg_catalog.regexp_replace(pg_catalog.regexp_replace(pg_catalog.regexp_replace(
           pg_catalog.regexp_replace(p_statement,
        -- PASSWORD 'x', PASSWORD E'x' (backslash escapes), password = 'x', password 'it''s'
        '(password\s*=?\s*)[eE]?''(''''|\\.|[^''\\])*''', '\1''…''', 'gi'),
        -- PASSWORD $$x$$ or $tag$x$tag$
        '(password\s*=?\s*)\$([A-Za-z_0-9]*)\$.*?\$\2\$', '\1''…''', 'gi'),
        -- password=x inside a connection string (CONNECTION 'host=h password=x', OPTIONS …)
        '(password\s*=\s*)[^\s'',;)]+', '\1…', 'gi'),
        -- user:password@host inside a URI
        '(://[^:/@\s'']*:)[^@\s'']+@', '\1…@', 'g')
$fn$;

-- The event triggers (which run as prosync_owner) call it from the next statement on: it must be
-- the owner's already, as EXECUTE is no one else's (system.revoke_public_execute).
alter function audit.blank_secrets(text) owner to prosync_owner;

create or replace function audit.statement_text() returns text
language sql
stable
set search_path = ''
as $$
    -- The statement that made the change, at most 2,000 characters, secrets blanked: the audit
    -- log holds no secrets.
    select pg_catalog.left(audit.blank_secrets(pg_catalog.current_query()), 2000)
$$;

-- Statements already recorded with a secret in them are blanked too: history keeps what changed
-- and who changed it, not the password.
update audit.audit_log
set context = pg_catalog.jsonb_set(context, '{statement}', pg_catalog.to_jsonb(audit.blank_secrets(context ->> 'statement')))
where action = 'ddl' and context ? 'statement'
  and context ->> 'statement' is distinct from audit.blank_secrets(context ->> 'statement');

-- A download of a document, its preview or a staged file, in the project's own audit trail, by a
-- member of that project (or an admin). The route records before it serves: no record, no file.
create function audit.record_download(p_kind text, p_id bigint, p_context jsonb) returns void
language plpgsql
security definer
set search_path = ''
as $$
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
            pg_catalog.jsonb_build_object('kind', p_kind) || coalesce(p_context, '{}'));
end
$$;
comment on function audit.record_download(text, bigint, jsonb) is
    'A download of a document, preview or staged file, in its project''s audit trail';

grant execute on function audit.record_download(text, bigint, jsonb) to prosync_app;
