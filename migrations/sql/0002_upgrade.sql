-- 0002: users, system-wide roles, sessions.

create table users.users (
    id bigint generated always as identity primary key,
    login text not null,                 -- e-mail address used to sign in
    display_name text not null,
    password_hash text not null,         -- argon2id encoded hash; never the password
    is_active boolean not null default true,
    last_login_at timestamptz,
    password_changed_at timestamptz not null default now(),
    created_at timestamptz not null default now(),
    created_by bigint default system.current_actor() references users.users (id) on delete set null,
    updated_at timestamptz not null default now(),
    updated_by bigint references users.users (id) on delete set null,
    deleted_at timestamptz,
    deleted_by bigint references users.users (id) on delete set null,
    -- Stricter than LIKE '%@%': one @, a local part, a dotted domain of letters, digits, hyphens.
    constraint users_login_email_check check (
        length(login) <= 254
        and login ~ '^[A-Za-z0-9!#$%&''*+/=?^_`{|}~.-]+@[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)+$'
    ),
    constraint users_display_name_check check (
        display_name = btrim(display_name) and length(display_name) between 1 and 200
    ),
    constraint users_password_hash_argon2id check (password_hash like '$argon2id$%')
);
-- Logins are unique whatever their case (Alice@x.org and alice@x.org are one person), including
-- soft-deleted users, so that a restore can never collide.
create unique index users_login_lower_key on users.users (lower(login));

create trigger touch before update on users.users
    for each row execute function system.touch();
call audit.enable('users.users', 'id', p_hidden => '{password_hash}');

-- System-wide roles beside the per-project ones: a small table rather than a flag column, so a
-- person can hold both and each grant is its own audited row.
create table users.system_role_reference (
    role text primary key check (role ~ '^[a-z_]+$'),
    description text not null
);
insert into users.system_role_reference (role, description) values
    ('admin', 'Manages users and may act on every project'),
    ('ops', 'Sees the database health screen');
call audit.enable('users.system_role_reference', 'role');

create table users.user_system_role (
    user_id bigint not null references users.users (id) on delete cascade,
    role text not null references users.system_role_reference (role) on update cascade,
    granted_at timestamptz not null default now(),
    granted_by bigint default system.current_actor() references users.users (id) on delete set null,
    primary key (user_id, role)
);
call audit.enable('users.user_system_role', 'user_id,role');

create table auth.sessions (
    id uuid primary key default gen_random_uuid(),
    user_id bigint not null references users.users (id) on delete cascade,
    token_hash bytea not null unique,    -- SHA-256 of the secret token; the token is never stored
    created_at timestamptz not null default now(),
    expires_at timestamptz not null,     -- absolute lifetime
    last_active_at timestamptz not null default now(),   -- idle timeout
    revoked_at timestamptz,
    revoked_by bigint references users.users (id) on delete set null,
    revoke_reason text,
    user_agent text,
    ip_address inet,
    constraint sessions_token_hash_length check (octet_length(token_hash) = 32),
    constraint sessions_expiry_after_creation check (expires_at > created_at),
    constraint sessions_last_active_in_lifetime check (last_active_at >= created_at),
    constraint sessions_revoke_reason_needs_revocation check (revoke_reason is null or revoked_at is not null),
    constraint sessions_user_agent_length check (length(user_agent) <= 1000)
);
create index sessions_user_open_idx on auth.sessions (user_id) where revoked_at is null;
create index sessions_expires_idx on auth.sessions (expires_at) where revoked_at is null;
-- Touching last_active_at alone is not audited (it happens at most once a minute per session).
call audit.enable('auth.sessions', 'id', p_hidden => '{token_hash}', p_ignored => '{last_active_at}');
