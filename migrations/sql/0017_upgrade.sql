-- 0017: sign-in resists abuse.
--
-- Found: the address lookup folded case in SQL and the throttle in Python (`vİewer@` signed in as
-- viewer@ under a fresh throttle key); the failure count was read, then written, so 40 guesses at
-- once were 18 password checks, not 5; and any five wrong guesses locked the owner out too.
--
-- Now: one canonical form of an e-mail address, users.login_key(), for lookup, uniqueness and
-- throttling; attempts counted per key (the account, the client's address, or a browser that
-- signed in as that user before: OWASP's device cookie) with one atomic upsert each, before the
-- password is checked, so that concurrent guesses cannot overtake the count.

-- The canonical form: trimmed, NFKC-normalised and lowercased (then normalised again, as lowering
-- can un-normalise). Defined here only: lookup, the unique index and the throttle all call it.
create function users.login_key(p_login text) returns text
language sql immutable strict parallel safe
set search_path = ''
as $$
    select normalize(pg_catalog.lower(normalize(pg_catalog.btrim(p_login), nfkc)), nfkc)
$$;
comment on function users.login_key(text) is
    'The one canonical form of an e-mail address, for lookup, uniqueness and sign-in throttling';

drop index users.users_login_lower_key;
create unique index users_login_lower_key on users.users (users.login_key(login));

-- Sign-in attempts per key in a fixed window. A row per key: the account ('account:' || login
-- key), the client's address ('address:' || address, IPv6 by /64), or a device cookie ('device:' ||
-- its id). Only counts: no password, no address of a known user beyond what the audit log holds.
create table auth.sign_in_attempts (
    key text primary key check (pg_catalog.length(key) <= 600),
    attempts integer not null check (attempts >= 0),
    window_started_at timestamptz not null
);

-- Count one attempt for each key, atomically (the upsert holds each key's row until the
-- transaction ends; keys in a fixed order, so two attempts cannot deadlock). Returns each key's
-- attempts in its window, this one included, and the seconds until that window ends.
create function auth.count_sign_in_attempt(p_keys text[], p_window interval)
returns table (key text, attempts integer, retry_after_seconds integer)
language plpgsql
security definer
set search_path = ''
as $$
#variable_conflict use_column
begin
    if p_window is null or p_window < interval '1 second' or p_window > interval '1 day'
            or pg_catalog.cardinality(p_keys) not between 1 and 3 then
        raise exception 'A sign-in attempt counts against one to three keys in a window of up to a day.'
            using errcode = 'PS400';
    end if;
    return query
    insert into auth.sign_in_attempts as a (key, attempts, window_started_at)
    select k, 1, pg_catalog.now() from (select distinct unnest(p_keys) as k order by 1) keys
    on conflict on constraint sign_in_attempts_pkey do update
        set attempts = case when a.window_started_at <= pg_catalog.now() - p_window then 1 else a.attempts + 1 end,
            window_started_at = case when a.window_started_at <= pg_catalog.now() - p_window
                                     then pg_catalog.now() else a.window_started_at end
    returning a.key, a.attempts,
        greatest(1, ceil(extract(epoch from a.window_started_at + p_window - pg_catalog.now())))::integer;
end
$$;

-- After an attempt that was not a failure (the password was right, or it was never checked):
-- take its count back from these keys, and forget the keys in p_reset (the device that just
-- signed in is trusted afresh). Windows that ended a day ago are of no use to anyone: each call
-- drops them (an index range scan, nothing to do most of the time), so the table holds only the
-- last day's keys.
create function auth.forgive_sign_in_attempt(p_keys text[], p_reset text[] default '{}')
returns void
language sql
security definer
set search_path = ''
as $$
    update auth.sign_in_attempts set attempts = greatest(attempts - 1, 0) where key = any (p_keys);
    delete from auth.sign_in_attempts
    where key = any (p_reset) or window_started_at < pg_catalog.now() - interval '1 day';
$$;

create index sign_in_attempts_window_idx on auth.sign_in_attempts (window_started_at);

-- Failures were counted from the audit log (revision 0014); the attempts table replaces it.
drop function audit.recent_sign_in_failures(text, interval);

grant execute on function users.login_key(text) to prosync_app;
grant execute on function
    auth.count_sign_in_attempt(text[], interval), auth.forgive_sign_in_attempt(text[], text[])
    to prosync_app;
