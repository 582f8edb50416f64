drop table auth.sessions;
drop table users.user_system_role;
drop table users.system_role_reference;
drop table users.users;
