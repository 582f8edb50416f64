-- 0004: file types, storage providers, content, documents (partitioned by quarter), history, staging.

create table documents.filetype_reference (
    mime_type text primary key check (mime_type ~ '^[a-z]+/[a-z0-9.+-]+$'),
    label text not null,
    category text not null,              -- document, image, spreadsheet, archive, executable...
    extensions text[] not null check (cardinality(extensions) > 0),   -- lowercase, without dot
    allowed boolean not null default true,
    max_size_bytes bigint not null check (max_size_bytes > 0),
    previewable boolean not null default false,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    updated_by bigint references users.users (id) on delete set null
);
create trigger touch before update on documents.filetype_reference
    for each row execute function system.touch();
call audit.enable('documents.filetype_reference', 'mime_type');

insert into documents.filetype_reference
    (mime_type, label, category, extensions, allowed, max_size_bytes, previewable) values
    ('application/pdf', 'PDF', 'document', '{pdf}', true, 104857600, true),
    ('text/plain', 'Text', 'document', '{txt,log}', true, 10485760, true),
    ('text/markdown', 'Markdown', 'document', '{md,markdown}', true, 10485760, true),
    ('text/csv', 'CSV', 'spreadsheet', '{csv}', true, 52428800, true),
    ('application/json', 'JSON', 'data', '{json}', true, 52428800, true),
    ('image/png', 'PNG image', 'image', '{png}', true, 26214400, true),
    ('image/jpeg', 'JPEG image', 'image', '{jpg,jpeg}', true, 26214400, true),
    ('image/gif', 'GIF image', 'image', '{gif}', true, 26214400, true),
    ('image/webp', 'WebP image', 'image', '{webp}', true, 26214400, true),
    ('application/vnd.openxmlformats-officedocument.wordprocessingml.document', 'Word document',
        'document', '{docx}', true, 104857600, false),
    ('application/vnd.openxmlformats-officedocument.spreadsheetml.sheet', 'Excel workbook',
        'spreadsheet', '{xlsx}', true, 104857600, false),
    ('application/vnd.openxmlformats-officedocument.presentationml.presentation', 'PowerPoint deck',
        'presentation', '{pptx}', true, 209715200, false),
    ('application/zip', 'ZIP archive', 'archive', '{zip}', true, 524288000, false),
    -- Known but refused: they run code in a browser or on a desktop.
    ('image/svg+xml', 'SVG image (refused: may carry scripts)', 'image', '{svg}', false, 1048576, false),
    ('text/html', 'HTML page (refused: may carry scripts)', 'document', '{html,htm}', false, 1048576, false),
    ('application/x-msdownload', 'Windows executable (refused)', 'executable', '{exe,dll}', false, 1, false),
    ('application/x-executable', 'ELF executable (refused)', 'executable', '{elf,bin}', false, 1, false),
    ('application/x-sh', 'Shell script (refused)', 'executable', '{sh}', false, 1, false);

-- Where bytes live. Only the provider kind and a label: endpoints, buckets and credentials come
-- from settings and the environment, never from the database.
create table documents.storage_reference (
    code text primary key check (code ~ '^[a-z0-9_]+$'),
    provider text not null check (provider in ('local', 's3')),
    description text not null,
    is_default boolean not null default false,
    created_at timestamptz not null default now()
);
create unique index storage_reference_one_default on documents.storage_reference ((true)) where is_default;
call audit.enable('documents.storage_reference', 'code');
insert into documents.storage_reference (code, provider, description, is_default) values
    ('local', 'local', 'A folder on the ProSync host (PROSYNC_STORAGE_DIR)', true),
    ('s3', 's3', 'An S3-compatible bucket (endpoint, bucket, prefix and region from settings)', false);

