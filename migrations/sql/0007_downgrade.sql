create index documents_id_idx on documents.documents (id);
drop extension if exists pg_stat_statements;
