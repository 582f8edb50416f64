CREATE OR REPLACE FUNCTION documents.release_content(p_checksum text)
 RETURNS boolean
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
begin
    if exists (select from documents.document_registry where checksum = p_checksum)
            or exists (select from staging.documents_ingest where checksum = p_checksum) then
        return false;
    end if;
    delete from documents.contents where checksum = p_checksum;
    return not exists (select from staging.upload_claims where checksum = p_checksum);
end
$function$;
grant execute on function documents.release_content(text) to prosync_app;