-- One row per distinct content (SHA-256): the seed's UNIQUE (checksum) lives here, where it can be
-- a real unique key (documents is partitioned, and its keys must include uploaded_at).
create table documents.contents (
    checksum text primary key,           -- SHA-256 of the bytes, lowercase hex
    size_bytes bigint not null,
    storage_code text not null references documents.storage_reference (code),
    object_key text not null,            -- made by ProSync from the checksum, never from a file name
    created_at timestamptz not null default now(),
    created_by bigint default system.current_actor() references users.users (id) on delete set null,
    constraint contents_checksum_sha256 check (checksum ~ '^[0-9a-f]{64}$'),
    constraint contents_size_positive check (size_bytes > 0),
    constraint contents_object_key_check check (object_key ~ '^[A-Za-z0-9/_.-]+$' and length(object_key) <= 1024),
    unique (storage_code, object_key)
);
call audit.enable('documents.contents', 'checksum');

-- Narrow, unpartitioned key table for documents: gives every document an id that foreign keys can
-- point at, and enforces "the same content once per project" (race-safe: a unique index).
create table documents.document_registry (
    id bigint generated by default as identity primary key,
    project_id bigint not null references projects.projects (id) on delete cascade,
    checksum text not null references documents.contents (checksum),
    constraint document_registry_project_checksum_key unique (project_id, checksum)
);

create table documents.documents (
    id bigint not null,                  -- assigned from document_registry by a trigger
    uploaded_at timestamptz not null default now(),
    project_id bigint not null references projects.projects (id) on delete cascade,
    name text not null,                  -- the file name as uploaded, for display only
    description text not null default '',
    mime_type text not null references documents.filetype_reference (mime_type),
    checksum text not null references documents.contents (checksum),
    image_url text,                      -- preview (thumbnail) location, when one was made
    metadata jsonb not null default '{}',
    uploaded_by bigint references users.users (id) on delete set null,
    ingest_id bigint,                    -- the staging row it was approved from
    updated_at timestamptz not null default now(),
    updated_by bigint references users.users (id) on delete set null,
    deleted_at timestamptz,
    deleted_by bigint references users.users (id) on delete set null,
    primary key (id, uploaded_at),
    foreign key (id) references documents.document_registry (id) on delete cascade,
    constraint documents_name_check check (
        length(name) between 1 and 255 and name !~ '[/\\[:cntrl:]]' and name not in ('.', '..')
    ),
    constraint documents_description_length check (length(description) <= 10000),
    constraint documents_metadata_object check (jsonb_typeof(metadata) = 'object')
) partition by range (uploaded_at);
alter table documents.documents alter column metadata set storage extended;
alter table documents.documents alter column description set storage extended;

create table documents.documents_default partition of documents.documents default;

create index idx_documents_project_date on documents.documents (project_id, uploaded_at desc, id desc);
create index documents_checksum_idx on documents.documents (checksum);
create index documents_id_idx on documents.documents (id);

create function documents.register_document() returns trigger
language plpgsql
set search_path = ''
as $$
begin
    if tg_op = 'UPDATE' then
        if (new.project_id, new.checksum) is distinct from (old.project_id, old.checksum) then
            update documents.document_registry set project_id = new.project_id, checksum = new.checksum
            where id = new.id;
        end if;
    elsif new.id is null then
        insert into documents.document_registry (project_id, checksum)
        values (new.project_id, new.checksum) returning id into new.id;
    elsif exists (select 1 from documents.document_registry where id = new.id) then
        -- An update that changes uploaded_at moves the row to another partition: PostgreSQL
        -- deletes it there and inserts it here, so the id is already registered and the old row
        -- is gone. Anything else reusing a live id is refused.
        if exists (select 1 from documents.documents where id = new.id) then
            raise exception 'document id % is already in use', new.id
                using errcode = 'unique_violation', constraint = 'document_registry_pkey';
        end if;
    else
        insert into documents.document_registry (id, project_id, checksum)
        values (new.id, new.project_id, new.checksum);
    end if;
    return new;
