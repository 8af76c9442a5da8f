DROP INDEX IF EXISTS job_logs_finished_brin;
