CREATE INDEX IF NOT EXISTS job_logs_list_idx ON job_logs (org_id, id DESC);