end
$$;
create trigger register before insert or update of project_id, checksum on documents.documents
    for each row execute function documents.register_document();
create trigger touch before update on documents.documents
    for each row execute function system.touch();

create table documents.document_history (
    id bigint generated always as identity primary key,
    document_id bigint not null references documents.document_registry (id) on delete cascade,
    project_id bigint not null,
    operation text not null check (operation in ('insert', 'update', 'soft_delete', 'restore')),
    changed_at timestamptz not null default now(),
    changed_by bigint,                   -- no foreign key: history outlives users
    old_values jsonb,
    new_values jsonb,
    changed_columns text[]
);
alter table documents.document_history alter column old_values set storage extended;
alter table documents.document_history alter column new_values set storage extended;
create index document_history_document_idx on documents.document_history (document_id, changed_at desc);

call audit.enable('documents.documents', 'id', 'project_id', 'documents.document_history', 'document_id');

insert into system.partition_policy (parent_table, period, storage_options) values
    -- Soft delete, restore and edits update rows: leave room for HOT updates; vacuum and analyze
    -- early because listing queries lean on fresh statistics.
    ('documents.documents', 'quarter', array[
        'fillfactor=90',
        'autovacuum_vacuum_scale_factor=0.05',
        'autovacuum_analyze_scale_factor=0.02',
        'parallel_workers=2',
        'toast_tuple_target=1024']);
select system.maintain_partitions('documents.documents', 4, 8);

create table staging.documents_ingest (
    id bigint generated always as identity primary key,
    project_id bigint not null references projects.projects (id) on delete cascade,
    original_name text not null,         -- as the uploader's disk called it; display only
    declared_mime text,                  -- what the client said the type was
    detected_mime text not null references documents.filetype_reference (mime_type),  -- from the bytes
    checksum text not null references documents.contents (checksum),
    status text not null default 'pending',
    rejection_reason text,
    notes text not null default '',      -- from the uploader
    reviewer_notes text not null default '',
    metadata jsonb not null default '{}',
    uploaded_by bigint default system.current_actor() references users.users (id) on delete set null,
    uploaded_at timestamptz not null default now(),
    reviewed_by bigint references users.users (id) on delete set null,
    reviewed_at timestamptz,
    document_id bigint references documents.document_registry (id) on delete set null,
    updated_at timestamptz not null default now(),
    updated_by bigint references users.users (id) on delete set null,
    constraint documents_ingest_status_check check (status in ('pending', 'approved', 'rejected')),
    constraint documents_ingest_rejection_reason check (
        status <> 'rejected' or length(btrim(coalesce(rejection_reason, ''))) > 0
    ),
    constraint documents_ingest_reviewed_when_decided check ((status = 'pending') = (reviewed_at is null)),
    constraint documents_ingest_name_check check (
        length(original_name) between 1 and 255 and original_name !~ '[/\\[:cntrl:]]'
        and original_name not in ('.', '..')
    ),
    constraint documents_ingest_notes_length check (length(notes) <= 10000 and length(reviewer_notes) <= 10000),
    constraint documents_ingest_metadata_object check (jsonb_typeof(metadata) = 'object')
);
alter table staging.documents_ingest alter column metadata set storage extended;
-- Deduplication: one pending file per content per project (race-safe), and the lookup by checksum.
create unique index idx_documents_ingest_checksum on staging.documents_ingest (checksum, project_id)
    where status = 'pending';
create index documents_ingest_queue_idx on staging.documents_ingest (uploaded_at, id) where status = 'pending';
create index documents_ingest_rejected_idx on staging.documents_ingest (reviewed_at desc, id desc)
    where status = 'rejected';
create index documents_ingest_project_status_idx on staging.documents_ingest (project_id, status);
create trigger touch before update on staging.documents_ingest
    for each row execute function system.touch();
call audit.enable('staging.documents_ingest', 'id', 'project_id');
