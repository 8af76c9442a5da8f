-- 000012: the fenced completion of a job as one function that fails when the attempt has lost
-- its lease.
--
-- A handler's writes and its job's completion commit together (R7). The worker sends the
-- completion and the COMMIT to the server in one round trip (jobs.Run.CompleteInTx), so the
-- completion must not merely find no row when the attempt no longer holds the job (the reaper
-- took it back, or it was released): it must fail, which aborts the transaction and turns the
-- COMMIT queued behind it into nothing. complete_job raises SQLSTATE CJ001 in that case
-- (jobs.ErrLeaseLost in Go); otherwise it completes the job and logs the attempt, as the
-- statement it replaces did.
CREATE FUNCTION complete_job(p_org_id uuid, p_id bigint, p_locked_by text, p_attempt int, p_duration_ms int)
    RETURNS void
    LANGUAGE plpgsql AS
$$
DECLARE
    v_type text;
BEGIN
    UPDATE jobs
    SET status = 'completed', completed_at = now(), locked_at = NULL, last_error = NULL
    WHERE org_id = p_org_id AND id = p_id AND status = 'running' AND locked_by = p_locked_by AND attempts = p_attempt
    RETURNING job_type INTO v_type;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'job % is no longer held by attempt % of %', p_id, p_attempt, p_locked_by
            USING ERRCODE = 'CJ001';
    END IF;
    INSERT INTO job_logs (org_id, job_id, job_type, attempt, worker, outcome, duration_ms)
    VALUES (p_org_id, p_id, v_type, p_attempt, p_locked_by, 'completed', p_duration_ms);
END;
$$;

COMMENT ON FUNCTION complete_job(uuid, bigint, text, int, int) IS
    'Completes a running job held by (locked_by, attempt) and logs it; raises CJ001 when the attempt no longer holds the job.';
