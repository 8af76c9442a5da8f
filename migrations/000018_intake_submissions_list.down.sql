DROP INDEX IF EXISTS lead_intake_raw_source_finished_idx;
DROP INDEX IF EXISTS lead_intake_raw_finished_idx;
