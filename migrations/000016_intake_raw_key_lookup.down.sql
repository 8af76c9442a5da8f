DROP INDEX IF EXISTS lead_intake_raw_pending_idx;
CREATE INDEX lead_intake_raw_org_id_status_received_at_idx ON lead_intake_raw (org_id, status, received_at);
ALTER TABLE lead_intake_raw DROP CONSTRAINT lead_intake_raw_batch_id_row_number_key;
ALTER TABLE lead_intake_raw ADD CONSTRAINT lead_intake_raw_org_id_batch_id_row_number_key
    UNIQUE (org_id, batch_id, row_number);
ALTER TABLE lead_intake_raw DROP CONSTRAINT lead_intake_raw_delivery_key_key;
ALTER TABLE lead_intake_raw ADD CONSTRAINT lead_intake_raw_org_id_source_id_delivery_key_key
    UNIQUE NULLS NOT DISTINCT (org_id, source_id, delivery_key);
