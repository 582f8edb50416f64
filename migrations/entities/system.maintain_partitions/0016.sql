CREATE OR REPLACE FUNCTION system.maintain_partitions(p_parent text, p_ahead integer, p_back integer DEFAULT 0, p_retain integer DEFAULT NULL::integer)
 RETURNS TABLE(action text, partition_name text, detail text)
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
declare
    v_parent regclass;
    v_policy system.partition_policy;
    v_now timestamptz;
    v_step interval;
    v_from timestamptz;
    v_moved bigint;
    v_default regclass;
    v_default_rows bigint;
    v_part record;
begin
    if not (system.actor_sees_all() or system.actor_is_owner_login()) then
        raise exception 'Only administrators may create or detach partitions.' using errcode = 'PS403';
    end if;
    select p.* into v_policy from system.partition_policy p where p.parent_table = p_parent;
    if v_policy is null then
        raise exception 'Not a partitioned table of ProSync: %.', p_parent using errcode = 'PS400';
    end if;
    v_parent := p_parent::regclass;
    if p_ahead not between 0 and 120 or coalesce(p_back, 0) not between 0 and 120
            or coalesce(p_retain, 1) not between 1 and 1200 then
        raise exception 'Partitions are made 0 to 120 periods ahead and back, and kept for at least one period.'
            using errcode = 'PS400';
    end if;
    v_step := system.period_step(v_policy.period);
    v_now := system.period_start(v_policy.period, pg_catalog.now());
    select pt.partdefid::regclass into strict v_default
    from pg_catalog.pg_partitioned_table pt where pt.partrelid = v_parent;

    execute pg_catalog.format('select count(*) from %s', v_default) into v_default_rows;
    if v_default_rows > 0 then
        action := 'default_rows';
        partition_name := v_default::text;
        detail := v_default_rows || ' row(s) outside every partition';
        return next;
    end if;

    for i in -coalesce(p_back, 0) .. p_ahead loop
        v_from := v_now + v_step * i;
        v_moved := system.create_partition(v_parent::text, v_from);
        if v_moved is not null then
            action := 'created';
            partition_name := v_parent::text || ' ' || pg_catalog.to_char(v_from at time zone 'UTC', 'YYYY-MM-DD');
            detail := case when v_moved > 0 then v_moved || ' row(s) moved in from DEFAULT'
                           else 'empty' end;
            return next;
        end if;
    end loop;

    if p_retain is not null then
        for v_part in
            select i.inhrelid::regclass as name
            from pg_catalog.pg_inherits i
            join pg_catalog.pg_class c on c.oid = i.inhrelid
            where i.inhparent = v_parent and i.inhrelid <> v_default
              and (pg_catalog.regexp_match(pg_catalog.pg_get_expr(c.relpartbound, c.oid), $r$TO \('([^']+)'\)$r$))[1]::timestamptz
                  <= v_now - v_step * p_retain
            order by 1
        loop
            execute pg_catalog.format('alter table %s detach partition %s', v_parent, v_part.name);
            action := 'detached';
            partition_name := v_part.name::text;
            detail := 'older than ' || p_retain || ' ' || v_policy.period || '(s); kept as a table';
            return next;
        end loop;
    end if;
end
$function$;
grant execute on function system.maintain_partitions(text,integer,integer,integer) to prosync_app;
