drop index audit.audit_log_project_time_idx;
create index audit_log_project_time_idx on audit.audit_log (project_id, "timestamp" desc)
    where project_id is not null;
drop index staging.documents_ingest_document_idx;
