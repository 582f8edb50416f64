-- 0019: personal access tokens for the HTTP API (/api/v1).
--
-- A token belongs to one user and can do at most what that user can: narrowed to some of the
-- user's projects (or all of them) and to scopes (read, upload, review), never carrying the user's
-- system roles. Only the SHA-256 of its secret is stored. The token acting in a transaction is
-- named by the setting prosync.token_id, which the data-access layer sets beside prosync.actor_id;
-- the database narrows row-level security by it (auth.token_limits) and the audit log names it.

create table auth.api_tokens (
    id bigint generated always as identity primary key,
    user_id bigint not null references users.users (id) on delete cascade,
    name text not null,
    token_hash bytea not null unique,     -- SHA-256 of the secret; the token is shown once, never stored
    token_prefix text not null,           -- psy_ and the secret's first characters: tells tokens apart in lists
    scopes text[] not null,
    all_projects boolean not null,        -- true: every project of the user's; false: api_token_projects only
    created_at timestamptz not null default now(),
    expires_at timestamptz not null,
    last_used_at timestamptz,
    last_used_ip inet,
    revoked_at timestamptz,
    revoked_by bigint references users.users (id) on delete set null,
    revoke_reason text,
    constraint api_tokens_name_text check (length(name) between 1 and 100 and name !~ '[[:cntrl:]]'),
    constraint api_tokens_hash_length check (octet_length(token_hash) = 32),
    constraint api_tokens_prefix_form check (token_prefix ~ '^psy_[A-Za-z0-9_-]{4,8}$'),
    constraint api_tokens_known_scopes check (
        cardinality(scopes) between 1 and 3 and scopes <@ array['read', 'upload', 'review']::text[]),
    -- at most a year: a token is a password that a machine keeps
    constraint api_tokens_lifetime check (expires_at > created_at and expires_at <= created_at + interval '366 days'),
    constraint api_tokens_used_in_lifetime check (last_used_at is null or last_used_at >= created_at),
    constraint api_tokens_revoke_reason_needs_revocation check (revoke_reason is null or revoked_at is not null),
    constraint api_tokens_revoke_reason_length check (length(revoke_reason) <= 200)
);
create index api_tokens_user_idx on auth.api_tokens (user_id, created_at desc);
-- Last use is not audited as a change (every use is its own audit row).
call audit.enable('auth.api_tokens', 'id', p_hidden => '{token_hash}', p_ignored => '{last_used_at,last_used_ip}');

create table auth.api_token_projects (
    token_id bigint not null references auth.api_tokens (id) on delete cascade,
    project_id bigint not null references projects.projects (id) on delete cascade,
    primary key (token_id, project_id)
);
create index api_token_projects_project_idx on auth.api_token_projects (project_id);
call audit.enable('auth.api_token_projects', 'token_id,project_id', p_project => 'project_id');

-- Tokens are seen and ended by their user or an admin, made by their user for themself, and never
-- by a token (a token cannot mint another).
create policy own_or_admin on auth.api_tokens for select
    using ((select system.actor_sees_all()) or user_id = (select system.current_actor()));
create policy own_token on auth.api_tokens for insert
    with check (user_id = (select system.current_actor())
                and nullif(current_setting('prosync.token_id', true), '') is null);
create policy own_or_admin_ends on auth.api_tokens for update
    using (((select system.actor_sees_all()) or user_id = (select system.current_actor()))
           and nullif(current_setting('prosync.token_id', true), '') is null)
    with check (((select system.actor_sees_all()) or user_id = (select system.current_actor()))
                and nullif(current_setting('prosync.token_id', true), '') is null);
create trigger guard_token_change before update on auth.api_tokens
    for each row execute function auth.guard_token_change();
alter table auth.api_tokens enable row level security;

create policy own_or_admin on auth.api_token_projects for select
    using ((select system.actor_sees_all())
           or exists (select from auth.api_tokens t where t.id = token_id and t.user_id = (select system.current_actor())));
-- A token may name only projects its user is a member of, and only as it is made (in the
-- transaction that made it): a token's projects are never added to afterwards.
create policy own_member_projects on auth.api_token_projects for insert
    with check (exists (select from auth.api_tokens t where t.id = token_id
                        and t.user_id = (select system.current_actor()) and t.created_at = now())
                and project_id = any ((select projects.actor_projects())::bigint[])
                and nullif(current_setting('prosync.token_id', true), '') is null);
alter table auth.api_token_projects enable row level security;

-- Idempotency keys of API requests (the Idempotency-Key header): a retried request gets the first
-- answer instead of doing the work twice. Bookkeeping, not history: the work itself is audited.
create table auth.api_idempotency (
    user_id bigint not null references users.users (id) on delete cascade,
    key text not null,
    fingerprint text not null,            -- the first request's path and content (files' names and SHA-256, fields)
    status_code integer,                  -- null while the first request is still running
    response jsonb,
    created_at timestamptz not null default now(),
    finished_at timestamptz,
    primary key (user_id, key),
    constraint api_idempotency_key_form check (length(key) between 1 and 250 and key !~ '[[:cntrl:]]'),  -- token id : the client's key
    constraint api_idempotency_fingerprint_length check (length(fingerprint) <= 500),
    constraint api_idempotency_finished check ((status_code is null) = (finished_at is null)),
    constraint api_idempotency_response_size check (pg_column_size(response) <= 1048576)
);
create index api_idempotency_created_idx on auth.api_idempotency (created_at);
create policy own_keys on auth.api_idempotency
    using (user_id = (select system.current_actor()))
    with check (user_id = (select system.current_actor()));
alter table auth.api_idempotency enable row level security;

-- A credential change ends the user's tokens, whichever path made it.
create trigger end_tokens_on_credential_change after update of password_hash, is_active, deleted_at on users.users
    for each row
    when (new.password_hash is distinct from old.password_hash
          or (old.is_active and not new.is_active)
          or (old.deleted_at is null and new.deleted_at is not null))
    execute function auth.end_tokens_on_credential_change();

-- Every audit row written while a token acts names it (the capture triggers leave context empty).
-- (The default reaches every partition, attached or, later, detached: the downgrade takes it from all.)
alter table audit.audit_log alter column context set default audit.via();

-- The onboarding summary counts a project's pending files and finds its last upload from this index
-- (count: the (project, 'pending') range; last upload: the newest of each status), instead of
-- reading every staged row of the project (20,000 for a big project of the 1m data set: 12 ms).
create index documents_ingest_project_status_time_idx on staging.documents_ingest (project_id, status, uploaded_at);
drop index staging.documents_ingest_project_status_idx;
