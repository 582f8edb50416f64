drop table projects.project_tag;
drop table projects.tag_reference;
drop table projects.project_access;
drop table projects.project_history;
drop table projects.projects;
drop function projects.check_owner_membership();
drop table projects.access_role_reference;
