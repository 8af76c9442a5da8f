DROP INDEX IF EXISTS reports_org_id_period_start_idx;
ALTER TABLE reports DROP COLUMN IF EXISTS document;
