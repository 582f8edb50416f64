CREATE OR REPLACE FUNCTION audit.blank_secrets(p_statement text)
 RETURNS text
 LANGUAGE sql
 IMMUTABLE PARALLEL SAFE
 SET search_path TO ''
AS $function$
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
$function$;
