-- 000013: job_logs_list_idx (org_id, id DESC) repeats the primary key (org_id, id), which
-- PostgreSQL scans backwards just as well for "newest first" (jobs.ListLogs). Every finished
-- attempt wrote an entry into both; now into one.
DROP INDEX IF EXISTS job_logs_list_idx;
