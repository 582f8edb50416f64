create or replace function documents.claim_text_work(p_limit integer, p_seconds integer, p_made_by_users boolean)
returns table (document_id bigint, queued_by bigint)
language sql
volatile
security definer
set search_path = ''
as $$
    -- Several indexers (one per dashboard process, `prosync reindex-text`) share the queue: each
    -- takes rows no other holds, for a while; a row whose indexer died is taken again after that,
    -- and one that failed five times waits for `prosync reindex-text`. A dashboard takes only
    -- documents a user made (it stores their text with that user's rights); the command line all.
    update documents.text_queue q
    set claimed_until = pg_catalog.now() + pg_catalog.make_interval(secs => least(greatest(p_seconds, 10), 3600)),
        attempts = q.attempts + 1
    where q.document_id in (
        select w.document_id from documents.text_queue w
        where (w.claimed_until is null or w.claimed_until < pg_catalog.now()) and w.attempts < 5
          and (w.queued_by is not null or not p_made_by_users)
        order by w.queued_at, w.document_id
        limit least(greatest(p_limit, 1), 100)
        for update skip locked
    )
    returning q.document_id, q.queued_by
$$;
comment on function documents.claim_text_work(integer, integer, boolean) is 'Documents whose text an indexer extracts next, and as whom; held for p_seconds';
grant execute on function documents.claim_text_work(integer, integer, boolean) to prosync_app;
