-- 000018: the intake submissions list (GET /intake-submissions) walks lead_intake_raw newest
-- first without sorting the org's whole history.
--
-- intake.ListSubmissions merges two walks in (received_at, id) descending order, the list's
-- order and keyset: the pending backlog down lead_intake_raw_pending_idx (000016), and the
-- finished submissions down one of the indexes below. A status filter picks one walk; a CSV
-- batch's rows come by the unique key (batch_id, row_number, org_id) of 000016.
--
--   lead_intake_raw_finished_idx         an org's finished submissions;
--   lead_intake_raw_source_finished_idx  a source's (a UI shows each source's processed,
--                                        duplicate and rejected submissions); source_id is
--                                        random per source, so it needs no org_id to be
--                                        selective.
--
-- Both are partial on status <> 'pending'. A delivery enters them when process_intake marks it,
-- an update that already writes every index entry anew (lead_id is indexed, so it is never HOT):
-- the gateway's insert pays nothing for them. And no foreign-key check can use them: PostgreSQL
-- checks leads.intake_id with "org_id = $1 AND id = $2" only, which implies no status, whereas a
-- plain index leading with org_id would tie with the primary key on a nearly empty table and
-- could be kept in the generic plan (see 000016 and TestForeignKeyChecksUsePrimaryKey).
--
-- Row-level security is per table (000003): the indexes need nothing of their own.
CREATE INDEX lead_intake_raw_finished_idx ON lead_intake_raw (org_id, received_at, id)
    WHERE status <> 'pending';
COMMENT ON INDEX lead_intake_raw_finished_idx IS 'GET /intake-submissions: an org''s processed, duplicate and rejected submissions, newest first.';
CREATE INDEX lead_intake_raw_source_finished_idx ON lead_intake_raw (source_id, received_at, id)
    WHERE source_id IS NOT NULL AND status <> 'pending';
COMMENT ON INDEX lead_intake_raw_source_finished_idx IS 'GET /intake-submissions?sourceId=: a source''s processed, duplicate and rejected submissions, newest first.';
