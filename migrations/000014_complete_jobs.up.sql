-- 000014: the fenced completion of several jobs of one transaction as one function that fails
-- unless every attempt still holds its job.
--
-- A worker may run the claimed jobs of one org in one transaction (jobs.Batch): every job's
-- writes, and then all of their completions, commit together, and the completions travel to
-- the server with the COMMIT in one round trip, as complete_job's does (migration 000012).
-- complete_jobs completes and logs them in one statement; when any attempt no longer holds its
-- job it raises SQLSTATE CJ001 (jobs.ErrLeaseLost), which aborts the transaction, so the COMMIT
-- queued behind it does nothing and none of the batch's writes is kept. The worker then runs the
-- jobs one at a time, where the attempt that lost its lease is dropped alone.
--
-- The arrays are parallel, one element per attempt, and name each job once.
CREATE FUNCTION complete_jobs(p_org_ids uuid[], p_ids bigint[], p_locked_by text[], p_attempts int[], p_durations_ms int[])
    RETURNS void
    LANGUAGE plpgsql AS
$$
DECLARE
    v_done int;
BEGIN
    WITH done AS (
        UPDATE jobs j
        SET status = 'completed', completed_at = now(), locked_at = NULL, last_error = NULL
        FROM unnest(p_org_ids, p_ids, p_locked_by, p_attempts, p_durations_ms) AS c(org_id, id, locked_by, attempt, duration_ms)
        WHERE j.org_id = ANY(p_org_ids) AND j.id = ANY(p_ids) -- the look-up by primary key, whatever the statistics
          AND j.org_id = c.org_id AND j.id = c.id
          AND j.status = 'running' AND j.locked_by = c.locked_by AND j.attempts = c.attempt
        RETURNING j.org_id, j.id, j.job_type, j.attempts, j.locked_by, c.duration_ms
    ), logged AS (
        INSERT INTO job_logs (org_id, job_id, job_type, attempt, worker, outcome, duration_ms)
        SELECT org_id, id, job_type, attempts, locked_by, 'completed', duration_ms FROM done
        RETURNING 1
    )
    SELECT count(*) INTO v_done FROM logged;
    IF v_done <> coalesce(cardinality(p_ids), 0) THEN
        RAISE EXCEPTION '% of % jobs are no longer held by their attempts', coalesce(cardinality(p_ids), 0) - v_done, coalesce(cardinality(p_ids), 0)
            USING ERRCODE = 'CJ001';
    END IF;
END;
$$;

COMMENT ON FUNCTION complete_jobs(uuid[], bigint[], text[], int[], int[]) IS
    'Completes running jobs, each held by its (locked_by, attempt), and logs them; raises CJ001 unless every one was still held.';
