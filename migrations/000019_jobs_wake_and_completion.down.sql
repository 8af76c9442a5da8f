-- The completion functions of 000012 and 000014 and the trigger of 000010 again.
DROP FUNCTION IF EXISTS jobs_lease_lost(bigint, int);

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

DROP TRIGGER jobs_notify_insert ON jobs;
CREATE TRIGGER jobs_notify_insert
    AFTER INSERT ON jobs
    FOR EACH STATEMENT EXECUTE FUNCTION jobs_notify_inserted();

CREATE OR REPLACE FUNCTION jobs_notify_inserted() RETURNS trigger
    LANGUAGE plpgsql AS
$$
BEGIN
    IF coalesce(current_setting('app.jobs_notify', true), '') <> 'deferred' THEN
        PERFORM pg_notify('jobs_inserted', '');
    END IF;
    RETURN NULL;
END;
$$;
