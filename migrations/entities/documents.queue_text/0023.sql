create or replace function documents.queue_text() returns trigger
language plpgsql
set search_path = ''
as $$
begin
    -- Runs with the rights of whoever made the documents: their text is then extracted and stored
    -- by the background indexer as that same person (db/files/fulltext.py).
    insert into documents.text_queue (document_id, project_id, queued_by)
    select n.id, n.project_id, system.current_actor() from new_rows n
    on conflict (document_id) do nothing;
    return null;
end
$$;
comment on function documents.queue_text() is 'A new document waits in documents.text_queue for its text to be extracted';
