-- The trigger fires when the id is changed too, so that register_document can refuse it.
drop trigger register on documents.documents;
create trigger register before insert or update of id, project_id, checksum on documents.documents
    for each row execute function documents.register_document();
