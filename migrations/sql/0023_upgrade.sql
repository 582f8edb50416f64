-- 0023: full-text search inside files. The text extracted from a document's file, and the words it
-- is searched by, live beside the document (not in it: the audit captures whole rows, and a
-- document's row would carry its text through every soft delete and edit). New documents wait in
-- a queue written in the same transaction as the document, for the background indexer.

-- A document's text names its project; this key lets it follow the registry's (on update cascade).
alter table documents.document_registry
    add constraint document_registry_id_project_key unique (id, project_id);

create table documents.document_text (
    document_id bigint primary key,
    project_id bigint not null,          -- the document's, kept so by the foreign key; for the policies
    uploaded_at timestamptz not null,    -- the document's (never changed), to reach its partition
    language regconfig not null,         -- the text search configuration its words were taken with
    body text not null,                  -- the extracted text (its first 300,000 characters); '' when none
    search_vector tsvector generated always as (pg_catalog.to_tsvector(language, body)) stored,
    failure text,                        -- why no text could be taken from the file, for a person
    extracted_at timestamptz not null default now(),
    extracted_by bigint default system.current_actor() references users.users (id) on delete set null,
    foreign key (document_id, project_id) references documents.document_registry (id, project_id)
        on update cascade on delete cascade,
    constraint document_text_body_length check (length(body) <= 300000),
    -- the marks of a snippet's matched words (db/domain/search.py): never in a stored text
    constraint document_text_no_marks check (strpos(body, chr(1)) = 0 and strpos(body, chr(2)) = 0),
    constraint document_text_failure_length check (length(failure) between 1 and 1000)
);
alter table documents.document_text alter column body set storage extended;
create index document_text_search_idx on documents.document_text using gin (search_vector);
-- A search walks the matches newest first (db/domain/search.py): across projects, or in one.
create index document_text_recent_idx on documents.document_text (uploaded_at desc, document_id desc);
create index document_text_project_idx on documents.document_text (project_id, uploaded_at desc, document_id desc);
call audit.enable('documents.document_text', 'document_id', 'project_id', p_hidden => '{body,search_vector}');

create table documents.text_queue (
    document_id bigint primary key,
    project_id bigint not null,
    queued_at timestamptz not null default now(),
    queued_by bigint references users.users (id) on delete set null,  -- whose rights the text is stored with
    claimed_until timestamptz,           -- an indexer is working on it until then
    attempts integer not null default 0, -- claims so far; at five it waits for `prosync reindex-text`
    foreign key (document_id, project_id) references documents.document_registry (id, project_id)
        on update cascade on delete cascade
);
create index text_queue_order_idx on documents.text_queue (queued_at, document_id);

create trigger queue_text after insert on documents.documents referencing new table as new_rows
    for each statement execute function documents.queue_text();

-- Members see their projects' rows; storing or removing a text, or queueing a document or taking it
-- off the queue, takes what approving takes, and a queued document names its queuer truly (the
-- indexer stores its text as that user). Nobody but the claim function changes a queued row.
create policy member_rows on documents.document_text
    using ((select system.actor_sees_all()) or project_id = any ((select projects.actor_projects())::bigint[]));
create policy member_rows on documents.text_queue
    using ((select system.actor_sees_all()) or project_id = any ((select projects.actor_projects())::bigint[]));
do $$
declare
    command text;
begin
    foreach command in array array['insert', 'update', 'delete'] loop
        execute format(
            'create policy %I on documents.document_text as restrictive for %s %s ((select system.actor_sees_all())'
            ' or project_id = any ((select projects.actor_projects_with(%L))::bigint[]))',
            'may_' || command, command, case command when 'insert' then 'with check' else 'using' end, 'can_review'
        );
    end loop;
end
$$;
create policy may_insert on documents.text_queue as restrictive for insert with check (
    (select system.actor_sees_all())
    or (project_id = any ((select projects.actor_projects_with('can_review'))::bigint[])
        and queued_by is not distinct from system.current_actor()));
create policy may_delete on documents.text_queue as restrictive for delete using (
    (select system.actor_sees_all()) or project_id = any ((select projects.actor_projects_with('can_review'))::bigint[]));
alter table documents.document_text enable row level security;
alter table documents.text_queue enable row level security;

-- Documents made before this revision wait for `prosync reindex-text` (the command line reads
-- them: no dashboard may act for whoever approved them then); `prosync db upgrade` says so.
insert into documents.text_queue (document_id, project_id, queued_by)
select id, project_id, null from documents.document_registry;

-- As for the name search (revision 0016): under row-level security only a LEAKPROOF condition runs
-- ahead of the policy, so a search's `@@` could not use its GIN index. ts_match_vq raises errors
-- only about the query (the searcher's own words), never about a row's words.
do $$
begin
    if not (select proleakproof from pg_proc where oid = 'pg_catalog.ts_match_vq(tsvector, tsquery)'::regprocedure) then
        begin
            alter function pg_catalog.ts_match_vq(tsvector, tsquery) leakproof;
        exception when insufficient_privilege then
            raise warning 'search inside files will not use its index under row-level security (%): '
                'a superuser can run `alter function pg_catalog.ts_match_vq(tsvector, tsquery) leakproof` in this database',
                sqlerrm;
        end;
    end if;
end
$$;
