-- 000016: the foreign-key check of leads.intake_id reaches the raw row by its primary key alone.
--
-- PostgreSQL checks a foreign key with "SELECT 1 FROM ONLY lead_intake_raw x WHERE org_id = $1
-- AND id = $2 FOR KEY SHARE OF x", and each backend keeps the generic plan it made the first time
-- (until the table is next analysed). Any index of the table that leads with org_id and is not
-- partial matches that query too. Planned while the table was nearly empty, as it is in a new
-- install's first minute of intake, (org_id, status, received_at) cost the same as the primary
-- key and won: a pipeline benchmark caught one worker backend walking every raw row of the org
-- per new lead through it (4,243 buffers for one check at 5,000 rows).
--
-- The two unique keys now lead with the delivery's own columns: they serve the same look-ups
-- (equality on every column; the duplicate-delivery reads of pkg/intake and the ON CONFLICT of
-- the accept, which names no index), and a look-up by org alone is left to the primary key.
-- The (org_id, status, received_at) index, which no query used, becomes an index of the pending
-- backlog only: processed rows leave it, so marking a row processed no longer adds an entry.
-- TestForeignKeyChecksUsePrimaryKey checks the plan.
ALTER TABLE lead_intake_raw DROP CONSTRAINT lead_intake_raw_org_id_source_id_delivery_key_key;
ALTER TABLE lead_intake_raw ADD CONSTRAINT lead_intake_raw_delivery_key_key
    UNIQUE NULLS NOT DISTINCT (delivery_key, source_id, org_id);
ALTER TABLE lead_intake_raw DROP CONSTRAINT lead_intake_raw_org_id_batch_id_row_number_key;
ALTER TABLE lead_intake_raw ADD CONSTRAINT lead_intake_raw_batch_id_row_number_key
    UNIQUE (batch_id, row_number, org_id);
DROP INDEX lead_intake_raw_org_id_status_received_at_idx;
CREATE INDEX lead_intake_raw_pending_idx ON lead_intake_raw (org_id, received_at) WHERE status = 'pending';
COMMENT ON INDEX lead_intake_raw_pending_idx IS 'The pending backlog of an org, oldest first.';
