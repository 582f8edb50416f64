drop trigger register on documents.documents;
create trigger register before insert or update of project_id, checksum on documents.documents
    for each row execute function documents.register_document();
