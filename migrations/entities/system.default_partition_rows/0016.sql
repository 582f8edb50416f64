CREATE OR REPLACE FUNCTION system.default_partition_rows(p_parent text)
 RETURNS bigint
 LANGUAGE plpgsql
 STABLE SECURITY DEFINER
 SET search_path TO ''
AS $function$
declare
    v_default regclass;
    n bigint;
begin
    if not (system.actor_is_ops() or system.actor_is_owner_login()) then
        raise exception 'Only ops people and administrators may see database health.' using errcode = 'PS403';
    end if;
    select pt.partdefid::regclass into v_default
    from pg_catalog.pg_partitioned_table pt
    join system.partition_policy pp on pp.parent_table = pt.partrelid::regclass::text
    where pp.parent_table = p_parent;
    if v_default is null then
        raise exception 'Not a partitioned table of ProSync: %.', p_parent using errcode = 'PS400';
    end if;
    execute pg_catalog.format('select count(*) from %s', v_default) into n;
    return n;
end
$function$;
grant execute on function system.default_partition_rows(text) to prosync_app;
