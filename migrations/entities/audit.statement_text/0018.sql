CREATE OR REPLACE FUNCTION audit.statement_text()
 RETURNS text
 LANGUAGE sql
 STABLE
 SET search_path TO ''
AS $function$
    -- The statement that made the change, at most 2,000 characters, secrets blanked: the audit
    -- log holds no secrets.
    select pg_catalog.left(audit.blank_secrets(pg_catalog.current_query()), 2000)
$function$;
