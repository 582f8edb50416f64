-- 0003: projects, roles and access, history, tags.

create table projects.access_role_reference (
    role text primary key check (role ~ '^[a-z_]+$'),
    rank smallint not null unique check (rank > 0),   -- grants may not exceed the granter's rank
    description text not null,
    can_view boolean not null default true,
    can_upload boolean not null default false,
    can_review boolean not null default false,
    can_tag boolean not null default false,
    can_delete boolean not null default false,        -- soft delete and restore documents
    can_manage_access boolean not null default false,
    can_edit_project boolean not null default false,
    can_delete_project boolean not null default false,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    updated_by bigint references users.users (id) on delete set null
);
insert into projects.access_role_reference
    (role, rank, description, can_view, can_upload, can_review, can_tag, can_delete,
     can_manage_access, can_edit_project, can_delete_project) values
    ('owner', 50, 'Accountable for the project: everything, including deleting it',
        true, true, true, true, true, true, true, true),
    ('maintainer', 40, 'Runs the project day to day: members, tags, documents',
        true, true, true, true, true, true, true, false),
    ('reviewer', 30, 'Approves or rejects staged files; may upload',
        true, true, true, false, false, false, false, false),
    ('contributor', 20, 'Uploads files and tags the project',
        true, true, false, true, false, false, false, false),
    ('viewer', 10, 'Reads the project and its documents',
        true, false, false, false, false, false, false, false);
create trigger touch before update on projects.access_role_reference
    for each row execute function system.touch();
call audit.enable('projects.access_role_reference', 'role');

create table projects.projects (
    id bigint generated always as identity primary key,
    name text not null,
    description text not null default '',
    owner_id bigint not null references users.users (id) on delete restrict,  -- accountable owner
    created_at timestamptz not null default now(),
    created_by bigint default system.current_actor() references users.users (id) on delete set null,
    updated_at timestamptz not null default now(),
    updated_by bigint references users.users (id) on delete set null,
    deleted_at timestamptz,
    deleted_by bigint references users.users (id) on delete set null,
    constraint projects_name_check check (name = btrim(name) and length(name) between 1 and 200),
    constraint projects_description_length check (length(description) <= 10000)
);
-- Names are unique among live projects; a soft-deleted project frees its name.
create unique index projects_name_live_key on projects.projects (lower(name)) where deleted_at is null;
create index projects_owner_idx on projects.projects (owner_id);
create trigger touch before update on projects.projects
    for each row execute function system.touch();

create table projects.project_history (
    id bigint generated always as identity primary key,
    project_id bigint not null references projects.projects (id) on delete cascade,
    operation text not null check (operation in ('insert', 'update', 'soft_delete', 'restore')),
    changed_at timestamptz not null default now(),
    changed_by bigint,                   -- no foreign key: history outlives users
    old_values jsonb,
    new_values jsonb,
    changed_columns text[]
);
alter table projects.project_history alter column old_values set storage extended;
alter table projects.project_history alter column new_values set storage extended;
create index project_history_project_idx on projects.project_history (project_id, changed_at desc);

call audit.enable('projects.projects', 'id', 'id', 'projects.project_history', 'project_id');

create table projects.project_access (
    project_id bigint not null references projects.projects (id) on delete cascade,
    user_id bigint not null references users.users (id) on delete cascade,
    role text not null references projects.access_role_reference (role) on update cascade,
    granted_at timestamptz not null default now(),
    granted_by bigint default system.current_actor() references users.users (id) on delete set null,
    updated_at timestamptz not null default now(),
    updated_by bigint references users.users (id) on delete set null,
    primary key (project_id, user_id)
);
-- Permission resolution: "which projects may this user see, and as what".
create index idx_project_access_user_role on projects.project_access (user_id, role, project_id);
create trigger touch before update on projects.project_access
    for each row execute function system.touch();
call audit.enable('projects.project_access', 'project_id,user_id', 'project_id');

-- A live project's owner_id must hold the owner role in project_access (so a project always keeps
-- at least one owner). Deferred to commit: a project and its first grant are made in one transaction.
create function projects.check_owner_membership() returns trigger
language plpgsql
set search_path = ''
as $$
declare
    v_project bigint;
begin
    if tg_table_name = 'projects' then
        v_project := new.id;
    else
        v_project := old.project_id;
    end if;
    if exists (
        select 1 from projects.projects p
        where p.id = v_project and p.deleted_at is null
          and not exists (select 1 from projects.project_access a
                          where a.project_id = p.id and a.user_id = p.owner_id and a.role = 'owner')
    ) then
        raise exception 'project % must keep its owner: the owner needs the owner role', v_project
            using errcode = 'check_violation', constraint = 'projects_owner_has_owner_role';
    end if;
    return null;
end
$$;
create constraint trigger owner_membership after insert or update of owner_id, deleted_at
    on projects.projects deferrable initially deferred
    for each row execute function projects.check_owner_membership();
create constraint trigger owner_membership after update or delete on projects.project_access
    deferrable initially deferred
    for each row execute function projects.check_owner_membership();

create table projects.tag_reference (
    id bigint generated always as identity primary key,
    name text not null,
    category text not null,              -- groups tags for filters and the UI
    description text not null default '',
    color text,
    created_at timestamptz not null default now(),
    created_by bigint default system.current_actor() references users.users (id) on delete set null,
    updated_at timestamptz not null default now(),
    updated_by bigint references users.users (id) on delete set null,
    constraint tag_reference_name_check check (name = btrim(name) and length(name) between 1 and 60),
    constraint tag_reference_category_check check (category ~ '^[a-z][a-z0-9_-]{0,39}$'),
    constraint tag_reference_color_check check (color ~ '^#[0-9a-f]{6}$')
);
create unique index tag_reference_category_name_key on projects.tag_reference (category, lower(name));
create trigger touch before update on projects.tag_reference
    for each row execute function system.touch();
call audit.enable('projects.tag_reference', 'id');

insert into projects.tag_reference (name, category, description, color) values
    ('Engineering', 'team', 'Engineering teams', '#1f77b4'),
    ('Finance', 'team', 'Finance and controlling', '#2ca02c'),
    ('Legal', 'team', 'Contracts and compliance', '#9467bd'),
    ('Onboarding', 'phase', 'New members are being brought in', '#ff7f0e'),
    ('Active', 'phase', 'Work in progress', '#17becf'),
    ('Archived', 'phase', 'Finished; kept for reference', '#7f7f7f'),
    ('Confidential', 'sensitivity', 'Restricted audience', '#d62728'),
    ('Internal', 'sensitivity', 'Whole organisation', '#bcbd22');

create table projects.project_tag (
    project_id bigint not null references projects.projects (id) on delete cascade,
    tag_id bigint not null references projects.tag_reference (id) on delete cascade,
    tagged_at timestamptz not null default now(),
    tagged_by bigint default system.current_actor() references users.users (id) on delete set null,
    primary key (project_id, tag_id)
);
create index project_tag_tag_idx on projects.project_tag (tag_id);
call audit.enable('projects.project_tag', 'project_id,tag_id', 'project_id');
