-- 0018 undone: downloads are not recorded; statements keep only PASSWORD '…' blanked (the
-- statements blanked by the upgrade stay blanked: a secret once removed is not put back).
drop function audit.record_download(text, bigint, jsonb);
create or replace function audit.statement_text() returns text
language sql
stable
set search_path = ''
as $$
    select pg_catalog.left(
        pg_catalog.regexp_replace(pg_catalog.current_query(), '(password\s*)''(''''|[^''])*''', '\1''…''', 'gi'),
        2000)
$$;
drop function audit.blank_secrets(text);
