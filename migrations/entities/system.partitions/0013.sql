create or replace view system.partitions with (security_invoker=true) as
 SELECT pt.partrelid::regclass::text AS parent_table,
    c.oid::regclass::text AS partition_name,
    pg_get_expr(c.relpartbound, c.oid) = 'DEFAULT'::text AS is_default,
    (regexp_match(pg_get_expr(c.relpartbound, c.oid), 'FROM \(''([^'']+)''\)'::text))[1]::timestamp with time zone AS range_from,
    (regexp_match(pg_get_expr(c.relpartbound, c.oid), 'TO \(''([^'']+)''\)'::text))[1]::timestamp with time zone AS range_to,
        CASE
            WHEN c.reltuples >= 0::double precision THEN c.reltuples::bigint
            ELSE NULL::bigint
        END AS estimated_rows,
    pg_total_relation_size(c.oid::regclass) AS total_bytes,
    c.reloptions
   FROM pg_partitioned_table pt
     JOIN pg_inherits i ON i.inhparent = pt.partrelid
     JOIN pg_class c ON c.oid = i.inhrelid
     JOIN system.partition_policy pp ON pp.parent_table = pt.partrelid::regclass::text;
