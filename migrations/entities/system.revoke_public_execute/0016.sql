CREATE OR REPLACE PROCEDURE system.revoke_public_execute()
 LANGUAGE plpgsql
 SET search_path TO ''
AS $procedure$
declare
    s text;
begin
    foreach s in array array['users', 'auth', 'projects', 'documents', 'staging', 'audit', 'system'] loop
        execute format('revoke execute on all routines in schema %I from public', s);
    end loop;
end
$procedure$;
comment on procedure system.revoke_public_execute() is 'EXECUTE on every routine in ProSync''s schemas is granted by name, never to PUBLIC';
