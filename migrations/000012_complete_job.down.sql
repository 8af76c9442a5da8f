DROP FUNCTION IF EXISTS complete_job(uuid, bigint, text, int, int);
