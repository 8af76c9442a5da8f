DROP FUNCTION IF EXISTS complete_jobs(uuid[], bigint[], text[], int[], int[]);
