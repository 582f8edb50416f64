drop index audit.audit_log_sign_in_failures_idx;
drop function audit.record_event(text, text, text, jsonb);
