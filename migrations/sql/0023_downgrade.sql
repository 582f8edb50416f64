-- 0023 undone: no text for search inside files.
drop trigger queue_text on documents.documents;
drop table documents.text_queue;
drop table documents.document_text;
drop function if exists audit.capture_documents_document_text();
alter table documents.document_registry drop constraint document_registry_id_project_key;
-- ts_match_vq as PostgreSQL ships it (revision 0023 made it LEAKPROOF), where this login may.
do $$
begin
    alter function pg_catalog.ts_match_vq(tsvector, tsquery) not leakproof;
exception when insufficient_privilege then
    null;
end
$$;
