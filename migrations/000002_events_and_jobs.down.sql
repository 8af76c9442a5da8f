DROP TABLE IF EXISTS job_logs;
DROP TABLE IF EXISTS dead_letter_jobs;
DROP TRIGGER IF EXISTS jobs_notify_insert ON jobs;
DROP TABLE IF EXISTS jobs;
DROP FUNCTION IF EXISTS jobs_notify_inserted();
DROP TABLE IF EXISTS events;
DROP FUNCTION IF EXISTS events_append_only();
