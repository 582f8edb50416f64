drop view staging.rejected_documents;
drop view staging.pending_documents;
drop view audit.audit_trail_by_project;
drop view documents.active_documents;
drop view projects.onboarding_project_summary;
