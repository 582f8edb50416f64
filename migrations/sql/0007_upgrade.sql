-- 0007: pg_stat_statements for the ops screen's Queries tab. Creating it needs a superuser (or a
-- managed service's equivalent); where the server refuses, the migration says so and carries on,
-- and the Queries tab explains what is missing.
do $$
begin
    create extension if not exists pg_stat_statements;
exception when insufficient_privilege or undefined_file or feature_not_supported then
    raise notice 'pg_stat_statements was not installed (%): the Queries tab will say how to add it', sqlerrm;
end
$$;

-- The ops screen's first finding: documents_id_idx (id) duplicates the primary key (id, uploaded_at),
-- which leads with id and serves every lookup by id alone.
drop index documents.documents_id_idx;
