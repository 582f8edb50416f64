create or replace function documents.claim_text_work(p_limit integer, p_seconds integer, p_made_by_users boolean)
returns table (document_id bigint, queued_by bigint)
language plpgsql
volatile
security definer
set search_path = ''
as $$
begin
    -- Several indexers (one per dashboard process, `prosync reindex-text`) share the queue: each
    -- takes rows no other holds, for a while; a row whose indexer died is taken again after that,
    -- and one that failed five times waits for `prosync reindex-text`. A dashboard takes only
    -- documents a user made (it stores their text with that user's rights); the command line all.
    -- Documents of a project in the trash are left until it is restored.
    -- Only an indexer claims: it acts for nobody until it stores a text as its approver, so a
    -- signed-in user's session (or an API token's) may not hand out the queue.
    if system.current_actor() is not null then
        raise exception 'only a text indexer, acting for nobody, claims queued documents'
            using errcode = 'insufficient_privilege';
    end if;
    return query
    update documents.text_queue q
    set claimed_until = pg_catalog.now() + pg_catalog.make_interval(secs => least(greatest(p_seconds, 60), 3600)),
        attempts = q.attempts + 1
    where q.document_id in (
        select w.document_id from documents.text_queue w
        where (w.claimed_until is null or w.claimed_until < pg_catalog.now()) and w.attempts < 5
          and (w.queued_by is not null or not p_made_by_users)
          -- a project in the trash: its documents wait, without spending their tries, until it is
          -- restored (no one may read them meanwhile, the approver included)
          and not exists (select from projects.projects p where p.id = w.project_id and p.deleted_at is not null)
        order by w.queued_at, w.document_id
        limit least(greatest(p_limit, 1), 100)
        for update skip locked
    )
    returning q.document_id, q.queued_by;
end
$$;
comment on function documents.claim_text_work(integer, integer, boolean) is 'Documents whose text an indexer extracts next, and as whom; held for p_seconds';
grant execute on function documents.claim_text_work(integer, integer, boolean) to prosync_app;
