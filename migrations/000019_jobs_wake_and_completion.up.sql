-- 000019: one completion function for every path, and a deferred wake-up that no writer can forget.
--
-- Wake-up: a transaction that deferred the workers' NOTIFY (app.jobs_notify = 'deferred', 000010)
-- owes them one after its commit. The insert trigger now records that debt itself: when its
-- statement inserted at least one job (the transition table is not empty) it sets the
-- transaction-local app.jobs_inserted to 'on'. Whoever commits such a transaction (the jobs
-- package's completion, the intake acceptor's pipeline) reads the setting back in the same round
-- trip as its last statement and wakes the workers after the commit; no caller marks anything.
-- A rolled-back savepoint takes its setting with it, as it takes its rows.
CREATE OR REPLACE FUNCTION jobs_notify_inserted() RETURNS trigger
    LANGUAGE plpgsql AS
$$
BEGIN
    IF coalesce(current_setting('app.jobs_notify', true), '') <> 'deferred' THEN
        PERFORM pg_notify('jobs_inserted', '');
    ELSIF EXISTS (SELECT 1 FROM inserted_jobs) THEN
        PERFORM set_config('app.jobs_inserted', 'on', true);
    END IF;
    RETURN NULL;
END;
$$;

DROP TRIGGER jobs_notify_insert ON jobs;
CREATE TRIGGER jobs_notify_insert
    AFTER INSERT ON jobs
    REFERENCING NEW TABLE AS inserted_jobs
    FOR EACH STATEMENT EXECUTE FUNCTION jobs_notify_inserted();

-- Completion: one function for a batch of attempts, a single attempt being a batch of one. Each
-- row is fenced on its claim (status, locked_by, attempts) and logged. With p_all_or_none it
-- raises SQLSTATE CJ001 (jobs.ErrLeaseLost) unless every attempt still held its job, which
-- aborts the transaction, so a COMMIT sent behind it in the same pipeline keeps nothing; without
-- it, it completes what is still held. It returns the ids of the jobs it completed.
CREATE FUNCTION complete_jobs(p_org_ids uuid[], p_ids bigint[], p_locked_by text[], p_attempts int[],
                              p_durations_ms int[], p_all_or_none boolean)
    RETURNS bigint[]
    LANGUAGE plpgsql AS
$$
DECLARE
    v_done bigint[];
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
        RETURNING job_id
    )
    SELECT coalesce(array_agg(job_id), '{}') INTO v_done FROM logged;
    IF p_all_or_none AND cardinality(v_done) <> coalesce(cardinality(p_ids), 0) THEN
        RAISE EXCEPTION '% of % jobs are no longer held by their attempts',
            coalesce(cardinality(p_ids), 0) - cardinality(v_done), coalesce(cardinality(p_ids), 0)
            USING ERRCODE = 'CJ001';
    END IF;
    RETURN v_done;
END;
$$;

COMMENT ON FUNCTION complete_jobs(uuid[], bigint[], text[], int[], int[], boolean) IS
    'Completes running jobs, each held by its (locked_by, attempt), logs them and returns their ids; with p_all_or_none raises CJ001 unless every one was still held.';

DROP FUNCTION complete_jobs(uuid[], bigint[], text[], int[], int[]);
DROP FUNCTION complete_job(uuid, bigint, text, int, int);
