CREATE OR REPLACE FUNCTION system.touch()
 RETURNS trigger
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
begin
    new.updated_at := pg_catalog.now();
    new.updated_by := system.current_actor();
    return new;
end
$function$;
