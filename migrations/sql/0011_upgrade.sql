-- An upload stores its object between two transactions: the one that checks the file and the one
-- that records it. A claim, committed by the first under the content's lock and removed by the
-- second, tells every remover of objects (a failed upload's clean-up, a purge, reconcile --fix)
-- that the content's object is about to be recorded and must stay. A claim left by a killed
-- process only keeps an object; reconcile --fix drops claims older than its grace period.
-- Not audited: a claim lives for the seconds an upload takes and records no decision; the staged
-- row that follows it is audited.
create table staging.upload_claims (
    id bigint generated always as identity primary key,
    checksum text not null,              -- no foreign key: the content's row may not exist yet
    claimed_at timestamptz not null default now(),
    claimed_by bigint default system.current_actor()  -- who uploads; no foreign key, as in the audit log
);
create index upload_claims_checksum_idx on staging.upload_claims (checksum);
