CREATE OR REPLACE FUNCTION documents.register_document()
 RETURNS trigger
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
begin
    -- With the caller's rights (revision 0022; 0020 made it SECURITY DEFINER, which let a member
    -- of one project move another project's registry row into theirs through a document of their
    -- own, then delete it): every registry write here is held to the registry's own policies.
    if tg_op = 'UPDATE' then
        -- A document keeps its id: the registry row, the history and the staged file that name it
        -- are keyed by it, and a document given another's id would share that one's registry row.
        if new.id is distinct from old.id then
            raise exception 'A document''s id never changes.' using errcode = 'PS400';
        end if;
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
