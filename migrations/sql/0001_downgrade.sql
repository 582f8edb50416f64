-- Every object of 0001, in reverse order of creation; the schemas last (restrict: a leftover
-- object from a later revision makes this fail loudly instead of vanishing).
drop function system.maintain_partitions(text, integer, integer, integer);
drop function system.create_partition(text, timestamptz);
drop function system.period_step(text);
drop function system.period_start(text, timestamptz);
drop view system.partitions;
drop table system.partition_policy;
drop procedure audit.enable(regclass, text, text, text, text, text, text);
drop function audit.capture();
drop table audit.audit_log;
drop function system.touch();
drop function system.current_actor();
drop table system.schema_version;
drop schema system;
drop schema audit;
drop schema staging;
drop schema documents;
drop schema projects;
drop schema auth;
drop schema users;
