CREATE OR REPLACE FUNCTION system.create_partition(p_parent text, p_from timestamp with time zone)
 RETURNS bigint
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
declare
    v_parent regclass := p_parent::regclass;
    v_policy system.partition_policy;
    v_schema text;
    v_table text;
    v_default regclass;
    v_to timestamptz;
    v_name text;
    v_key text;
    v_option text;
    v_with text := '';
    v_moved bigint := 0;
begin
    select * into strict v_policy from system.partition_policy where parent_table = v_parent::text;
    select n.nspname, c.relname, pt.partdefid::regclass into strict v_schema, v_table, v_default
    from pg_catalog.pg_class c
    join pg_catalog.pg_namespace n on n.oid = c.relnamespace
    join pg_catalog.pg_partitioned_table pt on pt.partrelid = c.oid
    where c.oid = v_parent;
    v_to := p_from + system.period_step(v_policy.period);
    v_name := v_table || '_p' || case v_policy.period
        when 'month' then pg_catalog.to_char(p_from at time zone 'UTC', 'YYYY_MM')
        else pg_catalog.to_char(p_from at time zone 'UTC', 'YYYY"q"Q') end;
    if pg_catalog.to_regclass(pg_catalog.format('%I.%I', v_schema, v_name)) is not null then
        return null;
    end if;
    foreach v_option in array v_policy.storage_options loop
        -- Checked again here (the table's constraint could be dropped): name=value, plain words.
        if v_option !~ '^[a-z_]+=[A-Za-z0-9_.]+$' then
            raise exception 'storage option % of % is not name=value', pg_catalog.quote_literal(v_option), v_parent
                using errcode = 'PS400';
        end if;
        v_with := v_with || case when v_with = '' then '' else ', ' end
            || pg_catalog.format('%I = %L', pg_catalog.split_part(v_option, '=', 1), pg_catalog.split_part(v_option, '=', 2));
    end loop;
    if v_with <> '' then
        v_with := ' with (' || v_with || ')';
    end if;
    select a.attname into strict v_key
    from pg_catalog.pg_partitioned_table pt
    join pg_catalog.pg_attribute a on a.attrelid = pt.partrelid and a.attnum = pt.partattrs[0]
    where pt.partrelid = v_parent;

    execute pg_catalog.format('select count(*) from %s where %I >= $1 and %I < $2', v_default, v_key, v_key)
        into v_moved using p_from, v_to;
    if v_moved = 0 then
        execute pg_catalog.format('create table %I.%I partition of %s for values from (%L) to (%L)%s',
                                  v_schema, v_name, v_parent, p_from, v_to, v_with);
    else
        -- Build the partition beside the table, move the stray rows out of DEFAULT, then attach
        -- (ATTACH refuses a range that DEFAULT still holds rows of).
        execute pg_catalog.format('create table %I.%I (like %s including defaults including constraints'
                                  ' including storage including comments)%s',
                                  v_schema, v_name, v_parent, v_with);
        execute pg_catalog.format('with moved as (delete from %s where %I >= $1 and %I < $2 returning *)'
                                  ' insert into %I.%I select * from moved',
                                  v_default, v_key, v_key, v_schema, v_name)
            using p_from, v_to;
        execute pg_catalog.format('alter table %s attach partition %I.%I for values from (%L) to (%L)',
                                  v_parent, v_schema, v_name, p_from, v_to);
    end if;
    return v_moved;
end
$function$;
