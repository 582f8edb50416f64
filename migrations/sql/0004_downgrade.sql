drop table staging.documents_ingest;
delete from system.partition_policy where parent_table = 'documents.documents';
drop table documents.document_history;
drop table documents.documents;
drop function documents.register_document();
drop table documents.document_registry;
drop table documents.contents;
drop table documents.storage_reference;
drop table documents.filetype_reference;
