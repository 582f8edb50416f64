drop function projects.actor_role(bigint, bigint);
