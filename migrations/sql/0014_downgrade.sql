drop function documents.content_in_use(text);
drop function audit.recent_sign_in_failures(text, interval);
