CREATE OR REPLACE FUNCTION documents.register_document()
 RETURNS trigger
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
    -- Security definer (revision 0020): the registry row is written with the owner's rights, so that
    -- row-level security is not evaluated again for it, once per document (each trigger's insert is a
    -- statement of its own: at 1m, 0.45 ms a document, a third of an approval's time in the database).
    -- The gate is the document row itself: its insert or update is checked by the documents table's
    -- policies after this BEFORE trigger has run, and a refusal there rolls this registry write back with
    -- it. The function is only ever a trigger on documents.documents.
begin
    if tg_op = 'UPDATE' then
        if (new.project_id, new.checksum) is distinct from (old.project_id, old.checksum) then
            update documents.document_registry set project_id = new.project_id, checksum = new.checksum
            where id = new.id;
        end if;
    elsif new.id is null then
        insert into documents.document_registry (project_id, checksum)
        values (new.project_id, new.checksum) returning id into new.id;
    elsif exists (select 1 from documents.document_registry where id = new.id) then
        -- An update that changes uploaded_at moves the row to another partition: PostgreSQL
        -- deletes it there and inserts it here, so the id is already registered and the old row
        -- is gone. Anything else reusing a live id is refused.
        if exists (select 1 from documents.documents where id = new.id) then
            raise exception 'document id % is already in use', new.id
                using errcode = 'unique_violation', constraint = 'document_registry_pkey';
        end if;
    else
        insert into documents.document_registry (id, project_id, checksum)
        values (new.id, new.project_id, new.checksum);
    end if;
    return new;
end
$function$;
