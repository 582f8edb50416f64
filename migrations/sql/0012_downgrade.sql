drop index audit.audit_log_ddl_idx;
drop event trigger if exists prosync_sql_drop;
drop event trigger if exists prosync_ddl_end;
drop function audit.record_drop();
drop function audit.record_ddl();
drop function audit.statement_text();
