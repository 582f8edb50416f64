-- 0019 undone: no API tokens.
alter table audit.audit_log alter column context drop default;
drop trigger end_tokens_on_credential_change on users.users;
drop table auth.api_idempotency;
drop table auth.api_token_projects;
drop table auth.api_tokens;
drop function if exists audit.capture_auth_api_token_projects();
drop function if exists audit.capture_auth_api_tokens();
