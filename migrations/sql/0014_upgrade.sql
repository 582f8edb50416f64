-- 0014: two checks that must look past row-level security, found when the data-access tests ran
-- as prosync_app. Each answers one question, not rows.

-- Sign-in throttling counts a login's recent failures, whose audit rows name no project and no
-- acting user: prosync_app (with no one signed in yet) sees none of them, so nothing was ever
-- throttled.
create function audit.recent_sign_in_failures(p_key text, p_window interval) returns bigint
language sql stable security definer
set search_path = ''
as $$
    select pg_catalog.count(*) from audit.audit_log
    where action = 'sign_in_failed' and record_id = p_key and "timestamp" > pg_catalog.now() - p_window
$$;

-- Purging a rejected file removes its object only when nothing else refers to the content: a
-- member of one project cannot see another project's documents, so a purge removed an object
-- another project's document still needed.
create function documents.content_in_use(p_checksum text) returns boolean
language sql stable security definer
set search_path = ''
as $$
    select exists (select from documents.document_registry where checksum = p_checksum)
        or exists (select from staging.documents_ingest where checksum = p_checksum)
$$;
